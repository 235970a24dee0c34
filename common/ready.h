/*
 * Readiness for service managers: systemd's READY=1 on $NOTIFY_SOCKET
 * (Type=notify) and s6's newline on a notification-fd (--ready-fd).
 */
#ifndef SB_READY_H
#define SB_READY_H

/* Takes $NOTIFY_SOCKET out of the environment (children must not speak
 * for this process) and keeps it for ready_notify; call first thing. */
void ready_init(void);
/* Says this process serves: READY=1 on the saved NOTIFY_SOCKET, and a
 * newline on fd (then closed) when fd >= 0. Logs what it did, or why not. */
void ready_notify(int fd);

#endif
