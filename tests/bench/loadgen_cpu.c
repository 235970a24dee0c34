/* loadgen: CPU accounting of a process tree, from /proc. */
#include "loadgen.h"
/* ---- CPU accounting: utime+stime and context switches of a process and
 * its children (all threads), grouped by command name ---- */

ssize_t slurp(const char *fn, char *buf, size_t n)
{
	int fd = open(fn, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r >= 0)
		buf[r] = 0;
	return r;
}

int read_stat(int pid, int *ppid, unsigned long long *ticks, char comm[16])
{
	char fn[64], buf[1024];
	snprintf(fn, sizeof fn, "/proc/%d/stat", pid);
	if (slurp(fn, buf, sizeof buf) <= 0)
		return -1;
	char *l = strchr(buf, '('), *p = strrchr(buf, ')');
	if (!l || !p)
		return -1;
	snprintf(comm, 16, "%.*s", (int)(p - l - 1), l + 1);
	/* fields after comm: 3 state, 4 ppid, ... 14 utime, 15 stime */
	char *save, *tok = strtok_r(p + 1, " ", &save);
	unsigned long long ut = 0, st = 0;
	for (int f = 3; tok; f++, tok = strtok_r(NULL, " ", &save)) {
		if (f == 4)
			*ppid = atoi(tok);
		else if (f == 14)
			ut = strtoull(tok, NULL, 10);
		else if (f == 15) {
			st = strtoull(tok, NULL, 10);
			break;
		}
	}
	*ticks = ut + st;
	return 0;
}

/* voluntary + involuntary context switches, summed over the threads */
unsigned long long read_csw(int pid)
{
	char fn[320], buf[2048];
	unsigned long long tot = 0;
	snprintf(fn, sizeof fn, "/proc/%d/task", pid);
	DIR *d = opendir(fn);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(fn, sizeof fn, "/proc/%d/task/%s/status", pid, de->d_name);
		if (slurp(fn, buf, sizeof buf) <= 0)
			continue;
		for (char *q = buf; (q = strstr(q, "ctxt_switches:")); q += 14)
			tot += strtoull(q + 14, NULL, 10);
	}
	closedir(d);
	return tot;
}

/* The server's processes: root and every descendant (the worker template's
 * children are root's grandchildren). */
void cpu_snapshot(int root, struct cpu_snap *s)
{
	static int pids[4 * MAXP], ppids[4 * MAXP];
	static unsigned long long ticks[4 * MAXP];
	static char comms[4 * MAXP][16];
	static unsigned char in[4 * MAXP];
	int all = 0;
	s->n = 0;
	if (root <= 0)
		return;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) && all < 4 * MAXP) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		int pid = atoi(de->d_name);
		if (read_stat(pid, &ppids[all], &ticks[all], comms[all]) < 0)
			continue;
		pids[all] = pid;
		in[all] = pid == root;
		all++;
	}
	closedir(d);
	/* membership by pid (pid_max entries, 4 MiB at most), a pass per level */
	static unsigned char *member;
	static int member_n;
	if (!member) {
		FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
		if (!f || fscanf(f, "%d", &member_n) != 1 || member_n <= 0)
			member_n = 4194304;
		if (f)
			fclose(f);
		member = calloc((size_t)member_n + 1, 1);
		if (!member)
			die("out of memory");
	}
	memset(member, 0, (size_t)member_n + 1);
	if (root <= member_n)
		member[root] = 1;
	for (int grew = 1; grew;) {
		grew = 0;
		for (int i = 0; i < all; i++)
			if (!in[i] && ppids[i] > 0 && ppids[i] <= member_n && member[ppids[i]] && pids[i] <= member_n) {
				in[i] = member[pids[i]] = 1;
				grew = 1;
			}
	}
	for (int i = 0; i < all && s->n < MAXP; i++)
		if (in[i]) {
			s->pid[s->n] = pids[i];
			s->ticks[s->n] = ticks[i];
			memcpy(s->comm[s->n], comms[i], 16);
			s->csw[s->n] = read_csw(pids[i]);
			s->n++;
		}
}

/* CPU µs and context switches between a and b of the processes alive at b,
 * in all (group NULL) or for one command name. */
void cpu_delta(const struct cpu_snap *a, const struct cpu_snap *b, const char *group,
		      double *us, double *csw)
{
	unsigned long long tot = 0, cs = 0;
	for (int i = 0; i < b->n; i++) {
		if (group && strcmp(group, b->comm[i]) != 0)
			continue;
		unsigned long long before = 0, cbefore = 0;
		for (int j = 0; j < a->n; j++)
			if (a->pid[j] == b->pid[i]) {
				before = a->ticks[j];
				cbefore = a->csw[j];
				break;
			}
		tot += b->ticks[i] - before;
		cs += b->csw[i] - cbefore;
	}
	*us = tot * 1e6 / sysconf(_SC_CLK_TCK);
	*csw = cs;
}

double self_cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

/* Per command name: " us_per_msg:NAME=… cs_per_msg:NAME=…" for PER messages. */
void print_split(const struct cpu_snap *s0, struct cpu_snap *s1, double per)
{
	for (int i = 0; i < s1->n; i++) {
		int dup = 0;
		for (int j = 0; j < i; j++)
			dup |= !strcmp(s1->comm[i], s1->comm[j]);
		if (dup)
			continue;
		double cpu, csw;
		cpu_delta(s0, s1, s1->comm[i], &cpu, &csw);
		for (char *q = s1->comm[i]; *q; q++)
			if (*q == ' ' || *q == '=')
				*q = '_';
		printf(" us_per_msg:%s=%.2f cs_per_msg:%s=%.2f", s1->comm[i], cpu / per, s1->comm[i], csw / per);
	}
}

void window_measure(struct window *w, int cpupid, double secs, void (*tick)(double), int *flag)
{
	double g0 = self_cpu_us();
	cpu_snapshot(cpupid, &w->s0);
	double t0 = now();
	if (flag)
		*flag = 1;
	loop(never, t0 + secs, tick);
	if (flag)
		*flag = 0;
	double t1 = now();
	cpu_snapshot(cpupid, &w->s1);
	w->gen_us = self_cpu_us() - g0;
	w->secs = t1 - t0;
	cpu_delta(&w->s0, &w->s1, NULL, &w->cpu, &w->csw);
}
