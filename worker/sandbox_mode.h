/*
 * Which of the worker's seccomp filters it enters: the bus connections come
 * from the supervisor, or the worker dials an ipc:// or a tcp:// bus itself.
 * Shared by the build-time filter compiler and the worker.
 */
#ifndef SB_SANDBOX_MODE_H
#define SB_SANDBOX_MODE_H

enum sandbox_bus {
	SANDBOX_HANDED,    /* under the supervisor: no socket, no connect */
	SANDBOX_DIAL_UNIX, /* ipc:// bus: AF_UNIX stream sockets only */
	SANDBOX_DIAL_INET, /* tcp:// bus: AF_INET and AF_INET6 stream sockets only */
	SANDBOX_MODES
};

/*
 * The worker template's filter (worker/sandbox_layers.c): the SANDBOX_HANDED
 * list, plus what a forked worker does before its upgrade and what the
 * template itself does. The template loads it once, before it forks; each
 * child inherits it at no cost and keeps it as its only filter, upgraded or
 * not. Two variants: openat2 and pread (the files of --static-dir or
 * another set-up's directory) are in the second only.
 */
enum sandbox_template {
	SANDBOX_TEMPLATE_PLAIN, /* no directory of files: no open of any kind */
	SANDBOX_TEMPLATE_FILES, /* + openat2, pread64 */
	SANDBOX_TEMPLATES
};

#endif
