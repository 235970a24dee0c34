/*
 * The groups folder: name rule, file identity, (re)reading one group file,
 * the lookup with auto-subgroups, and the full walk (see groups.h).
 */
#include "groups.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/log.h"

bool gf_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > GF_MAX_NAME || name[0] == '/' || name[len - 1] == '/' ||
	    memchr(name, 0, len) || memchr(name, '\\', len))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((i == 0 || name[i - 1] == '/') && (name[i] == '/' || name[i] == '.'))
			return false; /* "//", ".", ".." and hidden components */
	return true;
}

int gf_dir_init(struct gf_dir *d, const char *root)
{
	memset(d, 0, sizeof *d);
	d->root = strdup(root);
	if (!d->root || hmap_init(&d->map) != 0) {
		free(d->root);
		return -1;
	}
	return 0;
}

static void free_entry(struct gf_entry *e)
{
	if (!e)
		return;
	gf_unref(e->group);
	free(e->error);
	free(e->name);
	free(e);
}

static void free_each(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg, (void)key, (void)klen;
	free_entry(value);
}

void gf_dir_free(struct gf_dir *d)
{
	hmap_each(&d->map, free_each, NULL);
	hmap_free(&d->map);
	free(d->root);
	memset(d, 0, sizeof *d);
}

static struct gf_fileid file_id(const struct stat *st)
{
	return (struct gf_fileid){(uint64_t)st->st_dev, (uint64_t)st->st_ino, (uint64_t)st->st_size,
				  (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec};
}

static bool same_id(const struct gf_fileid *a, const struct gf_fileid *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

static char *file_path(const struct gf_dir *d, const char *name)
{
	size_t n = strlen(d->root) + strlen(name) + 7;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s.json", d->root, name);
	return p;
}

/* Reads a whole regular file of at most GF_MAX_FILE bytes. */
static int read_all(const char *path, char **text, size_t *len, struct gf_fileid *id)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	*id = file_id(&st);
	size_t cap = (size_t)st.st_size < GF_MAX_FILE ? (size_t)st.st_size + 1 : GF_MAX_FILE + 1;
	char *b = malloc(cap);
	size_t n = 0;
	ssize_t r = 1;
	while (b && n < cap && (r = read(fd, b + n, cap - n)) > 0)
		n += (size_t)r;
	int err = !b ? -ENOMEM : r < 0 ? -errno : 0;
	close(fd);
	if (err) {
		free(b);
		return err;
	}
	*text = b;
	*len = n; /* n == cap means too large: gf_parse says so */
	return 0;
}

/* Puts a fresh parse of the file at path under name; returns the entry. */
static struct gf_entry *load(struct gf_dir *d, const char *name, const char *path, struct gf_entry *old,
			     int *err)
{
	char *text = NULL;
	size_t len = 0;
	struct gf_fileid id;
	*err = read_all(path, &text, &len, &id);
	if (*err)
		return NULL;
	if (old && same_id(&old->id, &id)) {
		free(text);
		return old;
	}
	struct gf_entry *e = calloc(1, sizeof *e);
	char msg[600];
	if (!e || !(e->name = strdup(name))) {
		free(e);
		free(text);
		*err = -ENOMEM;
		return NULL;
	}
	e->id = id;
	e->generation = d->generation;
	e->group = gf_parse(path, text, len, msg, sizeof msg);
	free(text);
	if (!e->group) {
		e->error = strdup(msg);
		log_error("galene: group %s unusable: %s", name, msg);
	}
	if (hmap_put(&d->map, name, strlen(name), e, NULL) != 0) {
		free_entry(e);
		*err = -ENOMEM;
		return NULL;
	}
	free_entry(old);
	return e;
}

/* The current entry for name's own file, re-read when it changed; NULL
 * when there is no such file (a stale entry is dropped). */
static struct gf_entry *refresh(struct gf_dir *d, const char *name, bool *reloaded)
{
	struct gf_entry *old = hmap_get(&d->map, name, strlen(name));
	char *path = file_path(d, name);
	if (!path)
		return NULL;
	struct stat st;
	struct gf_entry *e = NULL;
	int err = 0;
	struct gf_fileid id;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		id = file_id(&st);
		e = old && same_id(&old->id, &id) ? old : load(d, name, path, old, &err);
	}
	if (!e && old && err != -ENOMEM) {
		hmap_del(&d->map, name, strlen(name));
		free_entry(old);
	}
	*reloaded = e && e != old;
	free(path);
	return e;
}

enum gf_lookup gf_dir_get(struct gf_dir *d, const char *name, struct gf_result *r)
{
	memset(r, 0, sizeof *r);
	size_t len = strlen(name);
	if (!gf_name_valid(name, len))
		return GF_BAD_NAME;
	char *n = strdup(name);
	if (!n)
		return GF_NOT_FOUND;
	enum gf_lookup res = GF_NOT_FOUND;
	for (bool parent = false;; parent = true) {
		struct gf_entry *e = refresh(d, n, &r->reloaded);
		if (e) {
			r->file_name = e->name;
			r->subgroup = parent;
			r->error = e->error;
			r->group = e->group;
			res = !e->group ? GF_BROKEN : parent && !e->group->auto_subgroups ? GF_NOT_FOUND : GF_FOUND;
			if (res == GF_NOT_FOUND)
				r->group = NULL;
			break;
		}
		char *slash = strrchr(n, '/');
		if (!slash)
			break;
		*slash = 0;
	}
	free(n);
	return res;
}

/* ---- the full walk ---- */

struct walk {
	struct gf_dir *d;
	gf_event_fn *fn;
	void *arg;
	size_t files;
};

static void scan_file(struct walk *w, const char *name)
{
	if (!gf_name_valid(name, strlen(name))) {
		log_warn("galene: %s/%s.json: not a valid group name, skipped", w->d->root, name);
		return;
	}
	bool existed = hmap_get(&w->d->map, name, strlen(name)) != NULL, reloaded;
	struct gf_entry *e = refresh(w->d, name, &reloaded);
	if (!e)
		return;
	e->generation = w->d->generation;
	if (reloaded && w->fn)
		w->fn(w->arg, name, !e->group ? GF_EV_BROKEN : existed ? GF_EV_CHANGED : GF_EV_ADDED);
}

static bool is_dir_entry(int dfd, const struct dirent *de, bool *is_file)
{
	struct stat st;
	*is_file = de->d_type == DT_REG;
	if (de->d_type == DT_DIR)
		return true;
	if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) {
		/* A link to a file counts, a link to a folder does not. */
		if (de->d_type == DT_UNKNOWN && fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			return true;
		*is_file = fstatat(dfd, de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
	}
	return false;
}

static void walk_dir(struct walk *w, const char *rel, int depth)
{
	size_t n = strlen(w->d->root) + strlen(rel) + 2;
	char *path = malloc(n);
	if (!path)
		return;
	snprintf(path, n, "%s%s%s", w->d->root, *rel ? "/" : "", rel);
	DIR *dir = opendir(path);
	free(path);
	if (!dir)
		return;
	struct dirent *de;
	while ((de = readdir(dir)) && w->files < GF_MAX_GROUPS) {
		if (de->d_name[0] == '.')
			continue;
		bool is_file;
		bool is_dir = is_dir_entry(dirfd(dir), de, &is_file);
		size_t bl = strlen(de->d_name);
		if (!is_dir && (!is_file || bl <= 5 || strcmp(de->d_name + bl - 5, ".json") != 0))
			continue;
		size_t cn = strlen(rel) + bl + 2;
		char *child = malloc(cn);
		if (!child)
			break;
		snprintf(child, cn, "%s%s%.*s", rel, *rel ? "/" : "", (int)(is_dir ? bl : bl - 5), de->d_name);
		if (is_dir && depth < GF_MAX_DEPTH)
			walk_dir(w, child, depth + 1);
		else if (!is_dir) {
			w->files++;
			scan_file(w, child);
		}
		free(child);
	}
	closedir(dir);
}

struct stale {
	char **names;
	size_t n, cap;
	unsigned generation;
	int usable;
};

static void collect(void *arg, const void *key, size_t klen, void *value)
{
	struct stale *s = arg;
	struct gf_entry *e = value;
	(void)key, (void)klen;
	if (e->generation == s->generation)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		char **v = realloc(s->names, cap * sizeof *v);
		if (!v)
			return;
		s->names = v;
		s->cap = cap;
	}
	if ((s->names[s->n] = strdup(e->name)))
		s->n++;
}

static void count_usable(void *arg, const void *key, size_t klen, void *value)
{
	(void)key, (void)klen;
	if (((struct gf_entry *)value)->group)
		((struct stale *)arg)->usable++;
}

int gf_dir_scan(struct gf_dir *d, gf_event_fn *fn, void *arg)
{
	DIR *probe = opendir(d->root);
	if (!probe)
		return -1;
	closedir(probe);
	d->generation++;
	struct walk w = {d, fn, arg, 0};
	walk_dir(&w, "", 0);
	/* Entries the walk did not meet: gone, unless a lookup reached them
	 * another way (through a linked folder), which still works. */
	struct stale s = {.generation = d->generation};
	hmap_each(&d->map, collect, &s);
	for (size_t i = 0; i < s.n; i++) {
		bool reloaded;
		struct gf_entry *e = refresh(d, s.names[i], &reloaded);
		if (e)
			e->generation = d->generation;
		if (fn && (!e || reloaded))
			fn(arg, s.names[i], !e ? GF_EV_REMOVED : e->group ? GF_EV_CHANGED : GF_EV_BROKEN);
		free(s.names[i]);
	}
	free(s.names);
	hmap_each(&d->map, count_usable, &s);
	return s.usable;
}

struct each {
	void (*fn)(void *arg, const char *name, struct gf_group *g);
	void *arg;
};

static void each_one(void *arg, const void *key, size_t klen, void *value)
{
	struct each *x = arg;
	struct gf_entry *e = value;
	(void)key, (void)klen;
	if (e->group)
		x->fn(x->arg, e->name, e->group);
}

void gf_dir_each(const struct gf_dir *d, void (*fn)(void *arg, const char *name, struct gf_group *g), void *arg)
{
	struct each x = {fn, arg};
	hmap_each(&d->map, each_one, &x);
}
