/*
 * The configuration file's parser, its application to the option tables,
 * and the example file (config.h). The parser is a plain function over
 * bytes, fuzzed by tests/fuzz/fuzz_config.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *config_path;

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* One line (NUL-terminated, without its newline): an entry, nothing, or -1. */
static int parse_line(char *s, int line, struct config *c, const char **why)
{
	while (blank(*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && blank(end[-1]))
		*--end = 0;
	if (!*s || *s == '#')
		return 0;
	for (char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t') {
			*why = "a control character";
			return -1;
		}
	if (s[0] == '-') {
		*why = "an option name is written without the leading --";
		return -1;
	}
	char *name = s;
	while (name_char(*s))
		s++;
	if (s == name || (*s && !blank(*s) && *s != '=')) {
		*why = "expected an option name (letters, digits, dashes), then a value";
		return -1;
	}
	char *name_end = s;
	while (blank(*s))
		s++;
	if (*s == '=')
		for (s++; blank(*s); s++)
			;
	*name_end = 0;
	if (c->n >= CONFIG_MAX_ENTRIES) {
		*why = "more than 4096 options";
		return -1;
	}
	c->e[c->n++] = (struct config_entry){.name = name, .value = s, .line = line};
	return 0;
}

int config_parse(const char *text, size_t len, struct config *c, int *line, const char **why)
{
	*c = (struct config){0};
	*line = 0;
	if (len > CONFIG_MAX_FILE) {
		*why = "larger than 1 MiB";
		return -1;
	}
	c->text = malloc(len + 1);
	c->e = malloc(CONFIG_MAX_ENTRIES * sizeof *c->e);
	if (!c->text || !c->e) {
		config_free(c);
		*why = "out of memory";
		return -1;
	}
	memcpy(c->text, text, len);
	c->text[len] = 0;
	char *s = c->text, *stop = c->text + len;
	for (int ln = 1; s < stop; ln++) {
		char *nl = memchr(s, '\n', (size_t)(stop - s));
		char *eol = nl ? nl : stop;
		*line = ln;
		if (memchr(s, 0, (size_t)(eol - s))) {
			*why = "a NUL byte";
			config_free(c);
			return -1;
		}
		if (eol - s > CONFIG_MAX_LINE) {
			*why = "a line longer than 4096 bytes";
			config_free(c);
			return -1;
		}
		*eol = 0;
		if (parse_line(s, ln, c, why) < 0) {
			config_free(c);
			return -1;
		}
		s = eol + 1;
	}
	*line = 0;
	return 0;
}

void config_free(struct config *c)
{
	free(c->text);
	free(c->e);
	*c = (struct config){0};
}

bool config_allowed(const struct opt *o)
{
	static const char *const commands[] = {"config", "check-config", "bus-fd", "store-stats", NULL};
	for (int i = 0; commands[i]; i++)
		if (strcmp(o->name, commands[i]) == 0)
			return false;
	return true;
}

/* Flags override the file: is o's name given on the command line? */
static bool on_command_line(const struct opt_parse *p, const struct opt *o, int argc, char **argv)
{
	for (int i = 1; i < argc;) {
		int span;
		const struct opt *a = opt_argv_at(p, argc, argv, i, &span);
		if (a && strcmp(a->name, o->name) == 0)
			return true;
		i += span;
	}
	return false;
}

/* A flag's value: 1 set, 0 not set, -1 neither. */
static int flag_value(const char *v)
{
	static const char *const yes[] = {"", "yes", "true", "on", "1", NULL}, *const no[] = {"no", "false", "off", "0", NULL};
	for (int i = 0; yes[i]; i++)
		if (strcmp(v, yes[i]) == 0)
			return 1;
	for (int i = 0; no[i]; i++)
		if (strcmp(v, no[i]) == 0)
			return 0;
	return -1;
}

static int apply_one(struct opt_parse *p, const struct config_entry *e, int argc, char **argv, char *why,
		     size_t whycap)
{
	const struct opt *o = opt_find(p, e->name, OPT_SUPERVISOR);
	const char *err = NULL;
	if (!o)
		err = "unknown option";
	else if (!config_allowed(o))
		err = "is for the command line only";
	if (err) {
		snprintf(why, whycap, "%s: %s", e->name, err);
		return -1;
	}
	if (on_command_line(p, o, argc, argv) || (!(o->procs & p->self) && p->self != OPT_SUPERVISOR))
		return 0; /* overridden, or another program's */
	const char *value = e->value;
	if (o->type == OPT_FLAG) {
		int on = flag_value(value);
		if (on < 0) {
			snprintf(why, whycap, "%s %s: a flag takes yes or no (or nothing)", e->name, value);
			return -1;
		}
		if (!on)
			return 0;
		value = NULL;
	} else if (!*value) {
		snprintf(why, whycap, "%s: needs a value", e->name);
		return -1;
	}
	if (opt_set_entry(p, o, value, &err) < 0) {
		snprintf(why, whycap, "%s%s%s: %s", e->name, value ? " " : "", value ? value : "", err);
		return -1;
	}
	return 0;
}

int config_apply(struct opt_parse *p, const struct config *c, int argc, char **argv, int *line, char *why,
		 size_t whycap)
{
	for (int i = 0; i < c->n; i++)
		if (apply_one(p, &c->e[i], argc, argv, why, whycap) < 0) {
			*line = c->e[i].line;
			return -1;
		}
	return 0;
}

/* The whole file into memory, at most CONFIG_MAX_FILE + 1 bytes (one more:
 * config_parse then says it is too large). */
static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *buf = malloc(CONFIG_MAX_FILE + 1);
	size_t n = 0;
	while (buf && n < CONFIG_MAX_FILE + 1) {
		ssize_t r = read(fd, buf + n, CONFIG_MAX_FILE + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			buf = NULL;
		}
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	int saved = errno;
	close(fd);
	errno = saved;
	*len = n;
	return buf;
}

/* The file argv names with --config, else default_path if it exists, or NULL. */
static const char *which_file(const struct opt_parse *p, int argc, char **argv, const char *default_path)
{
	static const char *const printing[] = {"--help", "--version", "--help-man", "--help-config", NULL};
	for (int i = 1; i < argc; i++)
		for (int j = 0; printing[j]; j++)
			if (strcmp(argv[i], printing[j]) == 0)
				return NULL;
	for (int i = 1; i < argc;) {
		int span;
		const struct opt *o = opt_argv_at(p, argc, argv, i, &span);
		if (o && strcmp(o->name, "config") == 0) {
			const char *eq = strchr(argv[i], '=');
			const char *v = eq ? eq + 1 : span == 2 ? argv[i + 1] : NULL;
			return v && strcmp(v, "none") != 0 ? v : NULL;
		}
		i += span;
	}
	if (default_path && access(default_path, F_OK) == 0)
		return default_path;
	return NULL;
}

int config_load(struct opt_parse *p, int argc, char **argv, const char *default_path)
{
	static struct config loaded; /* for the life of the process: options point into it */
	const char *path = which_file(p, argc, argv, default_path);
	if (!path)
		return -1;
	size_t len;
	char *text = read_file(path, &len);
	if (!text) {
		fprintf(stderr, "%s: cannot read %s: %s\n", p->prog, path, strerror(errno));
		return 2;
	}
	int line;
	const char *err;
	char why[512];
	int rc = config_parse(text, len, &loaded, &line, &err);
	free(text);
	if (rc < 0)
		snprintf(why, sizeof why, "%s", err);
	else
		rc = config_apply(p, &loaded, argc, argv, &line, why, sizeof why);
	if (rc < 0) {
		if (line)
			fprintf(stderr, "%s: %s:%d: %s\n", p->prog, path, line, why);
		else
			fprintf(stderr, "%s: %s: %s\n", p->prog, path, why);
		return 2;
	}
	config_path = path;
	return -1;
}
