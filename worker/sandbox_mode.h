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
 * The worker template's two layers (worker/sandbox_layers.c). The template
 * loads SANDBOX_TEMPLATE once, before it forks: the SANDBOX_HANDED list,
 * plus what a worker does before its upgrade and what the template itself
 * does. Each child inherits it at no cost; at its upgrade it stacks
 * SANDBOX_UPGRADED, a few instructions that refuse those additions, so that
 * what it may call from then on is the SANDBOX_HANDED list exactly.
 */
enum sandbox_layer {
	SANDBOX_TEMPLATE, /* an allowlist */
	SANDBOX_UPGRADED, /* a denylist, stacked on the first */
	SANDBOX_LAYERS
};

#endif
