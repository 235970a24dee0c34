/*
 * Metrics: once a second the router rewrites STATE/metrics.prom in the
 * Prometheus text format (for node_exporter's textfile collector, or cat).
 * Written to a temporary file and renamed, so readers never see half. The
 * same text answers GET /metrics (router/http.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "router.h"
#include "store.h"

#define METRICS_PERIOD_MS 1000

static int64_t next_write;

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	fprintf(f, "# HELP switchboard_%s %s\n# TYPE switchboard_%s counter\nswitchboard_%s %llu\n", name, help, name,
		name, (unsigned long long)v);
}

#ifndef SWITCHBOARD_VERSION
#define SWITCHBOARD_VERSION "0.1.0"
#endif

void metrics_print(struct router *r, FILE *f)
{
	const struct router_stats *s = &r->stats;
	fprintf(f, "# HELP switchboard_build_info The version running.\n# TYPE switchboard_build_info gauge\n"
		   "switchboard_build_info{version=\"%s\"} 1\n", SWITCHBOARD_VERSION);
	counter(f, "envelopes_in_total", "Envelopes received from workers.", s->envelopes_in);
	counter(f, "envelopes_out_total", "Envelopes queued for workers.", s->envelopes_out);
	counter(f, "bus_messages_out_total", "Bus messages (batches) sent to workers.", s->bus_messages_out);
	counter(f, "workers_registered_total", "Workers that said hello.", s->workers);
	counter(f, "bus_rejected_total", "Bus peers disconnected for breaking the rules.", s->rejected);
	counter(f, "bus_refused_total", "Bus connections refused: wrong uid, bad or no SP handshake.",
		r->bus.refused);
	counter(f, "too_slow_total", "Clients closed with 1008 because they read too slowly.", s->too_slow);
	counter(f, "router_memory_closed_total", "Clients closed with 1008 because --router-memory was reached.",
		s->memory_closed);
	counter(f, "bus_dropped_total", "Workers dropped for not reading their bus pipe.", s->bus_dropped + r->bus.stalled);
	counter(f, "bus_too_big_total", "Envelopes for a worker that could not fit in a bus message.", s->too_big);
	counter(f, "bus_refused_frames_total", "Bus messages from workers refused: over the limit or malformed.",
		s->refused_frames);
	counter(f, "http_router_requests_total", "Plain HTTP requests answered by the router (/metrics included).",
		s->http_requests);
	counter(f, "store_failed_commits_total", "Group commits of the store that failed (their writes lost).",
		store_failed_commits());
	fprintf(f, "# HELP switchboard_router_queued_bytes Bytes queued for workers, their pipes included.\n"
		   "# TYPE switchboard_router_queued_bytes gauge\nswitchboard_router_queued_bytes %zu\n",
		router_memory(r));
	fprintf(f, "# HELP switchboard_workers Workers connected now.\n# TYPE switchboard_workers gauge\n"
		   "switchboard_workers %zu\n", r->workers.count);
	for (int i = 0; router_protocols[i]; i++)
		if (router_protocols[i]->metrics)
			router_protocols[i]->metrics(f);
}

void metrics_write(struct router *r)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof path, "%s/metrics.prom", r->state_dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	metrics_print(r, f);
	if (fclose(f) == 0)
		rename(tmp, path);
}

int64_t metrics_due(void) { return next_write; }

void metrics_tick(struct router *r)
{
	int64_t now = clock_ms();
	if (now < next_write)
		return;
	metrics_write(r);
	next_write = now + METRICS_PERIOD_MS;
}
