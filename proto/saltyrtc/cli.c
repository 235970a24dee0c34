/*
 * switchboard-salty: a SaltyRTC WebSocket-task peer on the command line.
 * Connects as initiator or responder, does both handshakes (client.h), then
 * sends each JSON line of stdin as one MessagePack map and prints each map
 * received as one JSON line (client_json.h). Exit statuses and messages say
 * what ended the session; usage() is the manual.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/buf.h"
#include "cli.h"
#include "client.h"
#include "client_json.h"
#include "client_ws.h"

static void usage(FILE *f)
{
	fputs("usage: switchboard-salty initiator URL [--key FILE] [--token HEX] [options]\n"
	      "       switchboard-salty responder URL --initiator-key HEX --token HEX [--key FILE] [options]\n"
	      "       switchboard-salty keygen FILE\n"
	      "\n"
	      "A SaltyRTC client for the WebSocket task (v0.websocket.tasks.saltyrtc.org).\n"
	      "URL is ws://HOST[:PORT][/PREFIX] or wss://...; the path is PREFIX/ and the\n"
	      "initiator's public key in hex. The initiator prints `key <64 hex>` (its public\n"
	      "key) and `token <64 hex>` (a fresh auth token, or --token) on stderr before it\n"
	      "connects; give both to the responder. Once paired, each line of JSON on stdin\n"
	      "(an object with a string \"type\", not \"application\" or \"close\") is sent as one\n"
	      "MessagePack map, and each map received is printed as one line of JSON on stdout.\n"
	      "Bytes are {\"$bin\":\"<base64>\"} both ways, MessagePack ext {\"$ext\":[type,\"<base64>\"]}.\n"
	      "End of stdin closes the session (close 1001 to the peer).\n"
	      "\n"
	      "options:\n"
	      "  --key FILE            permanent secret key: one line of 64 hex (default: a new one)\n"
	      "  --token HEX           auth token, 64 hex (initiator: default a fresh one)\n"
	      "  --initiator-key HEX   the initiator's public key (responder)\n"
	      "  --server-key HEX      pin the server's permanent public key (checked through signed_keys)\n"
	      "  --ca FILE             trust these CA certificates for wss:// (default: the system's)\n"
	      "  --ping-interval SEC   ask the server to ping every SEC seconds (default 0: never)\n"
	      "  --wait SEC            give up when not paired after SEC seconds (default: wait)\n"
	      "  keygen FILE           write a new secret key to FILE (mode 0600), print `key <hex>`\n"
	      "\n"
	      "exit status:\n"
	      "  0  the session ended normally (end of stdin, or the peer closed with 1000/1001)\n"
	      "  1  bad arguments or key file\n"
	      "  2  could not connect (TCP, TLS certificate, WebSocket upgrade, subprotocol)\n"
	      "  3  the server closed the connection or refused us (its close code is printed)\n"
	      "  4  the pinned server key was refused (3007) or signed_keys did not verify\n"
	      "  5  the peer handshake failed (wrong token: 3005, dropped: 3004, no shared task)\n"
	      "  6  the peer disconnected without close, or became unreachable\n"
	      "  7  the peer closed with an error code\n"
	      "  8  the server or the peer broke the protocol\n"
	      "  9  not paired within --wait seconds\n",
	      f);
}


static int die_usage(const char *why, const char *arg)
{
	fprintf(stderr, "switchboard-salty: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
	fputs("try switchboard-salty --help\n", stderr);
	return EXIT_USAGE;
}

static int parse_hex32(const char *hex, uint8_t out[32])
{
	size_t n;
	return hex && strlen(hex) == 64 && sodium_hex2bin(out, 32, hex, 64, NULL, &n, NULL) == 0 && n == 32 ? 0 : -1;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	if (argc < 3)
		return die_usage("a role and a URL are needed", NULL);
	o->role = strcmp(argv[1], "initiator") == 0 ? SALTYC_INITIATOR : strcmp(argv[1], "responder") == 0 ? SALTYC_RESPONDER : 0;
	if (!o->role)
		return die_usage("unknown command", argv[1]);
	o->url = argv[2];
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **s = strcmp(a, "--key") == 0 ? &o->key_file : strcmp(a, "--token") == 0 ? &o->token
				 : strcmp(a, "--initiator-key") == 0 ? &o->initiator_key
				 : strcmp(a, "--server-key") == 0 ? &o->server_key : strcmp(a, "--ca") == 0 ? &o->ca : NULL;
		long *num = strcmp(a, "--ping-interval") == 0 ? &o->ping : strcmp(a, "--wait") == 0 ? &o->wait : NULL;
		if (!s && !num)
			return die_usage("unknown option", a);
		if (!v)
			return die_usage("option needs a value", a);
		i++;
		if (s) {
			*s = v;
			continue;
		}
		char *end;
		*num = strtol(v, &end, 10);
		if (*end || *num < 0 || *num > 86400 * 365)
			return die_usage("not a number of seconds", v);
	}
	if (o->role == SALTYC_RESPONDER && (!o->initiator_key || !o->token))
		return die_usage("a responder needs --initiator-key and --token", NULL);
	return 0;
}

static int read_key_file(const char *path, uint8_t sk[32])
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "switchboard-salty: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[130];
	bool ok = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	line[ok ? strcspn(line, "\r\n") : 0] = 0;
	if (!ok || parse_hex32(line, sk) < 0) {
		fprintf(stderr, "switchboard-salty: %s: not one line of 64 hex characters\n", path);
		return -1;
	}
	return 0;
}

static void print_key(const char *label, const uint8_t k[32])
{
	char hex[65];
	sodium_bin2hex(hex, sizeof hex, k, 32);
	fprintf(stderr, "%s %s\n", label, hex);
}

static int keygen(const char *path)
{
	uint8_t pk[32], sk[32];
	char hex[65];
	crypto_box_keypair(pk, sk);
	sodium_bin2hex(hex, sizeof hex, sk, 32);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || dprintf(fd, "%s\n", hex) != 65 || close(fd) != 0) {
		fprintf(stderr, "switchboard-salty: %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	print_key("key", pk);
	return 0;
}

/* The session's configuration from the options; prints key and token for an initiator. */
static int make_config(const struct opts *o, struct saltyc_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->role = o->role;
	cfg->ping_interval = (uint32_t)o->ping;
	cfg->has_token = true;
	if (o->key_file ? read_key_file(o->key_file, cfg->secret_key) < 0 : (randombytes_buf(cfg->secret_key, 32), 0))
		return EXIT_USAGE;
	if (o->token ? parse_hex32(o->token, cfg->token) < 0 : (randombytes_buf(cfg->token, 32), 0))
		return die_usage("--token wants 64 hex characters", o->token);
	if (o->role == SALTYC_RESPONDER && parse_hex32(o->initiator_key, cfg->peer_key) < 0)
		return die_usage("--initiator-key wants 64 hex characters", o->initiator_key);
	if (o->server_key) {
		if (parse_hex32(o->server_key, cfg->server_key) < 0)
			return die_usage("--server-key wants 64 hex characters", o->server_key);
		cfg->has_server_key = true;
	}
	if (o->role == SALTYC_INITIATOR) {
		uint8_t pk[32];
		saltyc_public_key(cfg->secret_key, pk);
		print_key("key", pk);
		print_key("token", cfg->token);
		fflush(stderr);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (sodium_init() < 0) {
		fputs("switchboard-salty: libsodium failed to initialise\n", stderr);
		return EXIT_USAGE;
	}
	if (argc == 3 && strcmp(argv[1], "keygen") == 0)
		return keygen(argv[2]);
	struct opts o = {0};
	int rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc;
	struct saltyc_config cfg;
	if ((rc = make_config(&o, &cfg)) != 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	rc = saltyc_cli_run(&o, &cfg);
	sodium_memzero(&cfg, sizeof cfg);
	return rc;
}
