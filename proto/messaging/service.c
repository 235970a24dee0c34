/*
 * Messaging, router half: the client_id registry (newest connection wins,
 * one identity per connection), the checks every message passes before it
 * is stored (the worker is not trusted), live delivery, the backlog on
 * attach, and the errors section that tells a sender what was not stored.
 */
#include <stdint.h>
#include <string.h>

#include "../../common/hmap.h"
#include "../../common/json.h"
#include "../../common/log.h"
#include "../../common/utf8.h"
#include "../proto.h"
#include "messaging.h"
#include "options.h"
#include "queues.h"

#define BACKLOG_FRAME_BYTES (256u << 10) /* well under the worker queue and the client backlog */

struct messaging_peer {
	char client[MESSAGING_MAX_ID];
	size_t client_len; /* 0: not attached; then fixed for the connection's life */
	bool refused;      /* tried to change its client_id: ignored from then on */
	int64_t cursor;    /* backlog sent up to this seq; -1: caught up, live */
	struct buf errors; /* {"errors":[… not yet sent */
	unsigned nrefused; /* in errors, for the one log line per frame */
	const char *first_why;
};

static struct router *R;
static struct hmap clients; /* client_id → rworker */
static struct hmap pending; /* rworker pointer → rworker, for those with errors not yet sent */
static struct buf frame;
/* what the open transaction stored: sid, id and rid (raw), for a failed commit */
static struct buf journal;
static long journal_reads;
static struct messaging_stats {
	uint64_t stored, duplicates, deleted, too_large, over_quota, per_sender, recipients, store_full, invalid,
		not_sender, write_failed, lost, lost_reads, identity;
} stats;

static void on_commit(bool ok);

static struct mq_limits limits(const struct router *r)
{
	(void)r;
	return (struct mq_limits){messaging_opt.max_queue, messaging_opt.max_per_sender, messaging_opt.max_recipients,
				  messaging_opt.max_store};
}

static int messaging_init(struct router *r)
{
	R = r;
	if (hmap_init(&clients) < 0 || hmap_init(&pending) < 0 || mq_init() < 0)
		return -1;
	return 0;
}

static void free_errors(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg;
	(void)key;
	(void)klen;
	buf_free(&((struct messaging_peer *)rworker_state(value))->errors);
}

static void messaging_fini(struct router *r)
{
	(void)r;
	store_commit(); /* while our state is still there for the hook */
	mq_fini();
	hmap_each(&pending, free_errors, NULL);
	hmap_free(&pending);
	hmap_free(&clients);
	buf_free(&frame);
	buf_free(&journal);
	log_info("messaging: stored %llu, duplicates %llu, read %llu, refused %llu too large, %llu over quota, "
		 "%llu lost in failed commits",
		 (unsigned long long)stats.stored, (unsigned long long)stats.duplicates,
		 (unsigned long long)stats.deleted, (unsigned long long)stats.too_large,
		 (unsigned long long)(stats.over_quota + stats.per_sender + stats.recipients + stats.store_full),
		 (unsigned long long)stats.lost);
}

static void send_out(struct router *r, struct rworker *w, const void *text, size_t len)
{
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, MESSAGING_PROTO, MESSAGING_OP_OUT, 1);
	mp_kv_bin(pk, "d", text, len);
	router_send_scratch(r, w);
}

/* Sends w's pending errors section, with one log line for all of it. */
static void flush_errors(struct router *r, struct rworker *w)
{
	struct messaging_peer *st = rworker_state(w);
	if (!buf_used(&st->errors))
		return;
	buf_append_str(&st->errors, "]}");
	send_out(r, w, buf_head(&st->errors), buf_used(&st->errors));
	log_warn("messaging: %u messages from %.*s skipped (not stored; reported to the sender), first: %s",
		 st->nrefused, (int)st->client_len, st->client, st->first_why);
	buf_free(&st->errors);
	st->nrefused = 0;
	hmap_del(&pending, &w, sizeof w);
}

/* Reports one message w's client sent that is not stored. */
static void refuse(struct router *r, struct rworker *w, const char *id, size_t il, const char *rid, size_t rl,
		   const char *why)
{
	struct messaging_peer *st = rworker_state(w);
	if (!st->nrefused++) {
		st->first_why = why;
		hmap_put(&pending, &w, sizeof w, w, NULL);
	}
	buf_append_str(&st->errors, buf_used(&st->errors) ? "," : "{\"errors\":[");
	messaging_error_entry(&st->errors, id, il, rid, rl, why);
	if (buf_used(&st->errors) >= MESSAGING_ERRORS_FRAME)
		flush_errors(r, w);
}

/* Sends the next frames of w's backlog while its queue has room. */
static void pump(struct router *r, struct rworker *w)
{
	struct messaging_peer *st = rworker_state(w);
	while (st->cursor >= 0 && router_queued(w) < BACKLOG_FRAME_BYTES) {
		sqlite3_stmt *q = mq_backlog(st->client, st->client_len, st->cursor, MESSAGING_FRAME_MAX);
		buf_reset(&frame);
		buf_append_str(&frame, "{\"messages\":[");
		int n = 0, bad = 0;
		while (buf_used(&frame) < BACKLOG_FRAME_BYTES && sqlite3_step(q) == SQLITE_ROW) {
			const uint8_t *m = sqlite3_column_blob(q, 1);
			size_t ml = (size_t)sqlite3_column_bytes(q, 1);
			st->cursor = sqlite3_column_int64(q, 0);
			if (!m || !utf8_valid(m, ml)) { /* checked when stored: only a damaged file */
				bad++;
				continue;
			}
			if (n++)
				buf_append(&frame, ",", 1);
			buf_append(&frame, m, ml);
		}
		sqlite3_reset(q);
		if (bad)
			log_error("messaging: %d stored messages for %.*s are not valid UTF-8; not sent", bad,
				  (int)st->client_len, st->client);
		if (n == 0 && bad == 0) {
			st->cursor = -1; /* caught up: new messages go out live */
			break;
		}
		if (n) {
			buf_append_str(&frame, "]}");
			send_out(r, w, buf_head(&frame), buf_used(&frame));
		}
	}
}

static void on_attach(struct router *r, struct rworker *w, const char *client, size_t n)
{
	struct messaging_peer *st = rworker_state(w);
	if (messaging_client_id_invalid(client, n)) {
		log_warn("messaging: worker pid %d attached an invalid client_id", rworker_pid(w));
		return;
	}
	if (st->client_len) {
		if (n == st->client_len && memcmp(client, st->client, n) == 0)
			return; /* the same again: nothing changes */
		/* One identity per connection: otherwise clients[old id] would keep
		 * pointing at a worker that no longer answers for it. */
		log_warn("messaging: worker pid %d (%.*s) tried to attach as another client_id; closing it", rworker_pid(w),
			 (int)st->client_len, st->client);
		stats.identity++;
		if (hmap_get(&clients, st->client, st->client_len) == w)
			hmap_del(&clients, st->client, st->client_len);
		st->refused = true;
		st->cursor = -1;
		router_close_client(r, w, MESSAGING_CLOSE_IDENTITY, "client_id cannot change on a connection");
		return;
	}
	struct rworker *old = hmap_get(&clients, client, n);
	if (old && old != w) {
		((struct messaging_peer *)rworker_state(old))->cursor = -1;
		router_close_client(r, old, MESSAGING_CLOSE_SUPERSEDED, "superseded by a newer connection");
	}
	memcpy(st->client, client, n);
	st->client_len = n;
	st->cursor = 0;
	hmap_put(&clients, client, n, w, NULL);
	pump(r, w);
}

static void deliver_live(struct router *r, const char *rid, size_t rl, const uint8_t *m, size_t ml)
{
	struct rworker *to = hmap_get(&clients, rid, rl);
	if (!to || ((struct messaging_peer *)rworker_state(to))->cursor >= 0)
		return; /* offline, or its backlog (which will include this) is still going out */
	buf_reset(&frame);
	buf_append_str(&frame, "{\"messages\":[");
	buf_append(&frame, m, ml);
	buf_append_str(&frame, "]}");
	send_out(r, to, buf_head(&frame), buf_used(&frame));
}

/* A raw id or rid the worker gave for reports: used only if it is one
 * JSON string or number of valid UTF-8. */
static bool hint_ok(const uint8_t *p, size_t n)
{
	struct json_doc d;
	if (!p || n == 0 || n > MESSAGING_MAX_KEY + 2 || !utf8_valid(p, n) || json_parse(&d, (const char *)p, n, 2) != JSON_OK)
		return false;
	bool ok = json_type(&d, 0) == JSON_STRING || json_type(&d, 0) == JSON_NUMBER;
	json_free(&d);
	return ok;
}

/* Reports a message by the id and rid the worker gave (for one the router
 * could not parse: those of a valid message are taken from the message). */
static void refuse_by_hints(struct router *r, struct rworker *w, const struct envelope *e, const char *why)
{
	const uint8_t *hi = NULL, *hr = NULL;
	size_t hil = 0, hrl = 0;
	if (!mp_get_bin(e->map, "i", &hi, &hil) || !hint_ok(hi, hil))
		hi = NULL;
	if (!mp_get_bin(e->map, "r", &hr, &hrl) || !hint_ok(hr, hrl))
		hr = NULL;
	refuse(r, w, (const char *)hi, hil, (const char *)hr, hrl, why);
}

static void journal_add(const struct messaging_msg *m)
{
	const struct {
		const char *p;
		size_t n;
	} parts[] = {{m->sid, m->sid_len}, {m->id_raw, m->id_raw_len}, {m->rid_raw, m->rid_raw_len}};
	for (int i = 0; i < 3; i++) {
		uint32_t n = (uint32_t)parts[i].n;
		buf_append(&journal, &n, sizeof n);
		buf_append(&journal, parts[i].p, n);
	}
}

static uint64_t *counter_of(const char *why)
{
	if (why == MSG_ERR_QUEUE)
		return &stats.over_quota;
	if (why == MSG_ERR_PER_SENDER)
		return &stats.per_sender;
	if (why == MSG_ERR_RECIPIENTS)
		return &stats.recipients;
	if (why == MSG_ERR_STORE_FULL)
		return &stats.store_full;
	if (why == MSG_ERR_STORE_FAILED)
		return &stats.write_failed;
	if (why == MSG_ERR_NOT_SENDER)
		return &stats.not_sender;
	return &stats.invalid;
}

static void on_send(struct router *r, struct rworker *w, const struct envelope *e)
{
	struct messaging_peer *st = rworker_state(w);
	const uint8_t *m;
	size_t ml;
	if (!mp_get_bin(e->map, "m", &m, &ml)) {
		log_warn("messaging: malformed send from worker pid %d", rworker_pid(w));
		return;
	}
	if (ml > messaging_opt.max_size) {
		stats.too_large++;
		return refuse_by_hints(r, w, e, MSG_ERR_TOO_LARGE);
	}
	struct messaging_msg msg;
	const char *why = messaging_check((const char *)m, ml, &msg);
	if (!why && !st->client_len)
		why = MSG_ERR_NOT_ATTACHED;
	if (!why && (msg.sid_len != st->client_len || memcmp(msg.sid, st->client, msg.sid_len) != 0))
		why = MSG_ERR_NOT_SENDER;
	bool dup = false;
	struct mq_limits l = limits(r);
	if (!why)
		why = mq_store(&l, &msg, m, ml, &dup);
	if (why) {
		(*counter_of(why))++;
		if (msg.id_raw || msg.rid_raw) /* the message's own, once it parsed */
			refuse(r, w, msg.id_raw, msg.id_raw_len, msg.rid_raw, msg.rid_raw_len, why);
		else
			refuse_by_hints(r, w, e, why);
	} else if (dup) {
		stats.duplicates++;
	} else {
		stats.stored++;
		journal_add(&msg);
		deliver_live(r, msg.rid, msg.rid_len, m, ml);
	}
	messaging_msg_free(&msg);
}

static void on_read(struct rworker *w, const struct envelope *e)
{
	struct messaging_peer *st = rworker_state(w);
	const uint8_t *key;
	const char *sid = NULL;
	size_t kl, sl = 0;
	if (!mp_get_bin(e->map, "key", &key, &kl) || (mp_get(e->map, "sid") && !mp_get_str(e->map, "sid", &sid, &sl))) {
		log_warn("messaging: malformed read from worker pid %d", rworker_pid(w));
		return;
	}
	if (!st->client_len)
		return;
	int n = mq_delete(st->client, st->client_len, key, kl, sid, sl);
	stats.deleted += (uint64_t)n;
	journal_reads += n;
}

static void messaging_envelope(struct router *r, struct rworker *w, const struct envelope *e)
{
	struct messaging_peer *st = rworker_state(w);
	const char *s;
	size_t n;
	if (st->refused)
		return; /* told to close: nothing it says counts */
	if (env_op_is(e, MESSAGING_OP_ATTACH) && mp_get_str(e->map, "client", &s, &n))
		on_attach(r, w, s, n);
	else if (env_op_is(e, MESSAGING_OP_SEND))
		on_send(r, w, e);
	else if (env_op_is(e, MESSAGING_OP_READ))
		on_read(w, e);
	else if (env_op_is(e, MESSAGING_OP_END))
		flush_errors(r, w);
	else
		log_warn("messaging: malformed %.*s from worker pid %d", (int)e->op_len, e->op, rworker_pid(w));
}

/* A journal entry: the next length-prefixed part. */
static const char *part(const uint8_t **p, const uint8_t *end, size_t *n)
{
	uint32_t len;
	memcpy(&len, *p, sizeof len);
	const char *s = (const char *)*p + sizeof len;
	*p += sizeof len + len;
	*n = len;
	return *p <= end ? s : NULL;
}

static void rewind_cursor(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	struct messaging_peer *st = rworker_state(value);
	int64_t last = *(int64_t *)arg;
	if (st->cursor > last)
		st->cursor = last; /* rolled-back seqs will be reused */
}

/* Tells the senders (those still connected) what a failed commit lost. */
static void report_lost(void)
{
	const uint8_t *p = buf_head(&journal), *end = p + buf_used(&journal);
	struct rworker *last = NULL;
	while (p && p < end) {
		size_t sl, il, rl;
		const char *sid = part(&p, end, &sl), *id = part(&p, end, &il), *rid = part(&p, end, &rl);
		if (!sid || !id || !rid)
			break;
		stats.lost++;
		struct rworker *w = hmap_get(&clients, sid, sl);
		if (last && w != last)
			flush_errors(R, last);
		if (w)
			refuse(R, w, id, il, rid, rl, MSG_ERR_STORE_FAILED);
		last = w;
	}
	if (last)
		flush_errors(R, last);
}

static void on_commit(bool ok)
{
	if (!ok) {
		uint64_t before = stats.lost;
		report_lost();
		stats.lost_reads += (uint64_t)journal_reads;
		log_error("messaging: a failed commit lost %llu stored messages (their senders, if connected, get "
			  "errors entries) and %ld reads (those messages come again); counts reloaded from the database",
			  (unsigned long long)(stats.lost - before), journal_reads);
		if (mq_reload() < 0)
			log_error("messaging: queue counts may be wrong until restart");
		int64_t seq = mq_last_seq();
		hmap_each(&clients, rewind_cursor, &seq);
	}
	buf_reset(&journal);
	buf_shrink(&journal, 65536);
	journal_reads = 0;
}

static void messaging_drained(struct router *r, struct rworker *w)
{
	if (((struct messaging_peer *)rworker_state(w))->cursor >= 0)
		pump(r, w);
}

static void messaging_gone(struct router *r, struct rworker *w)
{
	(void)r;
	struct messaging_peer *st = rworker_state(w);
	if (st->client_len && hmap_get(&clients, st->client, st->client_len) == w)
		hmap_del(&clients, st->client, st->client_len);
	buf_free(&st->errors);
	hmap_del(&pending, &w, sizeof w);
}

static void messaging_metrics(FILE *f)
{
	static const char *const names[] = {
		"stored", "duplicates", "read", "skipped_too_large", "skipped_over_quota", "skipped_sender_quota",
		"skipped_too_many_recipients", "skipped_store_full", "skipped_invalid", "skipped_sid_not_sender",
		"skipped_write_failed", "lost_failed_commit", "reads_lost_failed_commit", "identity_change_refused"};
	const uint64_t values[] = {stats.stored, stats.duplicates, stats.deleted, stats.too_large, stats.over_quota,
				   stats.per_sender, stats.recipients, stats.store_full, stats.invalid, stats.not_sender,
				   stats.write_failed, stats.lost, stats.lost_reads, stats.identity};
	fprintf(f, "# HELP switchboard_messaging_total Messaging store events.\n"
		   "# TYPE switchboard_messaging_total counter\n");
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
		fprintf(f, "switchboard_messaging_total{event=\"%s\"} %llu\n", names[i], (unsigned long long)values[i]);
	fprintf(f, "# HELP switchboard_messaging_recipients Recipients with stored messages.\n"
		   "# TYPE switchboard_messaging_recipients gauge\nswitchboard_messaging_recipients %zu\n"
		   "# HELP switchboard_messaging_stored_bytes Bytes of stored message text.\n"
		   "# TYPE switchboard_messaging_stored_bytes gauge\nswitchboard_messaging_stored_bytes %llu\n",
		mq_recipient_count(), (unsigned long long)mq_bytes());
}

static const struct proto_store messaging_store = {
	.name = MESSAGING_PROTO,
	.legacy_file = "messaging.db", /* the store until schema_versions */
	.version = MQ_VERSION,
	.create = MQ_TABLES,
	.migrations = mq_migrations,
	.nmigrations = MQ_NMIGRATIONS,
	.legacy_version = mq_legacy_version,
	.stats = mq_stats,
	.on_commit = on_commit,
};

const struct proto_router messaging_router = {
	.name = MESSAGING_PROTO,
	.state_size = sizeof(struct messaging_peer),
	.init = messaging_init,
	.on_envelope = messaging_envelope,
	.on_drained = messaging_drained,
	.on_worker_gone = messaging_gone,
	.fini = messaging_fini,
	.metrics = messaging_metrics,
	.store = &messaging_store,
};
