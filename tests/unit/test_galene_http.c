/* proto/galene/http_path.c: the request paths of Galène's HTTP surface,
 * against what Go's path.Clean and url.PathUnescape give. */
#include <string.h>

#include "../../proto/galene/http.h"
#include "check.h"

static bool cleans(const char *in, const char *want)
{
	char p[256];
	strcpy(p, in);
	size_t n = galene_path_clean(p);
	return strcmp(p, want) == 0 && n == strlen(want);
}

static bool decodes(const char *in, const char *want)
{
	char out[64];
	return galene_path_decode(in, out, sizeof out) == 0 && strcmp(out, want) == 0;
}

static bool escapes(const char *in, const char *want)
{
	struct buf b = {0};
	bool ok = galene_url_escape(&b, in) == 0 && buf_append(&b, "", 1) == 0 && strcmp((char *)buf_head(&b), want) == 0;
	buf_free(&b);
	return ok;
}

void test_galene_http(void)
{
	CHECK("galene path: clean paths stay", cleans("/test", "/test") && cleans("/a/b", "/a/b") && cleans("/", "/"));
	CHECK("galene path: trailing and doubled slashes go", cleans("/test/", "/test") && cleans("//a//b//", "/a/b"));
	CHECK("galene path: . segments go", cleans("/./a/./b/.", "/a/b") && cleans("/.", "/"));
	CHECK("galene path: .. removes the segment before, never above /",
	      cleans("/a/../b", "/b") && cleans("/../../etc", "/etc") && cleans("/a/b/..", "/a") && cleans("/..", "/"));
	CHECK("galene path: names that only look like dots stay", cleans("/...", "/...") && cleans("/.a/..b", "/.a/..b"));
	CHECK("galene path: %XX decoded, either case", decodes("/room%20one", "/room one") && decodes("%2e%2E", "..") &&
							     decodes("%c3%a9", "\xc3\xa9"));
	char out[8];
	CHECK("galene path: bad escapes, NUL and overlong refused",
	      galene_path_decode("%", out, sizeof out) < 0 && galene_path_decode("%4", out, sizeof out) < 0 &&
		      galene_path_decode("%zz", out, sizeof out) < 0 && galene_path_decode("a%00b", out, sizeof out) < 0 &&
		      galene_path_decode("12345678", out, sizeof out) < 0 && galene_path_decode("1234567", out, sizeof out) == 0);
	CHECK("galene path: names escaped back into URLs", escapes("sub/room one", "sub/room%20one") &&
							       escapes("a\"<b>", "a%22%3Cb%3E") && escapes("x-y_z.~", "x-y_z.~"));
}
