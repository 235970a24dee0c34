/* Galène's options (proto/galene/options.c): its router half's groups folder and policies. */
#ifndef SB_GALENE_OPTIONS_H
#define SB_GALENE_OPTIONS_H
#include <stdbool.h>

struct galene_options {
	const char *groups_dir;     /* --galene-groups: NULL, no groups */
	bool allow_present;         /* --galene-allow-present */
	int reload_ms;              /* --galene-reload: the groups folder is walked this often */
	const char *canonical_host; /* --galene-canonical-host: required in JWT aud; NULL any */
	long max_history;           /* --galene-max-history: chat entries kept per group */
	long password_threads;      /* --galene-password-threads */
	int rejoin_grace_ms;        /* --galene-rejoin-grace: members not back by then are dropped */
	const char *static_dir;     /* --galene-static: the worker's files (http.c); NULL: none */
};

extern struct galene_options galene_opt;

#endif
