/* Bus credit arithmetic shared by the worker's uplink and the router (see buscredit.h). */
#include "buscredit.h"

enum bus_verdict bus_credit_verdict(const struct bus_inflight *f, int credit, int reserve, size_t len, bool asked)
{
	if (credit <= reserve)
		return BUS_WAIT;
	/* a close (reserve 0) goes whatever is outstanding: it is small, and it is the last */
	if (f->n == 0 || reserve == 0 || f->bytes + len <= BUS_INFLIGHT_SMALL)
		return BUS_SEND;
	return asked || f->n >= BUS_CREDIT_MAX ? BUS_WAIT : BUS_ASK;
}

void bus_inflight_sent(struct bus_inflight *f, size_t len)
{
	if (f->n == BUS_CREDIT_MAX) /* more than any window: the caller's credit check prevents it */
		return;
	f->size[(f->head + f->n) % BUS_CREDIT_MAX] = (uint32_t)len;
	f->n++;
	f->bytes += len;
}

void bus_inflight_credited(struct bus_inflight *f, int n)
{
	while (n-- > 0 && f->n > 0) {
		f->bytes -= f->size[f->head];
		f->head = (f->head + 1) % BUS_CREDIT_MAX;
		f->n--;
	}
}

bool bus_credit_return_now(int due, int window, bool asked, bool sending)
{
	if (due <= 0)
		return false;
	/* half the window: the router still has the other half to send with
	 * while this is on its way (and one of those is its reserve) */
	return asked || sending || due >= (window + 1) / 2;
}
