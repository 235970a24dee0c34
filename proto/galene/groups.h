/*
 * The groups folder (--galene-groups DIR) as Galène lays it out: one JSON
 * file per group, groups/<name>.json, subgroups by folder (groups/a/b.json
 * is group "a/b"); files and folders whose name starts with "." are
 * skipped, and so are symbolic links to folders (as Go's WalkDir does).
 *
 * The router keeps one gf_dir: a map from group name to its parsed
 * description (or the error that makes it unusable), each with the file's
 * identity (device, inode, size, mtime to the nanosecond) so that a change
 * is seen and the file re-read: on every lookup (gf_dir_get, for a join or
 * an HTTP request, as Galène re-reads on access) and on a full walk
 * (gf_dir_scan, for /public-groups.json and a periodic reload that tells
 * members of a changed group). Files are read with blocking I/O; they are
 * small and local.
 */
#ifndef SB_GALENE_GROUPS_H
#define SB_GALENE_GROUPS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/hmap.h"
#include "groupfile.h"

#define GF_MAX_NAME 1024  /* bytes in a group name */
#define GF_MAX_DEPTH 16   /* folder levels under the groups folder */
#define GF_MAX_GROUPS 100000

struct gf_fileid {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
};

struct gf_entry {
	char *name;
	struct gf_group *group; /* NULL when the file is broken */
	char *error;            /* why it is broken */
	struct gf_fileid id;
	unsigned generation;    /* last scan that saw it */
};

struct gf_dir {
	char *root;
	struct hmap map; /* name -> struct gf_entry */
	unsigned generation;
};

/* Galène's group-name rule: non-empty, no NUL or backslash, no leading or
 * trailing "/", no "//", and (stricter than Galène's join, as its HTTP
 * side is) no component starting with ".". */
bool gf_name_valid(const char *name, size_t len);

int gf_dir_init(struct gf_dir *d, const char *root);
void gf_dir_free(struct gf_dir *d);

enum gf_event { GF_EV_ADDED, GF_EV_CHANGED, GF_EV_REMOVED, GF_EV_BROKEN };
typedef void gf_event_fn(void *arg, const char *name, enum gf_event ev);

/* Walks the whole folder: new files are read, changed ones re-read,
 * vanished ones dropped; fn (may be NULL) hears of each. A broken file is
 * logged once per change. Returns the number of usable groups, or -1 when
 * the folder cannot be opened. */
int gf_dir_scan(struct gf_dir *d, gf_event_fn *fn, void *arg);

enum gf_lookup { GF_FOUND, GF_NOT_FOUND, GF_BROKEN, GF_BAD_NAME };

struct gf_result {
	struct gf_group *group; /* GF_FOUND: borrowed, gf_ref() it to keep it */
	bool subgroup;          /* an auto-subgroup of a parent's file: treat it
				 * as not public and without description */
	bool reloaded;          /* the file was (re)read by this lookup */
	const char *file_name;  /* the group whose file decided ("a" for "a/b") */
	const char *error;      /* GF_BROKEN: why (also logged) */
};

/* Finds the description of group name, re-reading its file when it
 * changed; for a name with no file of its own, the nearest parent file
 * decides (only one with auto-subgroups makes a subgroup). */
enum gf_lookup gf_dir_get(struct gf_dir *d, const char *name, struct gf_result *r);

/* Calls fn for every usable group (own file, not subgroups) in no order. */
void gf_dir_each(const struct gf_dir *d, void (*fn)(void *arg, const char *name, struct gf_group *g), void *arg);

#endif
