/*
 * The option tables' parser, help and hand-over (options.h). Hand-written
 * rather than getopt_long: the tables are assembled from several owners at
 * run time, values are typed and bounded, and the supervisor must pass on
 * what belongs to its children without knowing their names.
 */
#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *const type_arg[] = {
	[OPT_FLAG] = "", [OPT_STR] = "VALUE", [OPT_LIST] = "VALUE", [OPT_INT] = "N", [OPT_SIZE] = "BYTES",
	[OPT_SECONDS] = "SEC",
};

/* An option error, on stderr; also in the log when stderr was a client's
 * connection (inetd), or the operator would never see why a worker quit. */
static void complain(const struct opt_parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void complain(const struct opt_parse *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", p->prog, line);
	if (log_stderr_hidden())
		log_error("%s", line);
}

/* This process's entry of that name if it has one, else the first (options.h). */
static const struct opt *find(const struct opt_parse *p, const char *name, size_t n)
{
	const struct opt *first = NULL;
	for (int g = 0; p->groups[g]; g++)
		for (const struct opt *o = p->groups[g]->opts; o->name; o++)
			if (strlen(o->name) == n && memcmp(o->name, name, n) == 0) {
				if (o->procs & p->self)
					return o;
				if (!first)
					first = o;
			}
	return first;
}

static int list_push(struct opt_list *l, const char *v)
{
	const char **nv = realloc(l->v, (size_t)(l->n + 2) * sizeof *nv);
	if (!nv)
		return -1;
	nv[l->n++] = v;
	nv[l->n] = NULL;
	l->v = nv;
	return 0;
}

static bool in_range(const struct opt *o, long long v)
{
	if (o->min == 0 && o->max == 0)
		return v >= 0;
	return v >= o->min && v <= o->max;
}

static int parse_size(const char *s, long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-')
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || v > (unsigned long long)(INT64_MAX >> shift))
		return -1;
	*out = (long long)(v << shift);
	return 0;
}

/* The message for a value out of range or malformed, with the bounds and the note. */
static void range_why(const struct opt *o, const char **why)
{
	static char text[256];
	const char *what = o->type == OPT_INT ? "a whole number" : o->type == OPT_SIZE ? "a byte count"
										: "a number of seconds";
	if (o->min == 0 && o->max == 0)
		snprintf(text, sizeof text, "wants %s of 0 or more", what);
	else
		snprintf(text, sizeof text, "wants %s from %lld to %lld%s%s", what, o->min, o->max,
			 o->note ? ", " : "", o->note ? o->note : "");
	*why = text;
}

/* Stores value into o->dst (when this process takes o); 0 or -1 with *why. */
static int store(const struct opt *o, const char *value, bool mine, const char **why)
{
	long long v = 0;
	char *end;
	switch (o->type) {
	case OPT_FLAG:
		if (mine)
			*(bool *)o->dst = true;
		return 0;
	case OPT_STR:
		if (!*value) {
			*why = "needs a value";
			return -1;
		}
		if (mine)
			*(const char **)o->dst = value;
		return 0;
	case OPT_LIST:
		if (mine && list_push(o->dst, value) < 0) {
			*why = "out of memory";
			return -1;
		}
		return 0;
	case OPT_INT:
		errno = 0;
		v = strtoll(value, &end, 10);
		if (end == value || *end || errno || !in_range(o, v))
			break;
		if (mine)
			*(long *)o->dst = (long)v;
		return 0;
	case OPT_SIZE:
		if (parse_size(value, &v) < 0 || !in_range(o, v))
			break;
		if (mine)
			*(size_t *)o->dst = (size_t)v;
		return 0;
	case OPT_SECONDS: {
		errno = 0;
		double d = strtod(value, &end);
		/* bounded before the conversion to an integer, which past the
		 * range of long long is undefined (fuzz_config found it) */
		if (end == value || *end || errno || d != d || d < 0 || d > 2e6 || !in_range(o, (long long)d))
			break;
		if (mine)
			*(int *)o->dst = (int)(d * 1000 + 0.5);
		return 0;
	}
	}
	range_why(o, why);
	return -1;
}

int opt_defaults(struct opt_parse *p)
{
	for (int g = 0; p->groups[g]; g++)
		for (const struct opt *o = p->groups[g]->opts; o->name; o++) {
			const char *why;
			if (!o->def || o->type == OPT_LIST || !(o->procs & p->self))
				continue;
			if (store(o, o->def, true, &why) < 0 || (o->hook && o->hook(p->self, o->def, &why) < 0)) {
				complain(p, "bad default for --%s: %s", o->name, why);
				return -1;
			}
		}
	return 0;
}

/* The supervisor keeps the text of its children's options to pass on. */
static int pass_on(struct opt_parse *p, const struct opt *o, const char *value)
{
	size_t n = strlen(o->name) + 3;
	char *flag = malloc(n);
	if (!flag)
		return -1;
	snprintf(flag, n, "--%s", o->name);
	struct opt_list *lists[2] = {(o->procs & OPT_WORKER) ? &p->pass_worker : NULL,
				     (o->procs & OPT_ROUTER) ? &p->pass_router : NULL};
	if (list_push(&p->owned, flag) < 0) {
		free(flag);
		return -1;
	}
	for (int i = 0; i < 2; i++)
		if (lists[i] &&
		    (list_push(lists[i], flag) < 0 || (o->type != OPT_FLAG && list_push(lists[i], value) < 0)))
			return -1;
	return 0;
}

const struct opt *opt_find(const struct opt_parse *p, const char *name, unsigned prefer)
{
	struct opt_parse as = *p;
	as.self = prefer;
	return find(&as, name, strlen(name));
}

int opt_set(struct opt_parse *p, const char *name, const char *value, const char **why)
{
	const struct opt *o = find(p, name, strlen(name));
	if (!o) {
		*why = "unknown option";
		return -1;
	}
	return opt_set_entry(p, o, value, why);
}

int opt_set_entry(struct opt_parse *p, const struct opt *o, const char *value, const char **why)
{
	bool mine = (o->procs & p->self) != 0;
	bool passed = p->self == OPT_SUPERVISOR && (o->procs & (OPT_WORKER | OPT_ROUTER));
	if (!mine && !passed) {
		*why = o->procs & OPT_ROUTER ? "is an option of switchboard-router"
		       : o->procs & OPT_WORKER ? "is an option of switchboard-worker"
					       : "is an option of switchboard (the supervisor)";
		return -1;
	}
	if (store(o, value ? value : "", mine, why) < 0)
		return -1;
	if (mine && o->hook && o->hook(p->self, value, why) < 0)
		return -1;
	if (passed && pass_on(p, o, value) < 0) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

const struct opt *opt_argv_at(const struct opt_parse *p, int argc, char **argv, int i, int *span)
{
	const char *a = argv[i];
	*span = 1;
	if (a[0] != '-' || a[1] != '-' || !a[2])
		return NULL;
	const char *name = a + 2, *eq = strchr(name, '=');
	const struct opt *o = find(p, name, eq ? (size_t)(eq - name) : strlen(name));
	if (o && o->type != OPT_FLAG && !eq && i + 1 < argc)
		*span = 2;
	return o;
}

/* One argument: returns how many argv entries it used, or -1 after a message. */
static int one_arg(struct opt_parse *p, int argc, char **argv, int i)
{
	const char *a = argv[i];
	if (a[0] != '-' || a[1] != '-' || !a[2]) {
		complain(p, "unexpected argument %s", a);
		return -1;
	}
	const char *name = a + 2, *eq = strchr(name, '=');
	size_t n = eq ? (size_t)(eq - name) : strlen(name);
	const struct opt *o = find(p, name, n);
	if (!o) {
		complain(p, "unknown option --%.*s (see --help)", (int)n, name);
		return -1;
	}
	const char *value = NULL;
	int used = 1;
	if (o->type == OPT_FLAG) {
		if (eq) {
			complain(p, "--%s takes no value", o->name);
			return -1;
		}
	} else if (eq) {
		value = eq + 1;
	} else if (i + 1 < argc) {
		value = argv[i + 1];
		used = 2;
	} else {
		complain(p, "--%s needs a value", o->name);
		return -1;
	}
	const char *why;
	if (opt_set(p, o->name, value, &why) < 0) {
		if (value)
			complain(p, "--%s %s: %s", o->name, value, why);
		else
			complain(p, "--%s %s", o->name, why);
		return -1;
	}
	return used;
}

int opt_parse_argv(struct opt_parse *p, int argc, char **argv)
{
	for (int i = 1; i < argc;) {
		if (strcmp(argv[i], "--help") == 0) {
			opt_usage(p, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", p->prog, p->version ? p->version : "");
			return 0;
		}
		int used = one_arg(p, argc, argv, i);
		if (used < 0)
			return 2;
		i += used;
	}
	return -1;
}

/* " [worker, router]": whose option it is, when not this process's. */
static void owners(unsigned procs, FILE *f)
{
	static const char *const names[] = {"supervisor", "worker", "router"};
	const char *sep = " [";
	for (int i = 0; i < 3; i++)
		if (procs & (1u << i)) {
			fprintf(f, "%s%s", sep, names[i]);
			sep = ", ";
		}
	fputc(']', f);
}

/* Every option of the group (so that each program lists them all), marked
 * with its owners where this process does not take it. */
static void usage_group(const struct opt_parse *p, const struct opt_group *g, FILE *f)
{
	bool titled = false;
	for (const struct opt *o = g->opts; o->name; o++) {
		if (find(p, o->name, strlen(o->name)) != o)
			continue; /* another owner's entry of this name is the one in force */
		if (!titled)
			fprintf(f, "\n%s:\n", g->title);
		titled = true;
		char left[64];
		const char *arg = o->arg ? o->arg : type_arg[o->type];
		snprintf(left, sizeof left, "--%s%s%s", o->name, *arg ? " " : "", arg);
		fprintf(f, "  %-30s %s", left, o->help);
		if (o->def)
			fprintf(f, " (default %s)", o->def);
		if (!(o->procs & p->self))
			owners(o->procs, f);
		fputc('\n', f);
	}
}

void opt_usage(const struct opt_parse *p, FILE *f)
{
	if (p->usage_line)
		fprintf(f, "%s\n", p->usage_line);
	for (int g = 0; p->groups[g]; g++)
		usage_group(p, p->groups[g], f);
	fprintf(f, "\n  --help, --version\n");
}

void opt_free(struct opt_parse *p)
{
	for (int i = 0; i < p->owned.n; i++)
		free((void *)p->owned.v[i]);
	free(p->owned.v);
	free(p->pass_worker.v);
	free(p->pass_router.v);
	p->owned = p->pass_worker = p->pass_router = (struct opt_list){0};
}
