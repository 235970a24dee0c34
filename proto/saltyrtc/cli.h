/* switchboard-salty's options (cli.c) and its session loop (cli_run.c). */
#ifndef SB_SALTY_CLI_H
#define SB_SALTY_CLI_H
#include "client.h"

enum { EXIT_USAGE = 1, EXIT_CONNECT = 2, EXIT_TIMEOUT = 9 };

struct opts {
	enum saltyc_role role;
	const char *url, *key_file, *token, *initiator_key, *server_key, *ca;
	long ping, wait;
};

/* Connects and runs the session to its end; returns the exit status. */
int saltyc_cli_run(const struct opts *o, const struct saltyc_config *cfg);

#endif
