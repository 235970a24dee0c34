/*
 * Socket.IO 2 packet decoding (strict; see sio.h for where we are stricter
 * than socket.io-parser 3) and the encoder for what a server sends.
 */
#include "sio.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- decoding ---- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* "<N>-" of a binary packet; *i is just after the type digit. */
static int read_attachments(struct sio_packet *p, const char *s, size_t n, size_t *i)
{
	unsigned v = 0;
	size_t start = *i;
	while (*i < n && is_digit(s[*i])) {
		v = v * 10 + (unsigned)(s[*i] - '0');
		if (v > SIO_MAX_ATTACHMENTS)
			return SIO_BAD_ATTACHMENTS;
		(*i)++;
	}
	if (*i == start || *i >= n || s[*i] != '-' || v < 1 || (s[start] == '0'))
		return SIO_BAD_ATTACHMENTS;
	(*i)++;
	p->attachments = v;
	return SIO_OK;
}

static int read_namespace(struct sio_packet *p, const char *s, size_t n, size_t *i)
{
	p->nsp = "/";
	p->nsp_len = 1;
	if (*i >= n || s[*i] != '/')
		return SIO_OK;
	size_t start = *i;
	while (*i < n && s[*i] != ',') {
		unsigned char c = (unsigned char)s[*i];
		if (c < 0x21 || c > 0x7e || *i - start >= SIO_MAX_NSP)
			return SIO_BAD_NAMESPACE;
		(*i)++;
	}
	p->nsp = s + start;
	p->nsp_len = *i - start;
	if (*i < n)
		(*i)++; /* the ',' */
	return SIO_OK;
}

static int read_ack_id(struct sio_packet *p, const char *s, size_t n, size_t *i)
{
	if (*i >= n || !is_digit(s[*i]))
		return SIO_OK;
	if (s[*i] == '0' && *i + 1 < n && is_digit(s[*i + 1]))
		return SIO_BAD_ACK_ID;
	uint64_t v = 0;
	while (*i < n && is_digit(s[*i])) {
		v = v * 10 + (uint64_t)(s[*i] - '0');
		if (v > SIO_MAX_ACK_ID)
			return SIO_BAD_ACK_ID;
		(*i)++;
	}
	p->has_id = true;
	p->id = v;
	return SIO_OK;
}

static bool payload_fits(const struct sio_packet *p)
{
	const struct json_doc *d = &p->doc;
	bool none = d->ntok == 0;
	switch (p->type) {
	case SIO_CONNECT:
		return none || json_type(d, 0) == JSON_OBJECT;
	case SIO_DISCONNECT:
		return none;
	case SIO_ERROR:
		return !none && (json_type(d, 0) == JSON_STRING || json_type(d, 0) == JSON_OBJECT);
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		return !none && json_type(d, 0) == JSON_ARRAY && json_size(d, 0) > 0 &&
		       (json_type(d, 1) == JSON_STRING || json_type(d, 1) == JSON_NUMBER);
	case SIO_ACK:
	case SIO_BINARY_ACK:
		return !none && json_type(d, 0) == JSON_ARRAY;
	}
	return false;
}

/* A placeholder's num: a plain non-negative integer below the count. */
static int placeholder_value(const struct json_doc *d, int i, unsigned count)
{
	if (i < 0 || json_type(d, i) != JSON_NUMBER)
		return -1;
	const char *t;
	size_t n;
	json_raw(d, i, &t, &n);
	if (n == 0 || n > 2 || (n == 2 && t[0] == '0'))
		return -1; /* count <= 10: at most two digits */
	unsigned v = 0;
	for (size_t k = 0; k < n; k++) {
		if (!is_digit(t[k]))
			return -1;
		v = v * 10 + (unsigned)(t[k] - '0');
	}
	return v < count ? (int)v : -1;
}

int sio_placeholder_num(const struct sio_packet *p, int i)
{
	const struct json_doc *d = &p->doc;
	if (p->attachments == 0 || i < 0 || i >= d->ntok || json_type(d, i) != JSON_OBJECT ||
	    json_size(d, i) != 2)
		return -1;
	int flag = json_get(d, i, "_placeholder");
	if (flag < 0 || json_type(d, flag) != JSON_TRUE)
		return -1;
	return placeholder_value(d, json_get(d, i, "num"), p->attachments);
}

/* Every object with a "_placeholder" key must be a placeholder, and nums
 * 0..attachments-1 must each appear exactly once. */
static int find_placeholders(struct sio_packet *p)
{
	const struct json_doc *d = &p->doc;
	unsigned seen = 0;
	for (int k = 0; k < SIO_MAX_ATTACHMENTS; k++)
		p->placeholder[k] = -1;
	for (int i = 0; i < d->ntok; i++) {
		if (json_type(d, i) != JSON_OBJECT || json_get(d, i, "_placeholder") < 0)
			continue;
		int num = sio_placeholder_num(p, i);
		if (num < 0 || p->placeholder[num] >= 0)
			return SIO_BAD_PLACEHOLDER;
		p->placeholder[num] = i;
		seen++;
	}
	return seen == p->attachments ? SIO_OK : SIO_BAD_PLACEHOLDER;
}

static int read_payload(struct sio_packet *p, const char *s, size_t n, size_t i, int max_tokens)
{
	if (i < n) {
		p->json = s + i;
		p->json_len = n - i;
		int rc = json_parse(&p->doc, p->json, p->json_len, max_tokens);
		if (rc == JSON_TOO_BIG)
			return SIO_TOO_BIG;
		if (rc == JSON_NOMEM)
			return SIO_NOMEM;
		if (rc != JSON_OK)
			return SIO_BAD_JSON;
	}
	if (!payload_fits(p))
		return SIO_BAD_PAYLOAD;
	return p->attachments ? find_placeholders(p) : SIO_OK;
}

int sio_decode(struct sio_packet *p, const char *s, size_t n, int max_tokens)
{
	memset(p, 0, sizeof *p);
	if (n == 0 || s[0] < '0' || s[0] > '6')
		return SIO_BAD_TYPE;
	p->type = (enum sio_type)(s[0] - '0');
	size_t i = 1;
	int rc = SIO_OK;
	if (p->type == SIO_BINARY_EVENT || p->type == SIO_BINARY_ACK)
		rc = read_attachments(p, s, n, &i);
	if (rc == SIO_OK)
		rc = read_namespace(p, s, n, &i);
	if (rc == SIO_OK)
		rc = read_ack_id(p, s, n, &i);
	if (rc == SIO_OK)
		rc = read_payload(p, s, n, i, max_tokens);
	if (rc != SIO_OK)
		sio_packet_free(p);
	return rc;
}

void sio_packet_free(struct sio_packet *p) { json_free(&p->doc); }

const char *sio_strerror(int err)
{
	switch (err) {
	case SIO_OK:
		return "ok";
	case SIO_BAD_TYPE:
		return "unknown Socket.IO packet type";
	case SIO_BAD_ATTACHMENTS:
		return "bad attachment count";
	case SIO_BAD_NAMESPACE:
		return "bad namespace";
	case SIO_BAD_ACK_ID:
		return "bad ack id";
	case SIO_BAD_JSON:
		return "payload is not JSON";
	case SIO_TOO_BIG:
		return "payload too big";
	case SIO_BAD_PAYLOAD:
		return "payload does not fit the packet type";
	case SIO_BAD_PLACEHOLDER:
		return "bad attachment placeholders";
	case SIO_NOMEM:
		return "out of memory";
	default:
		return "unknown Socket.IO error";
	}
}

bool sio_default_nsp(const struct sio_packet *p) { return p->nsp_len == 1 && p->nsp[0] == '/'; }

int sio_event_name(const struct sio_packet *p)
{
	if (p->type != SIO_EVENT && p->type != SIO_BINARY_EVENT)
		return -1;
	return 1; /* payload_fits checked: [name, ...] */
}

static bool is_event(const struct sio_packet *p) { return p->type == SIO_EVENT || p->type == SIO_BINARY_EVENT; }

int sio_nargs(const struct sio_packet *p)
{
	if (p->doc.ntok == 0 || json_type(&p->doc, 0) != JSON_ARRAY)
		return 0;
	return json_size(&p->doc, 0) - (is_event(p) ? 1 : 0);
}

int sio_arg(const struct sio_packet *p, int k)
{
	if (k < 0 || k >= sio_nargs(p))
		return -1;
	int j = 1;
	for (int skip = k + (is_event(p) ? 1 : 0); skip > 0; skip--)
		j = json_skip(&p->doc, j);
	return j;
}

/* ---- encoding (whole Engine.IO message payloads, '4' first) ---- */

/* nsp must be a plain "/name" with no ',' (we only ever echo a decoded one). */
static int put_nsp(struct buf *b, const char *nsp)
{
	if (!nsp || strcmp(nsp, "/") == 0)
		return 0;
	if (nsp[0] != '/' || strchr(nsp, ','))
		return -1;
	return buf_printf(b, "%s,", nsp);
}

int sio_put_connect(struct buf *b, const char *nsp)
{
	return buf_append(b, "40", 2) < 0 ? -1 : put_nsp(b, nsp);
}

int sio_put_disconnect(struct buf *b) { return buf_append(b, "41", 2); }

int sio_put_error(struct buf *b, const char *nsp, const char *text)
{
	if (buf_append(b, "44", 2) < 0 || put_nsp(b, nsp) < 0)
		return -1;
	return json_put_string(b, text, strlen(text));
}

static void out_begin(struct sio_out *o, struct buf *b, char type, unsigned attachments, int64_t id)
{
	memset(o, 0, sizeof *o);
	o->b = b;
	o->expect = attachments;
	char head[48];
	int n = attachments ? snprintf(head, sizeof head, "4%c%u-", type + 3, attachments)
			    : snprintf(head, sizeof head, "4%c", type);
	if (id >= 0)
		n += snprintf(head + n, sizeof head - (size_t)n, "%" PRId64, id);
	o->failed = attachments > SIO_MAX_ATTACHMENTS || (id >= 0 && (uint64_t)id > SIO_MAX_ACK_ID) ||
		    buf_append(b, head, (size_t)n) < 0 || buf_append(b, "[", 1) < 0;
}

void sio_out_event(struct sio_out *o, struct buf *b, const char *name, size_t name_len, int64_t id,
		   unsigned attachments)
{
	out_begin(o, b, '2', attachments, id);
	sio_out_string(o, name, name_len);
}

void sio_out_ack(struct sio_out *o, struct buf *b, uint64_t id, unsigned attachments)
{
	out_begin(o, b, '3', attachments, (int64_t)(id > SIO_MAX_ACK_ID ? SIO_MAX_ACK_ID + 1 : id));
}

/* The comma before every element but the first of the array. */
static bool out_sep(struct sio_out *o)
{
	if (o->failed)
		return false;
	if (o->elems++ > 0 && buf_append(o->b, ",", 1) < 0)
		o->failed = true;
	return !o->failed;
}

static void out_text(struct sio_out *o, const char *s, size_t n)
{
	if (out_sep(o) && buf_append(o->b, s, n) < 0)
		o->failed = true;
}

void sio_out_string(struct sio_out *o, const char *s, size_t n)
{
	if (out_sep(o) && json_put_string(o->b, s, n) < 0)
		o->failed = true;
}

void sio_out_null(struct sio_out *o) { out_text(o, "null", 4); }
void sio_out_bool(struct sio_out *o, bool v) { out_text(o, v ? "true" : "false", v ? 4 : 5); }
void sio_out_raw(struct sio_out *o, const char *json, size_t n) { out_text(o, json, n); }

void sio_out_placeholder(struct sio_out *o)
{
	if (out_sep(o) && buf_printf(o->b, "{\"_placeholder\":true,\"num\":%u}", o->written) < 0)
		o->failed = true;
	o->written++;
}

void sio_out_string_array(struct sio_out *o, const char *const *s, const size_t *n, size_t count)
{
	if (!out_sep(o) || buf_append(o->b, "[", 1) < 0) {
		o->failed = true;
		return;
	}
	for (size_t k = 0; k < count && !o->failed; k++)
		if ((k && buf_append(o->b, ",", 1) < 0) || json_put_string(o->b, s[k], n[k]) < 0)
			o->failed = true;
	if (!o->failed && buf_append(o->b, "]", 1) < 0)
		o->failed = true;
}

int sio_out_end(struct sio_out *o)
{
	if (!o->failed && buf_append(o->b, "]", 1) < 0)
		o->failed = true;
	return o->failed || o->written != o->expect ? -1 : 0;
}
