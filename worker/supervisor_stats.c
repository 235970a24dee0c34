/* The supervisor's counters, written for the router's /metrics (supervisor_stats.h). */
#include "supervisor_stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../router/supervisor_prom.h"
#include "supervisor.h"

#define STATS_PERIOD_MS 1000
#define STATUSES 200 /* 400..599 */

static uint64_t refused[2][STATUSES];
static uint64_t accepted, router_restarts;
static int64_t due = 1; /* the first write at the first tick: every series from the start */
static int64_t last_write;
static int last_live = -1;

static void changed(void)
{
	if (!due)
		due = last_write + STATS_PERIOD_MS;
}

void sup_stats_refused(enum refuser by, int status)
{
	if (status < 400 || status >= 400 + STATUSES)
		return;
	refused[by][status - 400]++;
	changed();
}

void supervisor_worker_refused(int status) { sup_stats_refused(BY_WORKER, status); }

void sup_stats_accepted(void)
{
	accepted++;
	changed();
}

void sup_stats_router_restart(void)
{
	router_restarts++;
	changed();
}

int64_t sup_stats_due(void) { return due; }

static void write_refusals(FILE *f)
{
	static const char *const by_name[2] = {"supervisor", "worker"};
	fputs("# HELP switchboard_http_refusals_total Requests refused with an HTTP status: by the supervisor "
	      "(503 at --max-connections, 429 at --max-per-ip) or by a worker.\n"
	      "# TYPE switchboard_http_refusals_total counter\n", f);
	/* the supervisor's two always, so that a dashboard sees them at 0 */
	fprintf(f, "switchboard_http_refusals_total{status=\"503\",by=\"supervisor\"} %llu\n",
		(unsigned long long)refused[BY_SUPERVISOR][103]);
	fprintf(f, "switchboard_http_refusals_total{status=\"429\",by=\"supervisor\"} %llu\n",
		(unsigned long long)refused[BY_SUPERVISOR][29]);
	for (int by = 0; by < 2; by++)
		for (int i = 0; i < STATUSES; i++)
			if (refused[by][i] && !(by == BY_SUPERVISOR && (i == 103 || i == 29)))
				fprintf(f, "switchboard_http_refusals_total{status=\"%d\",by=\"%s\"} %llu\n", 400 + i,
					by_name[by], (unsigned long long)refused[by][i]);
}

static void write_stats(FILE *f)
{
	fprintf(f, "# pid %ld\n", (long)getpid());
	write_refusals(f);
	fprintf(f, "# HELP switchboard_accepted_total Connections the supervisor accepted (refused ones included).\n"
		   "# TYPE switchboard_accepted_total counter\nswitchboard_accepted_total %llu\n",
		(unsigned long long)accepted);
	fprintf(f, "# HELP switchboard_live_connections Connections the supervisor's workers hold now.\n"
		   "# TYPE switchboard_live_connections gauge\nswitchboard_live_connections %d\n", S.live);
	fprintf(f, "# HELP switchboard_router_restarts_total Times the supervisor restarted its router.\n"
		   "# TYPE switchboard_router_restarts_total counter\nswitchboard_router_restarts_total %llu\n",
		(unsigned long long)router_restarts);
}

void sup_stats_tick(int64_t now)
{
	/* the live count changes with every connection: it is written with the rest */
	if (S.live != last_live)
		changed();
	if (!due || now < due)
		return;
	due = 0;
	last_write = now;
	last_live = S.live;
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
	snprintf(path, sizeof path, "%s/%s", S.state_dir, SUPERVISOR_PROM_FILE);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		log_debug("cannot write %s: %s", tmp, strerror(errno));
		return;
	}
	write_stats(f);
	bool bad = ferror(f);
	if (fclose(f) != 0 || bad || rename(tmp, path) < 0) {
		log_debug("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

void sup_stats_remove(void)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", S.state_dir, SUPERVISOR_PROM_FILE);
	unlink(path);
}
