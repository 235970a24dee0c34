/*
 * Metrics: once a second the router rewrites its textfile (STATE/metrics.prom,
 * or --metrics-file PATH) in the Prometheus text format, for node_exporter's
 * textfile collector (or cat). Written to a temporary file beside it and
 * renamed, so readers never see half. The same text answers GET /metrics
 * (router/http.c). The supervisor's own counters (its refusals, the router's
 * restarts: worker/supervisor_stats.c) come from the file it keeps in the
 * state directory, copied in as they are.
 */
#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/core_options.h"
#include "../common/log.h"
#include "../proto/storage.h"
#include "allowfrom.h"
#include "router.h"
#include "store.h"
#include "supervisor_prom.h"

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

struct by_proto {
	const struct proto_router *proto[64];
	size_t n[64];
	int count;
};

static void count_worker(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	struct by_proto *b = arg;
	const struct rworker *w = value;
	for (int i = 0; i < b->count; i++)
		if (b->proto[i] == w->proto) {
			b->n[i]++;
			return;
		}
}

/* Workers registered now, by protocol (core: plain HTTP asked of the router). */
static void print_connections(struct router *r, FILE *f)
{
	struct by_proto b = {.count = 0};
	b.proto[b.count++] = &router_http_only;
	for (int i = 0; router_protocols[i] && b.count < 64; i++)
		b.proto[b.count++] = router_protocols[i];
	hmap_each(&r->workers, count_worker, &b);
	fputs("# HELP switchboard_connections Connections registered with the router now, by protocol.\n"
	      "# TYPE switchboard_connections gauge\n", f);
	for (int i = 0; i < b.count; i++)
		fprintf(f, "switchboard_connections{protocol=\"%s\"} %zu\n", b.proto[i]->name, b.n[i]);
}

static long long file_size(const char *dir, const char *name)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* The SQLite files' sizes, and the rows the protocols changed since the start. */
static void print_store(struct router *r, FILE *f)
{
	fputs("# HELP switchboard_store_bytes Size of the store's SQLite files.\n"
	      "# TYPE switchboard_store_bytes gauge\n", f);
	fprintf(f, "switchboard_store_bytes{file=\"db\"} %lld\n", file_size(r->state_dir, STORE_FILE));
	fprintf(f, "switchboard_store_bytes{file=\"wal\"} %lld\n", file_size(r->state_dir, STORE_FILE "-wal"));
	sqlite3 *db = store_db();
	counter(f, "store_row_changes_total", "Rows the store inserted, updated or deleted since the router started.",
		db ? (uint64_t)sqlite3_total_changes64(db) : 0);
}

/* What runs: our version, the protocols built in, the libraries' versions. */
static void print_build_info(FILE *f)
{
	fprintf(f, "# HELP switchboard_build_info The version running, its protocols and libraries (always 1).\n"
		   "# TYPE switchboard_build_info gauge\nswitchboard_build_info{version=\"%s\",protocols=\"",
		SWITCHBOARD_VERSION);
	for (int i = 0; router_protocols[i]; i++)
		fprintf(f, "%s%s", i ? "," : "", router_protocols[i]->name);
	fprintf(f, "\",sqlite=\"%s\",libsodium=\"%s\"} 1\n", sqlite3_libversion(), sodium_version_string());
}

void metrics_print(struct router *r, FILE *f)
{
	const struct router_stats *s = &r->stats;
	print_build_info(f);
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
	counter(f, "bus_refused_address_total", "tcp:// bus peers refused: not in --allow-from.",
		allow_from_refused());
	print_connections(r, f);
	print_store(r, f);
	for (int i = 0; router_protocols[i]; i++)
		if (router_protocols[i]->metrics)
			router_protocols[i]->metrics(f);
	supervisor_prom_copy(r->state_dir, f);
}

/* A failing textfile says so once, and again only after it worked. */
static void write_failed(const char *path, bool *warned)
{
	if (!*warned)
		log_warn("cannot write the metrics file %s: %s", path, strerror(errno));
	*warned = true;
}

void metrics_write(struct router *r)
{
	static bool warned;
	char path[4096], tmp[4200];
	if (core_opt.metrics_file)
		snprintf(path, sizeof path, "%s", core_opt.metrics_file);
	else
		snprintf(path, sizeof path, "%s/metrics.prom", r->state_dir);
	/* beside it, so that rename is atomic; node_exporter reads only *.prom */
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return write_failed(tmp, &warned);
	metrics_print(r, f);
	bool bad = ferror(f);
	if (fclose(f) != 0 || bad || rename(tmp, path) < 0) {
		write_failed(path, &warned);
		unlink(tmp);
		return;
	}
	warned = false;
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
