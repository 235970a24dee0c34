/* Refusals reported to the supervisor (refusal.h). */
#include "refusal.h"

#include <stdio.h>
#include <unistd.h>

#include "session.h"

void refusal_report(const struct session *s, int status)
{
	if (s->cfg->bus_ctl < 0 || status < 400 || status > 599)
		return;
	char m[8];
	snprintf(m, sizeof m, "r%03d", status);
	/* best effort: a count, never worth failing the worker for; the socket
	 * is non-blocking (bus_hand_open) and write is in the sandbox's list */
	if (write(s->cfg->bus_ctl, m, 4) != 4)
		return;
}
