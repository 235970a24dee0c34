/* Messaging's options (proto/messaging/options.c): limits of its router half. */
#ifndef SB_MESSAGING_OPTIONS_H
#define SB_MESSAGING_OPTIONS_H
#include <stddef.h>

struct messaging_options {
	size_t max_size;      /* bytes of one stored message */
	long max_queue;       /* stored messages per recipient */
	long max_per_sender;  /* stored messages per (recipient, sender) */
	long max_recipients;  /* recipients with stored messages per sender */
	size_t max_store;     /* bytes of stored message text in all */
};

/* Set from the command line in switchboard-router (checked, then passed on, in the supervisor). */
extern struct messaging_options messaging_opt;

#endif
