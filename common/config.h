/*
 * The configuration file (--config FILE, else
 * /etc/switchboard/switchboard.conf when it exists): one option a line,
 * "name value" or "name = value", a flag alone (or "name yes"/"name no"),
 * "#" comment lines. Every option of the tables (options.h) may be set
 * there but the few that are commands (config_allowed). The file is read as
 * the supervisor reads it, whichever process reads it, so one file serves
 * all three: a process skips the options of the others, and the supervisor
 * passes its children's on as it does flags (and gives them --config
 * none, so that they do not read it again). Flags override the file: an
 * option given on the command line ignores every line of it in the file.
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "options.h"

#define CONFIG_DEFAULT_PATH "/etc/switchboard/switchboard.conf"
#define CONFIG_MAX_FILE (1 << 20) /* bytes */
#define CONFIG_MAX_LINE 4096      /* bytes, without the newline */
#define CONFIG_MAX_ENTRIES 4096

struct config_entry {
	const char *name, *value; /* value "" when the line has only the name */
	int line;
};

struct config {
	char *text; /* the file's copy that name and value point into */
	struct config_entry *e;
	int n;
};

/*
 * Parses len bytes of text (no NUL needed): 0, or -1 with the line (0 for
 * the whole file) and the reason. Limits: CONFIG_MAX_*; names of letters,
 * digits and dashes; no control characters but tabs.
 */
int config_parse(const char *text, size_t len, struct config *c, int *line, const char **why);
void config_free(struct config *c);
/*
 * Sets the options of c in p, but those given in argv: 0, or -1 with the
 * line and the reason in why (whycap bytes).
 */
int config_apply(struct opt_parse *p, const struct config *c, int argc, char **argv, int *line, char *why,
		 size_t whycap);
/*
 * For core_options_parse: reads the file of --config FILE in argv, else
 * default_path when it exists ("--config none": no
 * file), and applies it. -1 to go on, or 2 after printing FILE:LINE: reason.
 * Skipped for --help, --version and the other printing options.
 */
int config_load(struct opt_parse *p, int argc, char **argv, const char *default_path);
/* The file config_load read, or NULL. */
extern const char *config_path;
/* Whether o may be set in a file (not --config itself, --check-config...). */
bool config_allowed(const struct opt *o);
/* --help-config: the example file, every option with its help, owners and
 * default as comments (contrib/switchboard.conf is this output). */
void config_example(const struct opt_parse *p, FILE *f);

#endif
