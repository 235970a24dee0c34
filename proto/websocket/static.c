/*
 * Plain files for GET and HEAD below one directory descriptor (static.h says
 * why openat2 with RESOLVE_BENEATH).
 */
#include "static.h"
#include "../../common/hex.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>


/* Percent-decodes p into out (NUL-terminated); returns the length or -status. */
static int decode_path(const char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '%') {
			int hi = i + 2 < n ? hex_digit(p[i + 1]) : -1, lo = i + 2 < n ? hex_digit(p[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -400;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return -400;
		if (o + 1 >= cap)
			return -404;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

/*
 * Every segment must be a plain name: no empty, `.` or `..` segment, no
 * hidden name, no backslash. The kernel would keep `..` inside the directory
 * anyway; refusing them here keeps one spelling per file (and so one ETag).
 */
static bool plain_segments(const char *p)
{
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0 || p[0] == '.' || memchr(p, '\\', len))
			return false;
		if (!end)
			return true;
		p = end + 1;
	}
}

static int open_beneath(int dirfd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
}

int static_open(int dirfd, const char *path, size_t n, struct static_file *f)
{
	char rel[STATIC_MAX_PATH + sizeof "index.html"];
	memset(f, 0, sizeof *f);
	f->fd = -1;
	if (n == 0 || path[0] != '/')
		return 404;
	int len = decode_path(path + 1, n - 1, rel, STATIC_MAX_PATH);
	if (len < 0)
		return -len;
	if (len == 0 || rel[len - 1] == '/')
		memcpy(rel + len, "index.html", sizeof "index.html");
	if (!plain_segments(rel))
		return 404;
	int fd = open_beneath(dirfd, rel);
	if (fd < 0)
		return 404;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 404;
	}
	f->fd = fd;
	f->size = st.st_size;
	f->type = static_content_type(rel, strlen(rel));
	snprintf(f->etag, sizeof f->etag, "\"%llx-%llx.%lx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
	return 0;
}

void static_close(struct static_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* If-None-Match: a list of entity tags (weak ones compare by their opaque part), or `*`. */
static bool etag_matches(const struct http_request *req, const char *etag)
{
	const struct http_header *h = http_header_find(req, "If-None-Match");
	if (!h)
		return false;
	size_t el = strlen(etag);
	const char *p = h->value, *end = h->value + h->value_len;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		const char *q = p;
		while (q < end && *q != ',')
			q++;
		const char *t = p;
		size_t tl = (size_t)(q - p);
		while (tl && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
			tl--;
		if (tl >= 2 && t[0] == 'W' && t[1] == '/')
			t += 2, tl -= 2;
		if ((tl == 1 && t[0] == '*') || (tl == el && memcmp(t, etag, el) == 0))
			return true;
		p = q;
	}
	return false;
}

int static_head(struct buf *out, const struct static_file *f, const struct http_request *req,
		bool keep_alive, bool *body)
{
	return static_head_with(out, f, req, keep_alive, NULL, body);
}

int static_head_with(struct buf *out, const struct static_file *f, const struct http_request *req,
		     bool keep_alive, const char *extra, bool *body)
{
	bool head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
	bool fresh = etag_matches(req, f->etag);
	const char *conn = keep_alive ? "keep-alive" : "close";
	int rc;
	/* no-cache: clients keep the file but revalidate it (a cheap 304) before each use */
	if (!extra)
		extra = "Cache-Control: no-cache\r\n";
	if (fresh)
		rc = buf_printf(out, "HTTP/1.1 304 Not Modified\r\nETag: %s\r\n%sConnection: %s\r\n\r\n", f->etag,
				extra, conn);
	else
		rc = buf_printf(out,
				"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\nETag: %s\r\n"
				"%sX-Content-Type-Options: nosniff\r\nConnection: %s\r\n\r\n",
				f->type, (long long)f->size, f->etag, extra, conn);
	*body = rc >= 0 && !fresh && !head;
	return rc < 0 ? 500 : fresh ? 304 : 200;
}

ssize_t static_read(struct static_file *f, struct buf *out, size_t max)
{
	off_t left = f->size - f->sent;
	if (left <= 0)
		return 0;
	size_t want = (size_t)left < max ? (size_t)left : max;
	if (buf_reserve(out, want) < 0)
		return -1;
	ssize_t r = pread(f->fd, out->data + out->len, want, f->sent);
	if (r <= 0) /* the file shrank under us: the Content-Length we sent cannot be kept */
		return -1;
	out->len += (size_t)r;
	f->sent += r;
	return r;
}

static const struct {
	const char *ext, *type;
} types[] = {
	{"html", "text/html; charset=utf-8"},
	{"htm", "text/html; charset=utf-8"},
	{"css", "text/css; charset=utf-8"},
	{"js", "text/javascript; charset=utf-8"},
	{"mjs", "text/javascript; charset=utf-8"},
	{"json", "application/json"},
	{"map", "application/json"},
	{"txt", "text/plain; charset=utf-8"},
	{"svg", "image/svg+xml"},
	{"png", "image/png"},
	{"jpg", "image/jpeg"},
	{"jpeg", "image/jpeg"},
	{"gif", "image/gif"},
	{"webp", "image/webp"},
	{"ico", "image/vnd.microsoft.icon"},
	{"wasm", "application/wasm"},
	{"woff", "font/woff"},
	{"woff2", "font/woff2"},
	{"mp3", "audio/mpeg"},
	{"ogg", "audio/ogg"},
	{"webm", "video/webm"},
	{"pdf", "application/pdf"},
};

const char *static_content_type(const char *name, size_t n)
{
	const char *dot = NULL;
	for (size_t i = n; i > 0; i--) {
		if (name[i - 1] == '/')
			break;
		if (name[i - 1] == '.') {
			dot = name + i;
			break;
		}
	}
	if (dot)
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (strlen(types[i].ext) == (size_t)(name + n - dot) &&
			    strncasecmp(dot, types[i].ext, (size_t)(name + n - dot)) == 0)
				return types[i].type;
	return "application/octet-stream";
}
