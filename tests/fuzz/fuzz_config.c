/*
 * The configuration file's parser (common/config.c) over arbitrary bytes,
 * then its application to a small table of every option type: no input may
 * crash, read past its end or leak, and a parsed entry always has a name of
 * letters, digits and dashes and lies on a line the file has.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"

static long n;
static size_t sz;
static int ms;
static bool flag;
static const char *str;
static struct opt_list list;
static long child;

static const struct opt opts[] = {
	{"count", OPT_INT, NULL, "7", "", OPT_SUPERVISOR, &n, 1, 100, NULL, NULL},
	{"size", OPT_SIZE, NULL, "1k", "", OPT_SUPERVISOR, &sz, 0, 0, NULL, NULL},
	{"secs", OPT_SECONDS, NULL, "1", "", OPT_SUPERVISOR, &ms, 0, 3600, NULL, NULL},
	{"flag", OPT_FLAG, NULL, NULL, "", OPT_SUPERVISOR, &flag, 0, 0, NULL, NULL},
	{"name", OPT_STR, NULL, NULL, "", OPT_SUPERVISOR, &str, 0, 0, NULL, NULL},
	{"each", OPT_LIST, NULL, NULL, "", OPT_SUPERVISOR, &list, 0, 0, NULL, NULL},
	{"child", OPT_INT, NULL, NULL, "", OPT_WORKER | OPT_ROUTER, &child, 0, 0, NULL, NULL},
	{.name = NULL},
};
static const struct opt_group group = {"core", opts};
static const struct opt_group *const groups[] = {&group, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	int line;
	const char *why;
	if (config_parse((const char *)data, size, &c, &line, &why) < 0)
		return 0;
	int lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	for (int i = 0; i < c.n; i++) {
		size_t len = strlen(c.e[i].name);
		if (!len || strspn(c.e[i].name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != len ||
		    c.e[i].line < 1 || c.e[i].line > lines)
			abort();
	}
	struct opt_parse p = {.prog = "fuzz", .self = OPT_SUPERVISOR, .groups = groups};
	char *argv[] = {"fuzz", "--count", "3", NULL};
	char err[256];
	list = (struct opt_list){0};
	if (opt_defaults(&p) == 0)
		(void)config_apply(&p, &c, 3, argv, &line, err, sizeof err);
	free(list.v);
	opt_free(&p);
	config_free(&c);
	return 0;
}
