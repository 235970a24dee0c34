/*
 * Documents from the option tables (options.h), so that they cannot drift
 * from --help: the OPTIONS section of each program's manual page
 * (--help-man; the rest of each page is hand-written troff in
 * man/<program>.1.in, and the Makefile puts the two together into
 * build/man/<program>.1), and the example configuration file
 * (--help-config, shipped as contrib/switchboard.conf).
 */
#include "options.h"

#include "config.h"

#include <string.h>

static const char *const type_arg[] = {
	[OPT_FLAG] = "", [OPT_STR] = "VALUE", [OPT_LIST] = "VALUE", [OPT_INT] = "N", [OPT_SIZE] = "BYTES",
	[OPT_SECONDS] = "SEC",
};

/* Text for troff: backslashes and dashes escaped, so that a value such as
 * --name or $DIR\x is printed as written and nothing starts a request. */
static void put_text(const char *s, FILE *f)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

/* "Passed on to switchboard-worker and switchboard-router." for the
 * supervisor's man page: the options it checks and hands to its children. */
static void passed_to(unsigned procs, FILE *f)
{
	bool w = procs & OPT_WORKER, r = procs & OPT_ROUTER;
	fputs(" Passed on to ", f);
	if (w)
		put_text("switchboard-worker", f);
	if (w && r)
		fputs(" and ", f);
	if (r)
		put_text("switchboard-router", f);
	fputs(".", f);
}

/* One option as a tagged paragraph: the name in bold, its argument in
 * italics, then the help line with the default and who takes it. */
static void man_option(const struct opt_parse *p, const struct opt *o, FILE *f)
{
	const char *arg = o->arg ? o->arg : type_arg[o->type];
	fputs(".TP\n", f);
	fputs(*arg ? ".BI \\-\\-" : ".B \\-\\-", f);
	put_text(o->name, f);
	if (*arg) {
		fputs(" \" ", f);
		put_text(arg, f);
		fputc('"', f);
	}
	fputs("\n\\&", f); /* \& : the text never starts a request */
	put_text(o->help, f);
	if (o->def) {
		fputs(" (default ", f);
		put_text(o->def, f);
		fputc(')', f);
	}
	fputc('.', f);
	if (!(o->procs & p->self))
		passed_to(o->procs, f);
	fputc('\n', f);
}

void opt_man(const struct opt_parse *p, FILE *f)
{
	fputs(".SH OPTIONS\n", f);
	for (int g = 0; p->groups[g]; g++) {
		bool titled = false;
		for (const struct opt *o = p->groups[g]->opts; o->name; o++) {
			bool mine = o->procs & p->self;
			bool passed = p->self == OPT_SUPERVISOR && (o->procs & (OPT_WORKER | OPT_ROUTER));
			if (opt_find(p, o->name, p->self) != o || (!mine && !passed))
				continue;
			if (!titled) {
				fputs(".SS ", f);
				put_text(p->groups[g]->title, f);
				fputs(" options\n", f);
				titled = true;
			}
			man_option(p, o, f);
		}
	}
	fputs(".TP\n.B \\-\\-help\nPrint every option, grouped by owner, and exit.\n"
	      ".TP\n.B \\-\\-version\nPrint the version and exit.\n"
	      ".TP\n.B \\-\\-help\\-man\nPrint this section of the manual page, in troff, and exit.\n", f);
}

/* "# taken by switchboard-worker": who takes an option, in the example file. */
static void owners(unsigned procs, bool list, FILE *f)
{
	static const char *const names[] = {"switchboard", "switchboard-worker", "switchboard-router"};
	const char *sep = "# taken by ";
	for (int i = 0; i < 3; i++)
		if (procs & (1u << i)) {
			fprintf(f, "%s%s", sep, names[i]);
			sep = ", ";
		}
	fputs(list ? "; repeatable, one line each\n" : "\n", f);
}

static void example_option(const struct opt *o, FILE *f)
{
	const char *arg = o->arg ? o->arg : type_arg[o->type];
	fprintf(f, "\n# %s\n", o->help);
	owners(o->procs, o->type == OPT_LIST, f);
	if (o->type == OPT_FLAG)
		fprintf(f, "#%s no\n", o->name);
	else if (o->def)
		fprintf(f, "#%s %s\n", o->name, o->def);
	else
		fprintf(f, "#%s %s\n", o->name, arg);
}

void config_example(const struct opt_parse *p, FILE *f)
{
	fputs("# switchboard configuration file: every option of switchboard, switchboard-worker,\n"
	      "# switchboard-router and the protocols, each commented out with its default (or the\n"
	      "# kind of value it takes when it has none). Generated from the option tables by\n"
	      "# \"switchboard --help-config\"; \"switchboard --check-config\" checks a file.\n"
	      "#\n"
	      "# One option a line: \"name value\" or \"name = value\", as --name value on the\n"
	      "# command line; a flag as \"name yes\" (or alone), \"name no\" to leave it off.\n"
	      "# Lines starting with # are comments. Options given on the command line\n"
	      "# override every line of the same option here. Each program reads\n"
	      "# " CONFIG_DEFAULT_PATH " when it exists, or --config FILE,\n"
	      "# taking its own options and skipping the others' (switchboard passes its\n"
	      "# children theirs), so that one file serves every layout.\n", f);
	for (int g = 0; p->groups[g]; g++) {
		bool titled = false;
		for (const struct opt *o = p->groups[g]->opts; o->name; o++) {
			if (opt_find(p, o->name, OPT_SUPERVISOR) != o || !config_allowed(o))
				continue;
			if (!titled)
				fprintf(f, "\n# ---- %s options ----\n", p->groups[g]->title);
			titled = true;
			example_option(o, f);
		}
	}
}
