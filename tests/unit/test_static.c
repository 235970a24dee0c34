/*
 * proto/websocket/static: files below a directory descriptor, and every way
 * of trying to leave it (.., %2e%2e, NUL, symlinks out, hidden names).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../proto/websocket/static.h"
#include "check.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int open_status(int dirfd, const char *path)
{
	struct static_file f;
	int rc = static_open(dirfd, path, strlen(path), &f);
	static_close(&f);
	return rc;
}

static struct http_request req;

static void request(const char *text)
{
	memset(&req, 0, sizeof req);
	http_parse_request(text, strlen(text), &req);
}

static void test_escapes(int d)
{
	CHECK("static: a file below the root is found", open_status(d, "/a.txt") == 0);
	CHECK("static: a file in a subfolder is found", open_status(d, "/sub/b.css") == 0);
	CHECK("static: percent escapes are decoded", open_status(d, "/%61.txt") == 0);
	CHECK("static: / means index.html", open_status(d, "/") == 0);
	CHECK("static: a folder path ending in / without an index.html is 404", open_status(d, "/sub/") == 404);
	CHECK("static: a folder itself is 404", open_status(d, "/sub") == 404);
	CHECK("static: a missing file is 404", open_status(d, "/nope.txt") == 404);
	CHECK("static: .. is 404", open_status(d, "/../etc/passwd") == 404);
	CHECK("static: .. inside is 404", open_status(d, "/sub/../a.txt") == 404);
	CHECK("static: %2e%2e is 404", open_status(d, "/%2e%2e/etc/passwd") == 404);
	CHECK("static: %2E%2E/ mixed case is 404", open_status(d, "/sub/%2E%2E/a.txt") == 404);
	CHECK("static: an encoded slash cannot hide ..", open_status(d, "/sub%2f..%2fa.txt") == 404);
	CHECK("static: NUL is 400", open_status(d, "/a.txt%00.html") == 400);
	CHECK("static: a bad escape is 400", open_status(d, "/a%zz") == 400);
	CHECK("static: a cut escape is 400", open_status(d, "/a%2") == 400);
	CHECK("static: hidden files are 404", open_status(d, "/.secret") == 404);
	CHECK("static: an empty segment is 404", open_status(d, "/sub//b.css") == 404);
	CHECK("static: a backslash is 404", open_status(d, "/sub\\b.css") == 404);
	CHECK("static: an absolute symlink is refused", open_status(d, "/abs") == 404);
	CHECK("static: a relative symlink out of the root is refused", open_status(d, "/out") == 404);
	CHECK("static: a symlink that stays inside is followed", open_status(d, "/in.txt") == 0);
	CHECK("static: a path without a leading / is 404", open_status(d, "a.txt") == 404);
	char longp[STATIC_MAX_PATH + 64] = "/";
	memset(longp + 1, 'x', sizeof longp - 2);
	longp[sizeof longp - 1] = 0;
	CHECK("static: an over-long path is 404", open_status(d, longp) == 404);
}

static void test_responses(int d)
{
	struct static_file f;
	struct buf out = {0};
	bool body;
	CHECK("static: open index.html", static_open(d, "/", 1, &f) == 0);
	request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK("static: GET gives 200", static_head(&out, &f, &req, true, &body) == 200 && body);
	out.data[out.len] = 0; /* buf_printf leaves room for the NUL */
	const char *h = (const char *)out.data;
	CHECK("static: Content-Type of .html", strstr(h, "Content-Type: text/html; charset=utf-8\r\n") != NULL);
	CHECK("static: Content-Length", strstr(h, "Content-Length: 11\r\n") != NULL);
	CHECK("static: keep-alive said", strstr(h, "Connection: keep-alive\r\n") != NULL);
	char etag[64], inm[160];
	snprintf(etag, sizeof etag, "%s", f.etag);
	size_t headlen = out.len;
	while (static_read(&f, &out, 4) > 0)
		;
	CHECK("static: the body follows the head, read in pieces",
	      out.len - headlen == 11 && memcmp(out.data + headlen, "<p>home</p>", 11) == 0);
	static_close(&f);

	buf_reset(&out);
	static_open(d, "/", 1, &f);
	snprintf(inm, sizeof inm, "GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"zz\", W/%s\r\n\r\n", etag);
	request(inm);
	CHECK("static: If-None-Match with its ETag gives 304 without a body",
	      static_head(&out, &f, &req, false, &body) == 304 && !body);
	static_close(&f);

	buf_reset(&out);
	static_open(d, "/a.txt", 6, &f);
	request("HEAD /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\"\r\n\r\n");
	CHECK("static: HEAD gives 200 without a body", static_head(&out, &f, &req, false, &body) == 200 && !body);
	out.data[out.len] = 0;
	CHECK("static: HEAD keeps Content-Length", strstr((char *)out.data, "Content-Length: 5\r\n") != NULL);
	CHECK("static: a different ETag is not a match", strstr((char *)out.data, "200 OK") != NULL);
	static_close(&f);
	buf_free(&out);

	CHECK("static: type of .js", strcmp(static_content_type("x/app.JS", 8), "text/javascript; charset=utf-8") == 0);
	CHECK("static: unknown type", strcmp(static_content_type("x/file", 6), "application/octet-stream") == 0);
	CHECK("static: a dot in a folder name is no extension",
	      strcmp(static_content_type("a.css/file", 10), "application/octet-stream") == 0);
}

void test_static(void)
{
	snprintf(root, sizeof root, "/tmp/sb-static-XXXXXX");
	if (!mkdtemp(root)) {
		CHECK("static: temporary folder", 0);
		return;
	}
	char p[256], q[256];
	snprintf(p, sizeof p, "%s/sub", root);
	mkdir(p, 0755);
	put("index.html", "<p>home</p>");
	put("a.txt", "hello");
	put(".secret", "no");
	put("sub/b.css", "b{}");
	snprintf(p, sizeof p, "%s/abs", root);
	CHECK("static: symlink set-up", symlink("/etc/passwd", p) == 0);
	snprintf(p, sizeof p, "%s/out", root);
	symlink("../../etc/passwd", p);
	snprintf(p, sizeof p, "%s/in.txt", root);
	symlink("sub/b.css", p);
	int d = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	test_escapes(d);
	test_responses(d);
	close(d);
	snprintf(q, sizeof q, "rm -rf '%s'", root);
	if (system(q) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}
