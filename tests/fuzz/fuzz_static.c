/*
 * Static file look-ups: static_open on arbitrary request paths against a
 * small tree with a secret file just outside it. Whatever the path, the only
 * files ever opened are the ones inside the tree, and the status is one of
 * 0, 400 or 404.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../proto/websocket/static.h"

static int dirfd_ = -1;
static char top[] = "/tmp/sb-fuzz-static-XXXXXX";

static void cleanup(void)
{
	static const char *const names[] = {"www/sub/a.js", "www/index.html", "www/up", "www/sub", "www", "secret"};
	char p[128];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", top, names[i]);
		if (unlink(p) < 0)
			rmdir(p);
	}
	rmdir(top);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	char p[128];
	if (!mkdtemp(top))
		abort();
	atexit(cleanup);
	snprintf(p, sizeof p, "%s/secret", top);
	put(p, "SECRET");
	snprintf(p, sizeof p, "%s/www", top);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/www/sub", top);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/www/index.html", top);
	put(p, "inside");
	snprintf(p, sizeof p, "%s/www/sub/a.js", top);
	put(p, "inside");
	snprintf(p, sizeof p, "%s/www/up", top);
	if (symlink("../secret", p) < 0)
		abort();
	snprintf(p, sizeof p, "%s/www", top);
	dirfd_ = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_ < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dirfd_ < 0)
		setup();
	struct static_file f;
	int rc = static_open(dirfd_, (const char *)data, size, &f);
	if (rc != 0 && rc != 400 && rc != 404)
		abort();
	if (rc == 0) {
		char got[16] = {0};
		if (pread(f.fd, got, sizeof got - 1, 0) < 0 || strcmp(got, "inside") != 0)
			abort(); /* opened something outside the tree */
	}
	static_close(&f);
	return 0;
}
