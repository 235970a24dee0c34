/*
 * The landing page: GET / (and HEAD) answers with a small page of our own
 * that lists the endpoints and has live demos a person can use (a WSChat
 * room, a Messaging inbox between two ids). It is compiled in (index.html,
 * embedded at build time), so serving it needs no file and no router. It
 * takes no WebSocket: match is always false. It is a fallback: a
 * --static-dir with an index.html serves that at / instead, and
 * --no-landing turns the page off (/ is then 404 without such a file).
 */
#include <string.h>

#include "../proto.h"
#include "landing_page.h"
#include "options.h"

static const char page[] = LANDING_PAGE;

static int landing_http(struct session *s, const struct http_request *req)
{
	if (landing_off || req->path_len != 1 || req->path[0] != '/')
		return 0;
	return session_http_reply(s, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

static bool landing_match(const struct http_request *req)
{
	(void)req;
	return false;
}

const struct proto_worker landing_worker = {
	.name = "landing",
	.http_fallback = landing_http,
	.match = landing_match,
};
