/*
 * Galène's HTTP surface, worker half: the files of --galene-static with
 * Galène's caching headers (max-age=1800, a day under /fonts/, /scripts/
 * and /css/; an ETag to revalidate), and the requests that need the group
 * files, handed to the router half (http_router.c): /group/<name>/ and its
 * .status, and /public-groups.json. The directory is opened before the
 * sandbox, in the set-up hook (worker/http.c says why files are safe here).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../../common/log.h"
#include "galene.h"
#include "http.h"
#include "options.h"

static int static_fd = -1;

int galene_http_setup(const struct worker_config *cfg)
{
	(void)cfg;
	if (!galene_opt.static_dir)
		return 0;
	static_fd = session_http_dir(galene_opt.static_dir);
	if (static_fd < 0) {
		log_error("--galene-static %s: %s", galene_opt.static_dir, strerror(errno));
		return -1;
	}
	return 0;
}

static bool path_is(const struct http_request *req, const char *p)
{
	return req->path_len == strlen(p) && memcmp(req->path, p, req->path_len) == 0;
}

static bool path_starts(const struct http_request *req, const char *p)
{
	return req->path_len >= strlen(p) && memcmp(req->path, p, strlen(p)) == 0;
}

int galene_http(struct session *s, const struct http_request *req)
{
	static const char *const normal[] = {"Cache-Control", "max-age=1800", "Content-Security-Policy", GALENE_CSP,
					     NULL};
	static const char *const long_lived[] = {"Cache-Control", "max-age=86400", "Content-Security-Policy",
						 GALENE_CSP, NULL};
	if (path_is(req, "/public-groups.json"))
		return session_http_ask_router(s, GALENE_PROTO, -1);
	if (path_starts(req, "/group/"))
		return session_http_ask_router(s, GALENE_PROTO, static_fd); /* galene.html, if the group exists */
	if (static_fd < 0 || path_is(req, GALENE_PATH))
		return 0;
	bool lasting = path_starts(req, "/fonts/") || path_starts(req, "/scripts/") || path_starts(req, "/css/");
	return session_http_file_with(s, static_fd, req->path, req->path_len, lasting ? long_lived : normal);
}
