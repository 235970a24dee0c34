/* common/options: typed, bounded options from tables; hand-over to children; help. */
#include <stdlib.h>
#include <string.h>

#include "../../common/options.h"
#include "check.h"

static size_t o_size;
static int o_ms;
static long o_n;
static bool o_flag;
static const char *o_str;
static struct opt_list o_list;
static size_t w_size;
static long r_n;
static const char *o_str2;
static int hook_calls;

static int hook(unsigned self, const char *value, const char **why)
{
	(void)self;
	hook_calls++;
	if (strcmp(value, "bad") == 0) {
		*why = "the hook says no";
		return -1;
	}
	return 0;
}

static const struct opt core_opts[] = {
	{"size", OPT_SIZE, NULL, "1m", "a size", OPT_SUPERVISOR, &o_size, 1, 1LL << 30, NULL, NULL},
	{"secs", OPT_SECONDS, NULL, "2.5", "a time", OPT_SUPERVISOR, &o_ms, 0, 3600, NULL, NULL},
	{"count", OPT_INT, NULL, "7", "a count", OPT_SUPERVISOR, &o_n, 1, 100, NULL, NULL},
	{"flag", OPT_FLAG, NULL, NULL, "a flag", OPT_SUPERVISOR, &o_flag, 0, 0, NULL, NULL},
	{"name", OPT_STR, "NAME", "x", "a name", OPT_SUPERVISOR, &o_str, 0, 0, NULL, NULL},
	{"each", OPT_LIST, NULL, NULL, "repeatable", OPT_SUPERVISOR, &o_list, 0, 0, NULL, NULL},
	{"wsize", OPT_SIZE, NULL, "64k", "the worker's", OPT_WORKER, &w_size, 0, 0, NULL, NULL},
	{"both", OPT_INT, NULL, "3", "worker and router", OPT_WORKER | OPT_ROUTER, &r_n, 0, 0, NULL, NULL},
	{"wflag", OPT_FLAG, NULL, NULL, "a worker flag", OPT_WORKER, &o_flag, 0, 0, NULL, NULL},
	{"noted", OPT_INT, NULL, NULL, "bounded, with a why", OPT_SUPERVISOR, &o_n, 1, 9, "for a test", NULL},
	{"hooked", OPT_STR, NULL, NULL, "with a hook", OPT_SUPERVISOR | OPT_WORKER, &o_str, 0, 0, NULL, hook},
	/* one name, two owners: each process finds its own */
	{"twice", OPT_STR, "SUP", NULL, "the supervisor's", OPT_SUPERVISOR, &o_str, 0, 0, NULL, NULL},
	{"twice", OPT_STR, "RTR", NULL, "the router's", OPT_ROUTER, &o_str2, 0, 0, NULL, NULL},
	{.name = NULL},
};
static const struct opt_group core = {"core", core_opts};
static const struct opt_group *const groups[] = {&core, NULL};

static struct opt_parse fresh(unsigned self)
{
	o_list = (struct opt_list){0};
	o_flag = false;
	w_size = 0;
	r_n = 0;
	struct opt_parse p = {.prog = "test", .self = self, .groups = groups};
	opt_defaults(&p);
	return p;
}

static int run(struct opt_parse *p, const char *const *args)
{
	char *argv[32] = {"test"};
	int argc = 1;
	for (; args[argc - 1]; argc++)
		argv[argc] = (char *)args[argc - 1];
	FILE *saved = stderr;
	stderr = fopen("/dev/null", "w");
	int rc = opt_parse_argv(p, argc, argv);
	fclose(stderr);
	stderr = saved;
	return rc;
}

static void test_values(void)
{
	struct opt_parse p = fresh(OPT_SUPERVISOR);
	CHECK("options: defaults are parsed from their text",
	      o_size == 1 << 20 && o_ms == 2500 && o_n == 7 && strcmp(o_str, "x") == 0 && !o_flag);
	const char *a[] = {"--size", "3k", "--secs=0.25", "--count", "100", "--flag", "--name", "y",
			   "--each", "a", "--each=b", NULL};
	CHECK("options: a full command line parses", run(&p, a) == -1);
	CHECK("options: values land typed", o_size == 3072 && o_ms == 250 && o_n == 100 && o_flag &&
						     strcmp(o_str, "y") == 0);
	CHECK("options: a list keeps every value in order",
	      o_list.n == 2 && strcmp(o_list.v[0], "a") == 0 && strcmp(o_list.v[1], "b") == 0);
	free(o_list.v);
	opt_free(&p);
}

static void test_errors(void)
{
	static const char *const bad[][4] = {
		{"--nope", NULL},        {"--count", "101", NULL}, {"--count", "0", NULL},
		{"--count", "7x", NULL}, {"--size", "-1", NULL},   {"--size", "1t", NULL},
		{"--secs", "nan", NULL}, {"--secs", "-1", NULL},   {"--count", NULL},
		{"--flag=1", NULL},      {"plain", NULL},          {"--name", "", NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct opt_parse p = fresh(OPT_SUPERVISOR);
		char name[96];
		snprintf(name, sizeof name, "options: %s %s is a usage error", bad[i][0], bad[i][1] ? bad[i][1] : "");
		CHECK(name, run(&p, (const char *const *)bad[i]) == 2);
		free(o_list.v);
		opt_free(&p);
	}
	struct opt_parse p = fresh(OPT_WORKER);
	const char *sup[] = {"--count", "5", NULL};
	CHECK("options: another process's option is refused by name", run(&p, sup) == 2);
	const char *why = NULL;
	CHECK("options: opt_set says whose option it is",
	      opt_set(&p, "count", "5", &why) < 0 && why && strstr(why, "supervisor"));
	opt_free(&p);
}

static void test_hand_over(void)
{
	struct opt_parse p = fresh(OPT_SUPERVISOR);
	const char *a[] = {"--wsize", "1m", "--both", "4", "--wflag", "--count", "9", NULL};
	CHECK("options: children's options parse in the supervisor", run(&p, a) == -1);
	CHECK("options: the supervisor checks them but does not take them", w_size == 0 && r_n == 0);
	CHECK("options: the worker gets its options as given", p.pass_worker.n == 5 &&
	      strcmp(p.pass_worker.v[0], "--wsize") == 0 && strcmp(p.pass_worker.v[1], "1m") == 0 &&
	      strcmp(p.pass_worker.v[2], "--both") == 0 && strcmp(p.pass_worker.v[4], "--wflag") == 0);
	CHECK("options: the router gets only its own", p.pass_router.n == 2 &&
	      strcmp(p.pass_router.v[0], "--both") == 0 && strcmp(p.pass_router.v[1], "4") == 0);
	CHECK("options: the supervisor's own are not passed on", o_n == 9);
	opt_free(&p);
	const char *badw[] = {"--wsize", "huge", NULL};
	p = fresh(OPT_SUPERVISOR);
	CHECK("options: a child's bad value is caught by the supervisor", run(&p, badw) == 2);
	opt_free(&p);

	p = fresh(OPT_WORKER);
	const char *w[] = {"--wsize", "2k", "--both", "5", NULL};
	CHECK("options: the worker takes its own", run(&p, w) == -1 && w_size == 2048 && r_n == 5);
	opt_free(&p);
}

static void test_help(void)
{
	struct opt_parse p = fresh(OPT_SUPERVISOR);
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	opt_usage(&p, f);
	fclose(f);
	CHECK("options: help shows the group, the default and the owner",
	      text && strstr(text, "core:") && strstr(text, "--size BYTES") && strstr(text, "(default 1m)") &&
		  strstr(text, "[worker, router]"));
	free(text);
	opt_free(&p);
}

static void test_extensions(void)
{
	struct opt_parse p = fresh(OPT_SUPERVISOR);
	const char *why = NULL;
	CHECK("options: a range error gives the bounds and the note",
	      opt_set(&p, "noted", "10", &why) < 0 && why && strstr(why, "from 1 to 9") && strstr(why, "for a test"));
	hook_calls = 0;
	CHECK("options: a hook runs on the value", opt_set(&p, "hooked", "fine", &why) == 0 && hook_calls == 1);
	CHECK("options: a hook's refusal is the option's error",
	      opt_set(&p, "hooked", "bad", &why) < 0 && strcmp(why, "the hook says no") == 0);
	o_str = o_str2 = NULL;
	CHECK("options: the supervisor takes its own entry of a shared name",
	      opt_set(&p, "twice", "a", &why) == 0 && o_str && strcmp(o_str, "a") == 0 && !o_str2 &&
		  p.pass_router.n == 0);
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	opt_usage(&p, f);
	fclose(f);
	CHECK("options: help shows only the entry in force", text && strstr(text, "--twice SUP") &&
							     !strstr(text, "--twice RTR"));
	free(text);
	opt_free(&p);
	p = fresh(OPT_ROUTER);
	o_str = o_str2 = NULL;
	CHECK("options: the router takes its own entry of a shared name",
	      opt_set(&p, "twice", "b", &why) == 0 && o_str2 && strcmp(o_str2, "b") == 0 && !o_str);
	opt_free(&p);
}

void test_options(void)
{
	test_extensions();
	test_values();
	test_errors();
	test_hand_over();
	test_help();
}
