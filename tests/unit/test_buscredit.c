/*
 * common/buscredit: the router's verdicts and the worker's batched credit
 * returns, run against each other as a small simulation: every message
 * queued arrives (no stall, whatever the sizes and whether the worker sends
 * anything of its own), never past the window, never more than one large
 * message outstanding, and a worker that sends as it receives never sends
 * credit alone.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/buscredit.h"
#include "check.h"

struct sim {
	int window, credit, due, held_steps;
	bool asked_r, asked_w;
	struct bus_inflight f;
	size_t in_flight_max_beside_first;
	int outstanding_max, credit_alone, asks, sent;
};

/* One router turn: sends what the verdicts allow; returns messages sent (asks included). */
static int router_turn(struct sim *s, size_t *queue, int *nq, int *to_worker, int *asks_to_worker)
{
	int k = 0;
	while (*nq > 0) {
		enum bus_verdict v = bus_credit_verdict(&s->f, s->credit, 1, queue[0], s->asked_r);
		if (v == BUS_WAIT)
			break;
		if (v == BUS_ASK) {
			bus_inflight_sent(&s->f, 0);
			s->credit--;
			s->asked_r = true;
			(*asks_to_worker)++;
			s->asks++;
			k++;
			continue;
		}
		bus_inflight_sent(&s->f, queue[0]);
		s->credit--;
		memmove(queue, queue + 1, (size_t)(*nq - 1) * sizeof *queue);
		(*nq)--;
		(*to_worker)++;
		s->sent++;
		k++;
		size_t beside = s->f.bytes - s->f.size[s->f.head];
		if (beside > s->in_flight_max_beside_first)
			s->in_flight_max_beside_first = beside;
		if (s->f.n > s->outstanding_max)
			s->outstanding_max = s->f.n;
	}
	return k;
}

/* Runs msgs messages of random sizes through; sends: the worker sends one of its own each turn. */
static bool simulate(struct sim *s, int window, int msgs, size_t big, bool sends, unsigned seed)
{
	memset(s, 0, sizeof *s);
	s->window = s->credit = window;
	srand(seed);
	size_t *queue = calloc((size_t)msgs, sizeof *queue);
	int nq = 0, added = 0, delivered = 0;
	for (int turn = 0; turn < 100 * msgs; turn++) {
		for (int i = rand() % 3; i > 0 && added < msgs; i--, added++)
			queue[nq++] = rand() % 4 == 0 ? big : (size_t)(1 + rand() % 2000);
		int data = 0, asks = 0;
		router_turn(s, queue, &nq, &data, &asks);
		/* the worker's turn: it takes what came, credit due per message */
		delivered += data;
		s->due += data + asks;
		if (asks)
			s->asked_w = true;
		if (bus_credit_return_now(s->due, window, s->asked_w, sends)) {
			if (!sends)
				s->credit_alone++;
			/* the router reads the credit */
			s->credit += s->due;
			bus_inflight_credited(&s->f, s->due);
			s->asked_r = false;
			s->due = 0;
			s->asked_w = false;
		} else if (data + asks > 0 && sends) {
			s->credit_alone = -1000; /* sending, yet credit held back: wrong */
		}
		if (added == msgs && nq == 0 && s->f.n <= s->due)
			break;
	}
	free(queue);
	return delivered == msgs;
}

static void test_verdicts(void)
{
	struct bus_inflight f = {0};
	CHECK("buscredit: nothing outstanding, credit over the reserve: send",
	      bus_credit_verdict(&f, 2, 1, 1 << 20, false) == BUS_SEND);
	CHECK("buscredit: at the reserve: wait", bus_credit_verdict(&f, 1, 1, 10, false) == BUS_WAIT);
	CHECK("buscredit: a close may use the reserve", bus_credit_verdict(&f, 1, 0, 10, false) == BUS_SEND);
	bus_inflight_sent(&f, 1 << 20);
	CHECK("buscredit: a small one beside a large one outstanding: ask",
	      bus_credit_verdict(&f, 7, 1, 10, false) == BUS_ASK);
	CHECK("buscredit: once asked: wait", bus_credit_verdict(&f, 6, 1, 10, true) == BUS_WAIT);
	CHECK("buscredit: a close goes beside it", bus_credit_verdict(&f, 1, 0, 10, false) == BUS_SEND);
	bus_inflight_credited(&f, 1);
	CHECK("buscredit: credited: nothing outstanding", f.n == 0 && f.bytes == 0);
	bus_inflight_sent(&f, 1000);
	CHECK("buscredit: small ones go together", bus_credit_verdict(&f, 7, 1, 1000, false) == BUS_SEND);
	CHECK("buscredit: a large one behind a small one: ask", bus_credit_verdict(&f, 7, 1, 1 << 20, false) == BUS_ASK);
	bus_inflight_credited(&f, 5);
	CHECK("buscredit: more credit than outstanding is ignored", f.n == 0 && f.bytes == 0);
	CHECK("buscredit: worker: nothing due, nothing sent", !bus_credit_return_now(0, 8, true, true));
	CHECK("buscredit: worker: rides along", bus_credit_return_now(1, 8, false, true));
	CHECK("buscredit: worker: alone it waits under half the window", !bus_credit_return_now(3, 8, false, false));
	CHECK("buscredit: worker: half the window goes", bus_credit_return_now(4, 8, false, false));
	CHECK("buscredit: worker: an ask is answered", bus_credit_return_now(1, 8, true, false));
	CHECK("buscredit: worker: a window of 2 returns each", bus_credit_return_now(1, 2, false, false));
}

static void test_simulated(void)
{
	struct sim s;
	bool all = true, window = true, bytes = true, alone = true, asks = false;
	for (int w = 2; w <= BUS_CREDIT_MAX; w++)
		for (unsigned seed = 1; seed <= 20; seed++)
			for (int sends = 0; sends <= 1; sends++) {
				all = all && simulate(&s, w, 500, (size_t)1 << 20, sends, seed);
				window = window && s.outstanding_max <= w;
				bytes = bytes && s.in_flight_max_beside_first <= BUS_INFLIGHT_SMALL;
				alone = alone && (sends ? s.credit_alone == 0 : s.credit_alone >= 0);
				asks = asks || s.asks > 0;
			}
	CHECK("buscredit: every message arrives, whatever the window, sizes and traffic (no stall)", all);
	CHECK("buscredit: never more outstanding than the window", window);
	CHECK("buscredit: beside the first outstanding message, at most BUS_INFLIGHT_SMALL", bytes);
	CHECK("buscredit: a worker that sends each turn never sends credit alone", alone);
	CHECK("buscredit: large messages behind small ones make the router ask", asks);
	simulate(&s, BUS_CREDIT_MAX, 2000, 100, false, 7);
	CHECK("buscredit: small traffic to a quiet worker: credit back once per half window",
	      s.credit_alone > 0 && s.credit_alone <= 2000 / (BUS_CREDIT_MAX / 2) + 1);
}

void test_buscredit(void)
{
	test_verdicts();
	test_simulated();
}
