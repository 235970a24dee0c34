/* lws-relay — the benchmark's "C limit": a single-process, single-threaded
 * WebSocket relay written with libwebsockets (Debian's 4.1.6), doing the same
 * WSChat-style direct routing as tests/bench/node-relay.js: on open it sends
 * `init`; `identify` takes a name (outcome 300, 305 when another client holds
 * it); `message` is delivered to the named client as
 * {"type":"message","from":NAME,"message":VALUE} with VALUE copied as sent,
 * or answered 404. /echo echoes. Messages are parsed with jsmn, as a real
 * relay must parse them. Nothing else of WSChat (no broadcast, no quit).
 *
 *   lws-relay PORT     listens on 127.0.0.1:PORT until SIGTERM/SIGINT
 *
 * Built and run only by tests/bench/run.sh; never part of switchboard.
 */
#define _GNU_SOURCE
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#define JSMN_STATIC
#include <jsmn.h>

#define NBUCKET 16384
#define MAXMSG (1 << 20)

struct out {			/* one queued outgoing text message, LWS_PRE headroom first */
	struct out *next;
	size_t len;
	unsigned char buf[];
};

struct pss {			/* per connection */
	struct lws *wsi;
	int echo;
	char name[72];		/* as written in the JSON string (escapes kept); "" = none */
	struct pss *hnext;	/* name table chain */
	struct out *qh, *qt;	/* outgoing queue */
	char *in;		/* a message being reassembled from fragments */
	size_t inlen, incap;
};

static struct pss *table[NBUCKET];
static volatile sig_atomic_t stopping;

static unsigned hash(const char *s, size_t n)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h % NBUCKET;
}

static struct pss *lookup(const char *s, size_t n)
{
	for (struct pss *p = table[hash(s, n)]; p; p = p->hnext)
		if (strlen(p->name) == n && !memcmp(p->name, s, n))
			return p;
	return NULL;
}

static void unname(struct pss *p)
{
	if (!p->name[0])
		return;
	for (struct pss **pp = &table[hash(p->name, strlen(p->name))]; *pp; pp = &(*pp)->hnext)
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	p->name[0] = 0;
}

/* Queues text (built from up to three pieces) for p and asks for a writable callback. */
static void enqueue(struct pss *p, const char *a, size_t an, const char *b, size_t bn, const char *c, size_t cn)
{
	struct out *o = malloc(sizeof *o + LWS_PRE + an + bn + cn);
	if (!o) {
		lwsl_err("out of memory\n");
		return;
	}
	unsigned char *d = o->buf + LWS_PRE;
	memcpy(d, a, an);
	memcpy(d + an, b, bn);
	memcpy(d + an + bn, c, cn);
	o->len = an + bn + cn;
	o->next = NULL;
	if (p->qt)
		p->qt->next = o;
	else
		p->qh = o;
	p->qt = o;
	lws_callback_on_writable(p->wsi);
}

static void outcome(struct pss *p, int code, const char *msg)
{
	char m[200];
	int n = snprintf(m, sizeof m, "{\"type\":\"outcome\",\"success\":%s,\"message\":\"%s\",\"code\":%d}",
			 code == 300 ? "true" : "false", msg, code);
	enqueue(p, m, (size_t)n, "", 0, "", 0);
}

static int tok_is(const char *js, const jsmntok_t *t, const char *s)
{
	size_t n = strlen(s);
	return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n && !memcmp(js + t->start, s, n);
}

/* Index of the token after the value starting at token i (skips nested values). */
static int skip(const jsmntok_t *t, int i, int ntok)
{
	int end = t[i].end;
	i++;
	while (i < ntok && t[i].start < end)
		i++;
	return i;
}

static void identify(struct pss *p, const char *js, const jsmntok_t *name)
{
	size_t n = (size_t)(name->end - name->start);
	if (name->type != JSMN_STRING || n == 0 || n >= sizeof p->name)
		return outcome(p, 400, "Invalid 'name' field!");
	struct pss *holder = lookup(js + name->start, n);
	if (holder && holder != p)
		return outcome(p, 305, "Client with that name already exists!");
	if (!holder) {
		unname(p);
		memcpy(p->name, js + name->start, n);
		p->name[n] = 0;
		unsigned h = hash(p->name, n);
		p->hnext = table[h];
		table[h] = p;
	}
	outcome(p, 300, "Identified successfully!");
}

static void chat_message(struct pss *p, const char *js, size_t len)
{
	static jsmntok_t t[256];
	jsmn_parser ps;
	jsmn_init(&ps);
	int ntok = jsmn_parse(&ps, js, len, t, 256);
	if (ntok < 1)
		return outcome(p, 400, "Malformed JSON!");
	if (t[0].type != JSMN_OBJECT)
		return outcome(p, 400, "Missing 'command' field!");
	const jsmntok_t *cmd = NULL, *name = NULL, *to = NULL, *msg = NULL;
	for (int i = 1; i + 1 < ntok && t[i].start < t[0].end; i = skip(t, i + 1, ntok)) {
		if (tok_is(js, &t[i], "command"))
			cmd = &t[i + 1];
		else if (tok_is(js, &t[i], "name"))
			name = &t[i + 1];
		else if (tok_is(js, &t[i], "to"))
			to = &t[i + 1];
		else if (tok_is(js, &t[i], "message"))
			msg = &t[i + 1];
	}
	if (!cmd)
		return outcome(p, 400, "Missing 'command' field!");
	if (tok_is(js, cmd, "identify"))
		return name ? identify(p, js, name) : outcome(p, 400, "Missing 'name' field!");
	if (!p->name[0])
		return outcome(p, 10, "Please identify yourself!");
	if (!tok_is(js, cmd, "message"))
		return;
	if (!msg)
		return outcome(p, 400, "Missing 'message' field!");
	if (!to)
		return outcome(p, 400, "Missing 'to' field!");
	struct pss *dst = to->type == JSMN_STRING ? lookup(js + to->start, (size_t)(to->end - to->start)) : NULL;
	if (!dst)
		return outcome(p, 404, "No client with that name is currently connected!");
	/* a string value keeps its quotes: jsmn's span excludes them */
	int q = msg->type == JSMN_STRING;
	char head[128];
	int hn = snprintf(head, sizeof head, "{\"type\":\"message\",\"from\":\"%s\",\"message\":", p->name);
	enqueue(dst, head, (size_t)hn, js + msg->start - q, (size_t)(msg->end - msg->start + 2 * q), "}", 1);
}

static int on_receive(struct pss *p, struct lws *wsi, const char *data, size_t len)
{
	if (p->inlen + len > MAXMSG)
		return -1;
	if (p->inlen || !lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) {
		if (p->inlen + len > p->incap) {
			size_t cap = p->incap ? p->incap * 2 : 4096;
			while (cap < p->inlen + len)
				cap *= 2;
			char *n = realloc(p->in, cap);
			if (!n)
				return -1;
			p->in = n;
			p->incap = cap;
		}
		memcpy(p->in + p->inlen, data, len);
		p->inlen += len;
		if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
			return 0;
		data = p->in;
		len = p->inlen;
		p->inlen = 0;
	}
	if (p->echo)
		enqueue(p, data, len, "", 0, "", 0);
	else
		chat_message(p, data, len);
	return 0;
}

static int on_writeable(struct pss *p, struct lws *wsi)
{
	while (p->qh && !lws_send_pipe_choked(wsi)) {
		struct out *o = p->qh;
		if (lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len)
			return -1;
		p->qh = o->next;
		if (!p->qh)
			p->qt = NULL;
		free(o);
	}
	if (p->qh)
		lws_callback_on_writable(wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pss *p = user;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED: {
		char uri[64] = "";
		lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
		memset(p, 0, sizeof *p);
		p->wsi = wsi;
		p->echo = !strcmp(uri, "/echo");
		if (!p->echo) {
			static const char init[] = "{\"type\":\"init\",\"message\":\"Please identify to receive messages.\"}";
			enqueue(p, init, sizeof init - 1, "", 0, "", 0);
		}
		return 0;
	}
	case LWS_CALLBACK_RECEIVE:
		return on_receive(p, wsi, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return on_writeable(p, wsi);
	case LWS_CALLBACK_CLOSED:
		unname(p);
		while (p->qh) {
			struct out *o = p->qh;
			p->qh = o->next;
			free(o);
		}
		free(p->in);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "relay", callback, sizeof(struct pss), 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void on_signal(int s) { (void)s; stopping = 1; }

int main(int argc, char **argv)
{
	if (argc != 2 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: lws-relay PORT\n");
		return 2;
	}
	struct rlimit rl;	/* lws sizes its fd table from the limit: raise it first */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			perror("setrlimit");
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = atoi(argv[1]);
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.gid = -1;
	info.uid = -1;
	struct lws_context *ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "lws-relay: lws_create_context failed\n");
		return 1;
	}
	while (!stopping && lws_service(ctx, 0) >= 0)
		;
	lws_context_destroy(ctx);
	return 0;
}
