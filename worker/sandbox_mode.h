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

#endif
