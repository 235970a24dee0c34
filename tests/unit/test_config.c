/* common/config: the configuration file's parser (limits, long lines, bad
 * input), its application to option tables, flags over the file, and the
 * example and man page generated from the tables. */
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"
#include "check.h"

static long c_count;
static bool c_flag;
static const char *c_name;
static struct opt_list c_list;
static long w_count;
static int c_ms;
static const char *r_name, *s_listen;

static const struct opt opts[] = {
	{"count", OPT_INT, NULL, "7", "a count", OPT_SUPERVISOR, &c_count, 1, 100, NULL, NULL},
	{"flag", OPT_FLAG, NULL, NULL, "a flag", OPT_SUPERVISOR, &c_flag, 0, 0, NULL, NULL},
	{"name", OPT_STR, "NAME", "x", "a name", OPT_SUPERVISOR | OPT_ROUTER, &c_name, 0, 0, NULL, NULL},
	{"each", OPT_LIST, NULL, NULL, "repeatable", OPT_SUPERVISOR, &c_list, 0, 0, NULL, NULL},
	{"wcount", OPT_INT, NULL, "1", "the worker's", OPT_WORKER, &w_count, 0, 0, NULL, NULL},
	{"listen", OPT_STR, "HOST:PORT", NULL, "the supervisor's", OPT_SUPERVISOR, &s_listen, 0, 0, NULL, NULL},
	{"listen", OPT_STR, "URL", NULL, "the router's", OPT_ROUTER, &r_name, 0, 0, NULL, NULL},
	{"config", OPT_STR, "FILE", NULL, "a file", OPT_SUPERVISOR, &c_name, 0, 0, NULL, NULL},
	{"secs", OPT_SECONDS, NULL, "1", "a time", OPT_SUPERVISOR, &c_ms, 0, 3600, NULL, NULL},
	{.name = NULL},
};
static const struct opt_group group = {"core", opts};
static const struct opt_group *const groups[] = {&group, NULL};

static struct opt_parse fresh(unsigned self)
{
	c_list = (struct opt_list){0};
	c_flag = false;
	w_count = 0;
	r_name = s_listen = NULL;
	struct opt_parse p = {.prog = "test", .self = self, .groups = groups};
	opt_defaults(&p);
	return p;
}

static bool parses(const char *text)
{
	struct config c;
	int line;
	const char *why;
	int rc = config_parse(text, strlen(text), &c, &line, &why);
	config_free(&c);
	return rc == 0;
}

/* The line and reason config_parse or config_apply gives for text. */
static int fails_at(unsigned self, const char *text, char *why, size_t cap)
{
	struct opt_parse p = fresh(self);
	struct config c;
	int line = -1;
	const char *err;
	char *argv[] = {"test", NULL};
	if (config_parse(text, strlen(text), &c, &line, &err) < 0)
		snprintf(why, cap, "%s", err);
	else if (config_apply(&p, &c, 1, argv, &line, why, cap) == 0)
		line = -1;
	config_free(&c);
	free(c_list.v);
	opt_free(&p);
	return line;
}

static void test_syntax(void)
{
	struct config c;
	int line;
	const char *why;
	const char *text = "# a comment\n\n  count 5\nname = y z \r\n\tflag\neach=a\n   # indented comment\neach b";
	CHECK("config: both forms, comments, blanks, CRLF and no final newline parse",
	      config_parse(text, strlen(text), &c, &line, &why) == 0 && c.n == 5);
	CHECK("config: names and values are trimmed, inner spaces kept",
	      c.n == 5 && strcmp(c.e[0].name, "count") == 0 && strcmp(c.e[0].value, "5") == 0 && c.e[0].line == 3 &&
		  strcmp(c.e[1].value, "y z") == 0 && strcmp(c.e[2].value, "") == 0 && strcmp(c.e[3].name, "each") == 0 &&
		  strcmp(c.e[3].value, "a") == 0 && c.e[4].line == 8);
	config_free(&c);
	CHECK("config: an empty file parses", parses(""));
	CHECK("config: a name with dashes is refused", !parses("--count 5\n"));
	CHECK("config: a bad character in a name is refused", !parses("co_unt 5\n"));
	CHECK("config: a control character is refused", !parses("name a\x01" "b\n"));
	CHECK("config: a NUL byte is refused", config_parse("name a\0b\n", 9, &c, &line, &why) < 0 && line == 1);
	char *big = malloc(CONFIG_MAX_LINE + 16);
	memset(big, 'x', CONFIG_MAX_LINE + 8);
	memcpy(big, "name ", 5);
	big[CONFIG_MAX_LINE] = 0;
	CHECK("config: a line of 4096 bytes parses", parses(big));
	big[CONFIG_MAX_LINE] = 'x';
	big[CONFIG_MAX_LINE + 1] = 0;
	CHECK("config: a line of 4097 bytes is refused with its number",
	      config_parse(big, strlen(big), &c, &line, &why) < 0 && line == 1 && strstr(why, "4096"));
	free(big);
	char *many = malloc(8 * (CONFIG_MAX_ENTRIES + 2));
	size_t n = 0;
	for (int i = 0; i <= CONFIG_MAX_ENTRIES; i++)
		n += (size_t)sprintf(many + n, "each a\n");
	CHECK("config: more than 4096 options are refused",
	      config_parse(many, n, &c, &line, &why) < 0 && line == CONFIG_MAX_ENTRIES + 1);
	free(many);
	CHECK("config: a file over 1 MiB is refused", config_parse("", CONFIG_MAX_FILE + 1, &c, &line, &why) < 0);
}

static void test_values(void)
{
	char why[256];
	CHECK("config: an unknown option names the line", fails_at(OPT_SUPERVISOR, "count 5\nnope 1\n", why,
								   sizeof why) == 2 && strstr(why, "nope: unknown"));
	CHECK("config: a value out of range gives the bounds",
	      fails_at(OPT_SUPERVISOR, "\n\ncount 101\n", why, sizeof why) == 3 && strstr(why, "from 1 to 100"));
	CHECK("config: a malformed value is refused", fails_at(OPT_SUPERVISOR, "count 5x\n", why, sizeof why) == 1);
	/* past the range of long long: refused before any conversion (UBSan) */
	CHECK("config: a huge number of seconds is refused",
	      fails_at(OPT_SUPERVISOR, "secs 777777777777777777777777777775.5\n", why, sizeof why) == 1 &&
		  strstr(why, "from 0 to 3600"));
	CHECK("config: a missing value is refused",
	      fails_at(OPT_SUPERVISOR, "name\n", why, sizeof why) == 1 && strstr(why, "needs a value"));
	CHECK("config: a flag takes yes or no only",
	      fails_at(OPT_SUPERVISOR, "flag maybe\n", why, sizeof why) == 1 && strstr(why, "yes or no"));
	CHECK("config: --config is not for the file",
	      fails_at(OPT_SUPERVISOR, "config x\n", why, sizeof why) == 1 && strstr(why, "command line"));
	CHECK("config: a child's bad value is caught by the supervisor",
	      fails_at(OPT_SUPERVISOR, "wcount -1\n", why, sizeof why) == 1);
	CHECK("config: another program's options are skipped, not refused",
	      fails_at(OPT_WORKER, "count 5\nname y\n", why, sizeof why) == -1);
}

static void test_apply(void)
{
	struct opt_parse p = fresh(OPT_SUPERVISOR);
	struct config c;
	int line;
	const char *err;
	char why[256];
	const char *text = "count 5\nflag yes\nname file\neach a\neach b\nwcount 9\nlisten 1.2.3.4:5\n";
	char *argv[] = {"test", "--name", "flag", "--each=c", NULL};
	CHECK("config: a file applies", config_parse(text, strlen(text), &c, &line, &err) == 0 &&
						 config_apply(&p, &c, 4, argv, &line, why, sizeof why) == 0);
	CHECK("config: values land typed", c_count == 5 && c_flag && strcmp(s_listen, "1.2.3.4:5") == 0);
	CHECK("config: an option on the command line overrides every line of it",
	      strcmp(c_name, "x") == 0 && c_list.n == 0);
	CHECK("config: the supervisor passes a child's option on as a flag", p.pass_worker.n == 2 &&
	      strcmp(p.pass_worker.v[0], "--wcount") == 0 && strcmp(p.pass_worker.v[1], "9") == 0);
	free(c_list.v);
	opt_free(&p);
	p = fresh(OPT_ROUTER);
	char *none[] = {"test", NULL};
	CHECK("config: the router reads the file as the supervisor does",
	      config_apply(&p, &c, 1, none, &line, why, sizeof why) == 0 && strcmp(c_name, "file") == 0 && !r_name);
	opt_free(&p);
	config_free(&c);
	p = fresh(OPT_SUPERVISOR);
	const char *off = "flag no\n";
	CHECK("config: \"flag no\" leaves a flag off", config_parse(off, strlen(off), &c, &line, &err) == 0 &&
							   config_apply(&p, &c, 1, none, &line, why, sizeof why) == 0 &&
							   !c_flag);
	config_free(&c);
	opt_free(&p);
}

static void test_documents(void)
{
	struct opt_parse p = fresh(OPT_SUPERVISOR);
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	config_example(&p, f);
	fclose(f);
	CHECK("config: the example lists each option with its default, commented out",
	      text && strstr(text, "\n#count 7\n") && strstr(text, "\n#flag no\n") && strstr(text, "\n#wcount 1\n") &&
		  !strstr(text, "#config"));
	struct config c;
	int line;
	const char *err;
	char why[256];
	char *argv[] = {"test", NULL};
	CHECK("config: the example parses and applies as it is",
	      config_parse(text, n, &c, &line, &err) == 0 && c.n == 0 &&
		  config_apply(&p, &c, 1, argv, &line, why, sizeof why) == 0);
	config_free(&c);
	free(text);
	text = NULL;
	f = open_memstream(&text, &n);
	opt_man(&p, f);
	fclose(f);
	CHECK("config: the man page section escapes dashes and shows arguments",
	      text && strstr(text, ".SH OPTIONS\n") && strstr(text, ".BI \\-\\-count \" N\"\n") &&
		  strstr(text, "Passed on to switchboard\\-worker."));
	free(text);
	opt_free(&p);
}

void test_config(void)
{
	test_syntax();
	test_values();
	test_apply();
	test_documents();
}
