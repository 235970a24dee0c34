/*
 * Galène's options, as a table (common/options.h) that all three programs
 * link: the supervisor checks and passes them on, the worker refuses them.
 */
#include "options.h"

#include "../../common/options.h"

struct galene_options galene_opt;

static const struct opt table[] = {
	{"galene-groups", OPT_STR, "DIR", NULL, "Galène group files (one JSON file per group)", OPT_ROUTER,
	 &galene_opt.groups_dir, 0, 0, NULL, NULL},
	{"galene-allow-present", OPT_FLAG, NULL, NULL,
	 "grant the present permission (there is no media plane: offers are refused)", OPT_ROUTER,
	 &galene_opt.allow_present, 0, 0, NULL, NULL},
	{"galene-reload", OPT_SECONDS, NULL, "2", "walk the groups folder for changes this often", OPT_ROUTER,
	 &galene_opt.reload_ms, 0, 3600, NULL, NULL},
	{"galene-canonical-host", OPT_STR, "HOST", NULL, "the host a JWT's aud must name (default: any)",
	 OPT_ROUTER, &galene_opt.canonical_host, 0, 0, NULL, NULL},
	{"galene-max-history", OPT_INT, "N", "50", "chat messages kept per group", OPT_ROUTER,
	 &galene_opt.max_history, 0, 100000, NULL, NULL},
	{"galene-password-threads", OPT_INT, "N", "2", "threads that check bcrypt and pbkdf2 passwords",
	 OPT_ROUTER, &galene_opt.password_threads, 1, 64, NULL, NULL},
	{"galene-rejoin-grace", OPT_SECONDS, NULL, "10", "after a router restart, members not back within this "
	 "long are dropped", OPT_ROUTER, &galene_opt.rejoin_grace_ms, 0, 3600, NULL, NULL},
	{"galene-static", OPT_STR, "DIR", NULL, "Galène's static/ folder: its files, and galene.html for "
	 "/group/<name>/", OPT_WORKER, &galene_opt.static_dir, 0, 0, NULL, NULL},
	{.name = NULL},
};

const struct opt_group galene_options = {"galene", table};
