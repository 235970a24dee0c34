/*
 * Plain files for GET and HEAD, from one directory, for the worker.
 *
 * The directory is opened once, before the sandbox; each request opens its
 * file with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) relative to that
 * descriptor, so the kernel itself refuses any path that would leave the
 * directory (`..`, absolute symlinks, symlinks pointing out), however it is
 * spelled. The caller must not be inside the seccomp filter: seccomp cannot
 * read openat2's struct open_how, so a filter that allowed openat2 would
 * allow it without RESOLVE_BENEATH too. The worker therefore answers plain
 * HTTP before it enters the sandbox (worker/http.c says more).
 */
#ifndef SB_STATIC_H
#define SB_STATIC_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../../common/buf.h"
#include "http.h"

/* Largest decoded path we look up; longer ones are 404. */
#define STATIC_MAX_PATH 1024

struct static_file {
	int fd;
	off_t size;
	off_t sent;       /* body bytes handed to static_read so far */
	const char *type; /* Content-Type */
	char etag[48];    /* quoted, strong */
};

/*
 * Opens the file for a request path (as in the request line, percent-encoded,
 * starting with '/'), relative to dirfd. "/" and paths ending in '/' mean
 * index.html there. Returns 0, or the status to answer: 400 for a NUL or a
 * bad escape, 404 for anything not a regular file below the directory
 * (hidden names, `.`/`..` segments and empty segments included).
 */
int static_open(int dirfd, const char *path, size_t n, struct static_file *f);
void static_close(struct static_file *f);

/*
 * Appends the response head for f: 200, or 304 when If-None-Match names its
 * ETag (no body then). Returns the status. *body is set when a body must
 * follow (GET with 200), and then static_read supplies it.
 */
int static_head(struct buf *out, const struct static_file *f, const struct http_request *req,
		bool keep_alive, bool *body);
/* The same with header lines ("Name: value\r\n"...) in place of Cache-Control: no-cache. */
int static_head_with(struct buf *out, const struct static_file *f, const struct http_request *req,
		     bool keep_alive, const char *extra, bool *body);

/* Appends up to max more body bytes; returns bytes added, 0 at the end, -1 on error. */
ssize_t static_read(struct static_file *f, struct buf *out, size_t max);

/* Content-Type by file name extension (application/octet-stream when unknown). */
const char *static_content_type(const char *name, size_t n);

#endif
