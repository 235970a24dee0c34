/* The --allow-from check of the router's tcp:// bus (allowfrom.h). */
#include "allowfrom.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../common/cidr.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "../common/sp.h"

/* The default without --allow-from: the loopback ranges. */
static const char *const loopback_text[] = {"127.0.0.0/8", "::1/128"};
static struct cidr loopback[2];

static struct cidr *ranges = loopback;
static int nranges;
static bool given; /* --allow-from was */
static uint64_t refused;

int allow_from_setup(const struct opt_list *list)
{
	for (int i = 0; i < 2; i++)
		if (cidr_parse(loopback_text[i], &loopback[i]) < 0)
			return -1;
	if (!list || list->n == 0) {
		if (ranges != loopback)
			free(ranges);
		ranges = loopback;
		nranges = 2;
		given = false;
		return 0;
	}
	struct cidr *r = calloc((size_t)list->n, sizeof *r);
	if (!r)
		return -1;
	for (int i = 0; i < list->n; i++)
		if (cidr_parse(list->v[i], &r[i]) < 0) {
			free(r);
			return -1;
		}
	if (ranges != loopback)
		free(ranges);
	ranges = r;
	nranges = list->n;
	given = true;
	return 0;
}

static bool in(const struct cidr *list, int n, const struct sockaddr_storage *sa)
{
	for (int i = 0; i < n; i++)
		if (cidr_match(&list[i], sa))
			return true;
	return false;
}

bool allow_from_listen_ok(const char *url, char *err, size_t cap)
{
	if (given || strncmp(url, "tcp://", 6) != 0)
		return true;
	/* "*" or no host is every address: off loopback */
	bool any = strncmp(url, "tcp://*:", 8) == 0 || strncmp(url, "tcp://:", 7) == 0;
	struct sp_addr a;
	if (!any && sp_addr_parse(url, &a) == 0 && in(loopback, 2, &a.sa))
		return true;
	snprintf(err, cap, "--listen %s is not a loopback address: a tcp:// bus that other hosts can reach needs "
		 "--allow-from CIDR (the workers' addresses, repeatable)", url);
	return false;
}

/* One line a second at most: a port scan must not become a flood of lines. */
static void log_refusal(const char *who)
{
	static int64_t last;
	static unsigned long quiet;
	int64_t now = clock_ms();
	if (last && now - last < 1000) {
		quiet++;
		return;
	}
	struct log_kv kv[] = {{"peer", who}, {"reason", "not in --allow-from"}};
	if (quiet)
		log_event(LOG_WARN, kv, 2, "refusing bus peer %s: not in --allow-from (and %lu more refused since the "
			  "last line)", who, quiet);
	else
		log_event(LOG_WARN, kv, 2, "refusing bus peer %s: not in --allow-from", who);
	last = now;
	quiet = 0;
}

bool allow_from_peer_ok(int fd)
{
	if (nranges == 0 && allow_from_setup(NULL) < 0) /* never set up: the default */
		return false;
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	memset(&sa, 0, sizeof sa);
	if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0 && in(ranges, nranges, &sa))
		return true;
	char who[64] = "unknown";
	if (cidr_addr_text(&sa, who, sizeof who) < 0)
		snprintf(who, sizeof who, "unknown");
	refused++;
	log_refusal(who);
	return false;
}

uint64_t allow_from_refused(void) { return refused; }
