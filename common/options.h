/*
 * Options as tables. Each process (and each protocol, per half) declares its
 * options once: name, type, default, one line of help, and which processes
 * take it. From the same tables come the parser, --help grouped by owner,
 * the supervisor's hand-over of options to the router and the workers
 * (without naming any), and the configuration file.
 */
#ifndef SB_OPTIONS_H
#define SB_OPTIONS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum opt_type {
	OPT_FLAG,    /* bool: present or not */
	OPT_STR,     /* const char * */
	OPT_LIST,    /* struct opt_list: repeatable */
	OPT_INT,     /* long, within [min, max] */
	OPT_SIZE,    /* size_t bytes, within [min, max]; k, m, g suffixes (KiB, MiB, GiB) */
	OPT_SECONDS, /* int milliseconds, given as (fractional) seconds within [min, max] */
};

/* Which processes take an option (a set). */
#define OPT_SUPERVISOR 1u
#define OPT_WORKER 2u
#define OPT_ROUTER 4u
#define OPT_ALL (OPT_SUPERVISOR | OPT_WORKER | OPT_ROUTER)

struct opt_list {
	const char **v;
	int n;
};

struct opt {
	const char *name; /* without the dashes; NULL ends a table */
	enum opt_type type;
	const char *arg;  /* what the value is, for --help ("BYTES", "SEC", "URL") */
	const char *def;  /* the default as text, parsed at start; NULL: none */
	const char *help; /* one line */
	unsigned procs;   /* OPT_SUPERVISOR | OPT_WORKER | OPT_ROUTER */
	void *dst;        /* where the value goes, per type (see enum opt_type) */
	long long min, max; /* OPT_INT, OPT_SIZE; OPT_SECONDS in seconds. 0, 0: no bound but >= 0 */
	const char *note;   /* said after a range error: why the bounds are what they are; or NULL */
	/* Run when this process takes a value (after it is stored): reads a key
	 * file, sets the log level. 0, or -1 with *why. NULL: nothing to do. */
	int (*hook)(unsigned self, const char *value, const char **why);
};

struct opt_group {
	const char *title; /* "core", or the protocol's name */
	const struct opt *opts;
};

/* Outcome of a parse: 0 to run, or an exit status (0 after --help/--version). */
struct opt_parse {
	const char *prog;     /* for messages: "switchboard-router" */
	unsigned self;        /* this process: one OPT_* bit */
	const struct opt_group *const *groups; /* NULL-terminated */
	/* Options of the other processes (supervisor only): appended here, as given. */
	struct opt_list pass_worker, pass_router;
	struct opt_list owned; /* the "--name" strings made for those */
	const char *usage_line; /* printed first by --help */
	const char *version;
};

/*
 * Two owners may use one name for different things (the supervisor's
 * --listen HOST:PORT, the router's --listen URL): a process finds its own
 * entry first, and --help shows only the entry it would find.
 */

/* Sets every option that has a default; -1 (with a message) on a bad default. */
int opt_defaults(struct opt_parse *p);
/*
 * Parses argv[1..]: "--name value", "--name=value", flags as "--name".
 * Unknown options, a missing or malformed value, and options that belong to
 * no process this one runs or starts are errors naming the option. Returns
 * -1 to go on, or the exit status to leave with (0 for --help/--version, 2
 * for usage errors).
 */
int opt_parse_argv(struct opt_parse *p, int argc, char **argv);
/* One option by name and value, as from a configuration file; 0 or -1 with *why. */
int opt_set(struct opt_parse *p, const char *name, const char *value, const char **why);
/*
 * The entry a name stands for as process `prefer` would read it (its own
 * entry first, else the first), or NULL. The configuration file is read as
 * the supervisor reads it, whichever process reads it (common/config.c).
 */
const struct opt *opt_find(const struct opt_parse *p, const char *name, unsigned prefer);
/* opt_set for an entry already found; 0 or -1 with *why. */
int opt_set_entry(struct opt_parse *p, const struct opt *o, const char *value, const char **why);
/* The option argv[i] names ("--name" or "--name=value"), or NULL, with in
 * *span how many entries of argv it takes (1 or 2). */
const struct opt *opt_argv_at(const struct opt_parse *p, int argc, char **argv, int i, int *span);
/* --help: every option, grouped by owner (core, then each protocol), each
 * marked with the processes that take it when this one does not. */
void opt_usage(const struct opt_parse *p, FILE *f);
/* --help-man: the OPTIONS section of this program's manual page, in troff
 * (common/options_doc.c), from the same tables as --help. */
void opt_man(const struct opt_parse *p, FILE *f);
/* Frees what the parser grew (lists of OPT_LIST options stay: they are the caller's). */
void opt_free(struct opt_parse *p);

#endif
