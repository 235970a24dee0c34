/*
 * proto/wsstar eio + sio: the Engine.IO 3 / Socket.IO 2 codec, with the
 * packets recorded between the reference server and real clients, the
 * strict decoder's refusals, the server-side encoder, and a round trip
 * through the real engine.io-parser 2 / socket.io-parser 3 from npm.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../proto/wsstar/eio.h"
#include "../../proto/wsstar/sio.h"
#include "../../proto/wsstar/sio_rx.h"
#include "check.h"

#define TOKENS 256

/* sio_decode on an exact-size private copy, so ASan sees reads past the end. */
static int decode(struct sio_packet *p, const char *s, char **copy)
{
	size_t n = strlen(s);
	*copy = malloc(n ? n : 1);
	memcpy(*copy, s, n);
	return sio_decode(p, *copy, n, TOKENS);
}

static int rc_of(const char *s)
{
	struct sio_packet p;
	char *copy;
	int rc = decode(&p, s, &copy);
	if (rc == SIO_OK)
		sio_packet_free(&p);
	free(copy);
	return rc;
}

static bool buf_is(const struct buf *b, const char *want)
{
	return buf_used(b) == strlen(want) && memcmp(buf_head(b), want, buf_used(b)) == 0;
}

static bool arg_is(const struct sio_packet *p, int k, const char *raw)
{
	int t = sio_arg(p, k);
	if (t < 0)
		return false;
	const char *s;
	size_t n;
	json_raw(&p->doc, t, &s, &n);
	return n == strlen(raw) && memcmp(s, raw, n) == 0;
}

static void test_eio_decode(void)
{
	struct eio_packet e;
	const uint8_t ping[] = "2", msg[] = "420[\"ss-join\",\"x\",\"\"]", bin[] = {0x04, 'h', 'i'};
	CHECK("eio: client ping (transcript '2')", eio_decode(&e, ping, 1, false) == EIO_OK && e.type == EIO_PING &&
							  e.len == 0 && !e.binary);
	CHECK("eio: text message carries the Socket.IO packet",
	      eio_decode(&e, msg, sizeof msg - 1, false) == EIO_OK && e.type == EIO_MESSAGE &&
		  e.len == sizeof msg - 2 && memcmp(e.data, "20[", 3) == 0);
	CHECK("eio: binary message, numeric type byte 0x04",
	      eio_decode(&e, bin, 3, true) == EIO_OK && e.type == EIO_MESSAGE && e.binary && e.len == 2 &&
		  memcmp(e.data, "hi", 2) == 0);
	CHECK("eio: close '1'", eio_decode(&e, (const uint8_t *)"1", 1, false) == EIO_OK && e.type == EIO_CLOSE);
	CHECK("eio: noop '6'", eio_decode(&e, (const uint8_t *)"6", 1, false) == EIO_OK && e.type == EIO_NOOP);
	CHECK("eio: ping with data", eio_decode(&e, (const uint8_t *)"2probe", 6, false) == EIO_OK &&
					 e.type == EIO_PING && e.len == 5);
	CHECK("eio: empty message refused", eio_decode(&e, ping, 0, false) == EIO_EMPTY);
	CHECK("eio: text type '7' refused", eio_decode(&e, (const uint8_t *)"7", 1, false) == EIO_BAD_TYPE);
	CHECK("eio: text type ' ' refused", eio_decode(&e, (const uint8_t *)" 4", 2, false) == EIO_BAD_TYPE);
	CHECK("eio: ASCII '4' in a binary message is no type",
	      eio_decode(&e, (const uint8_t *)"4x", 2, true) == EIO_BAD_TYPE);
	const uint8_t bin7[] = {0x07, 1};
	CHECK("eio: binary type 7 refused", eio_decode(&e, bin7, 2, true) == EIO_BAD_TYPE);
	CHECK("eio: base64 mode is not served", eio_decode(&e, (const uint8_t *)"b4aGk=", 6, false) == EIO_BASE64);
	uint8_t *big = calloc(1, EIO_MAX_MESSAGE + 1);
	big[0] = '4';
	CHECK("eio: 1,000,000 bytes accepted", eio_decode(&e, big, EIO_MAX_MESSAGE, false) == EIO_OK);
	CHECK("eio: 1,000,001 bytes refused", eio_decode(&e, big, EIO_MAX_MESSAGE + 1, false) == EIO_TOO_BIG);
	free(big);
	CHECK("eio: every error has a text", strcmp(eio_strerror(EIO_BASE64), "unknown Engine.IO error") != 0);
}

static void test_eio_encode(void)
{
	struct buf b = {0};
	CHECK("eio: open packet as the reference writes it",
	      eio_put_open(&b, "g3u6CX0ewa-wXW9PAAAA", EIO_PING_INTERVAL, EIO_PING_TIMEOUT) == 0 &&
		  buf_is(&b, "0{\"sid\":\"g3u6CX0ewa-wXW9PAAAA\",\"upgrades\":[],\"pingInterval\":25000,"
			     "\"pingTimeout\":20000}"));
	buf_reset(&b);
	CHECK("eio: open refuses a sid that needs escaping", eio_put_open(&b, "a\"b", 1, 1) == -1);
	char s1[EIO_SID_LEN + 1], s2[EIO_SID_LEN + 1];
	eio_new_sid(s1);
	eio_new_sid(s2);
	buf_reset(&b);
	CHECK("eio: new sids are 20 URL-safe characters and differ",
	      strlen(s1) == EIO_SID_LEN && strcmp(s1, s2) != 0 && eio_put_open(&b, s1, 1, 1) == 0);
	buf_reset(&b);
	CHECK("eio: pong without data", eio_put_pong(&b, NULL, 0) == 0 && buf_is(&b, "3"));
	buf_reset(&b);
	CHECK("eio: pong echoes the ping's data", eio_put_pong(&b, (const uint8_t *)"probe", 5) == 0 &&
							buf_is(&b, "3probe"));
	buf_reset(&b);
	CHECK("eio: close", eio_put_close(&b) == 0 && buf_is(&b, "1"));
	buf_reset(&b);
	CHECK("eio: binary message (transcript 04 'hello from A')",
	      eio_put_binary(&b, (const uint8_t *)"hello from A", 12) == 0 &&
		  buf_is(&b, "\x04hello from A"));
	buf_free(&b);
}

#define MA_A "/ip4/127.0.0.1/tcp/9091/ws/p2p-websocket-star/ipfs/QmXCWuvVJE17Xu3J6aiieDKuAhcRN55nb8EThAWg9s5BtL"
#define MA_B "/ip4/127.0.0.1/tcp/9091/ws/p2p-websocket-star/ipfs/12D3KooWBXcRMQWSR6mfPKWrDag65pfVp8iannYU2mr6Vwbd8xiK"
#define DIAL "21420ed8-3d80-4509-8f7c-522b9be24125"
#define NONCE "e9d00fdf-badb-4016-91b5-cb691a52992721fc396c-9036-48ab-839e-0cd9bb1b4767"

static void test_sio_transcript(void)
{
	struct sio_packet p;
	char *c;
	int rc = decode(&p, "20[\"ss-join\",\"" MA_B "\",\"08011220196c9d5f31d400b780c3329bd5c7d1b0c51973b1e06ba7e1"
			    "75fd9ffc1d118730\"]", &c);
	CHECK("sio: ss-join with ack id 0", rc == SIO_OK && p.type == SIO_EVENT && p.has_id && p.id == 0 &&
						 sio_default_nsp(&p) && json_str_eq(&p.doc, sio_event_name(&p), "ss-join") &&
						 sio_nargs(&p) == 2 && arg_is(&p, 0, "\"" MA_B "\"") && sio_arg(&p, 2) == -1);
	if (rc == SIO_OK)
		sio_packet_free(&p);
	free(c);
	rc = decode(&p, "210[\"ss-dial\",\"" MA_A "\",\"" MA_B "\",\"x1\"]", &c);
	CHECK("sio: ss-dial with ack id 10", rc == SIO_OK && p.id == 10 && sio_nargs(&p) == 3 &&
						  arg_is(&p, 2, "\"x1\""));
	if (rc == SIO_OK)
		sio_packet_free(&p);
	free(c);
	rc = decode(&p, "30[]", &c);
	CHECK("sio: the listener's empty ack '430[]'", rc == SIO_OK && p.type == SIO_ACK && p.has_id && p.id == 0 &&
							    sio_nargs(&p) == 0);
	if (rc == SIO_OK)
		sio_packet_free(&p);
	free(c);
	rc = decode(&p, "33[\"I do not want it\"]", &c);
	CHECK("sio: a refusing ack", rc == SIO_OK && p.type == SIO_ACK && p.id == 3 && sio_nargs(&p) == 1 &&
					 arg_is(&p, 0, "\"I do not want it\""));
	if (rc == SIO_OK)
		sio_packet_free(&p);
	free(c);
	rc = decode(&p, "51-[\"socket.io-pull-stream.queue." DIAL ".dialer\",{\"_placeholder\":true,\"num\":0}]", &c);
	CHECK("sio: binary event with one attachment", rc == SIO_OK && p.type == SIO_BINARY_EVENT &&
							   p.attachments == 1 && !p.has_id &&
							   p.placeholder[0] == sio_arg(&p, 0) &&
							   sio_placeholder_num(&p, sio_arg(&p, 0)) == 0);
	if (rc == SIO_OK)
		sio_packet_free(&p);
	free(c);
	rc = decode(&p, "2[\"socket.io-pull-stream.error." DIAL ".dialer\",true]", &c);
	CHECK("sio: stream end event", rc == SIO_OK && !p.has_id && arg_is(&p, 0, "true"));
	if (rc == SIO_OK)
		sio_packet_free(&p);
	free(c);
	rc = decode(&p, "0/foo,", &c);
	CHECK("sio: CONNECT to another namespace", rc == SIO_OK && p.type == SIO_CONNECT && p.nsp_len == 4 &&
						       memcmp(p.nsp, "/foo", 4) == 0 && !sio_default_nsp(&p) &&
						       p.doc.ntok == 0);
	if (rc == SIO_OK)
		sio_packet_free(&p);
	free(c);
	rc = decode(&p, "4/foo,\"Invalid namespace\"", &c);
	CHECK("sio: ERROR with namespace", rc == SIO_OK && p.type == SIO_ERROR && p.nsp_len == 4 &&
					       json_str_eq(&p.doc, 0, "Invalid namespace"));
	if (rc == SIO_OK)
		sio_packet_free(&p);
	free(c);
	CHECK("sio: DISCONNECT '41'", rc_of("1") == SIO_OK);
	CHECK("sio: CONNECT '40'", rc_of("0") == SIO_OK);
	CHECK("sio: namespace without comma at the end", rc_of("0/chat") == SIO_OK);
	CHECK("sio: event, namespace and ack id", rc_of("2/chat,5[\"a\"]") == SIO_OK);
	CHECK("sio: event named by a number", rc_of("2[1,2]") == SIO_OK);
	CHECK("sio: placeholder-like object in a plain event is data", rc_of("2[\"a\",{\"_placeholder\":true}]") == SIO_OK);
	CHECK("sio: largest ack id", rc_of("29007199254740991[\"a\"]") == SIO_OK);
	CHECK("sio: ten attachments", rc_of("510-[\"a\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1},"
					    "{\"_placeholder\":true,\"num\":2},{\"_placeholder\":true,\"num\":3},"
					    "{\"_placeholder\":true,\"num\":4},{\"_placeholder\":true,\"num\":5},"
					    "{\"_placeholder\":true,\"num\":6},{\"_placeholder\":true,\"num\":7},"
					    "{\"_placeholder\":true,\"num\":8},{\"num\":9,\"_placeholder\":true}]") == SIO_OK);
	CHECK("sio: binary ack", rc_of("61-4[{\"_placeholder\":true,\"num\":0}]") == SIO_OK);
}

static void test_sio_refusals(void)
{
	CHECK("sio: empty packet", rc_of("") == SIO_BAD_TYPE);
	CHECK("sio: type 7", rc_of("7[\"a\"]") == SIO_BAD_TYPE);
	CHECK("sio: type 'x'", rc_of("x") == SIO_BAD_TYPE);
	CHECK("sio: binary without count", rc_of("5[\"a\"]") == SIO_BAD_ATTACHMENTS);
	CHECK("sio: binary count without '-'", rc_of("51[\"a\"]") == SIO_BAD_ATTACHMENTS);
	CHECK("sio: zero attachments", rc_of("50-[\"a\"]") == SIO_BAD_ATTACHMENTS);
	CHECK("sio: attachment count with a leading zero", rc_of("501-[\"a\",{\"_placeholder\":true,\"num\":0}]") ==
							       SIO_BAD_ATTACHMENTS);
	CHECK("sio: eleven attachments", rc_of("511-[\"a\"]") == SIO_BAD_ATTACHMENTS);
	CHECK("sio: huge attachment count", rc_of("599999999999999999999-[\"a\"]") == SIO_BAD_ATTACHMENTS);
	char nsp[SIO_MAX_NSP + 16] = "0/";
	memset(nsp + 2, 'a', SIO_MAX_NSP - 1);
	CHECK("sio: namespace of SIO_MAX_NSP bytes", rc_of(nsp) == SIO_OK);
	strcat(nsp, "a,");
	CHECK("sio: namespace longer than SIO_MAX_NSP", rc_of(nsp) == SIO_BAD_NAMESPACE);
	CHECK("sio: namespace with a space", rc_of("0/a b,") == SIO_BAD_NAMESPACE);
	CHECK("sio: namespace with a control byte", rc_of("0/a\x01,") == SIO_BAD_NAMESPACE);
	CHECK("sio: ack id with a leading zero", rc_of("207[\"a\"]") == SIO_BAD_ACK_ID);
	CHECK("sio: ack id above 2^53-1", rc_of("29007199254740992[\"a\"]") == SIO_BAD_ACK_ID);
	CHECK("sio: ack id that overflows 64 bits", rc_of("299999999999999999999999[\"a\"]") == SIO_BAD_ACK_ID);
	CHECK("sio: truncated JSON", rc_of("2[\"a\"") == SIO_BAD_JSON);
	CHECK("sio: JSON with a missing comma", rc_of("2[\"a\" 1]") == SIO_BAD_JSON);
	CHECK("sio: trailing bytes after JSON", rc_of("2[\"a\"]x") == SIO_BAD_JSON);
	CHECK("sio: event without payload", rc_of("2") == SIO_BAD_PAYLOAD);
	CHECK("sio: event with an object", rc_of("2{\"a\":1}") == SIO_BAD_PAYLOAD);
	CHECK("sio: event with an empty array", rc_of("2[]") == SIO_BAD_PAYLOAD);
	CHECK("sio: event named null", rc_of("2[null]") == SIO_BAD_PAYLOAD);
	CHECK("sio: ack with an object", rc_of("30{}") == SIO_BAD_PAYLOAD);
	CHECK("sio: ack without payload", rc_of("30") == SIO_BAD_PAYLOAD);
	CHECK("sio: DISCONNECT with payload", rc_of("1[]") == SIO_BAD_PAYLOAD);
	CHECK("sio: CONNECT with an array", rc_of("0[]") == SIO_BAD_PAYLOAD);
	CHECK("sio: ERROR with an array", rc_of("4[]") == SIO_BAD_PAYLOAD);
	CHECK("sio: placeholder missing", rc_of("51-[\"a\"]") == SIO_BAD_PLACEHOLDER);
	CHECK("sio: placeholder num out of range", rc_of("51-[\"a\",{\"_placeholder\":true,\"num\":1}]") ==
						       SIO_BAD_PLACEHOLDER);
	CHECK("sio: placeholder num repeated", rc_of("52-[\"a\",{\"_placeholder\":true,\"num\":0},"
						     "{\"_placeholder\":true,\"num\":0}]") == SIO_BAD_PLACEHOLDER);
	CHECK("sio: placeholder with an extra key", rc_of("51-[\"a\",{\"_placeholder\":true,\"num\":0,\"x\":1}]") ==
							SIO_BAD_PLACEHOLDER);
	CHECK("sio: placeholder num as a string", rc_of("51-[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]") ==
						      SIO_BAD_PLACEHOLDER);
	CHECK("sio: placeholder num 0.0", rc_of("51-[\"a\",{\"_placeholder\":true,\"num\":0.0}]") ==
					      SIO_BAD_PLACEHOLDER);
	CHECK("sio: placeholder num -0", rc_of("51-[\"a\",{\"_placeholder\":true,\"num\":-0}]") == SIO_BAD_PLACEHOLDER);
	CHECK("sio: placeholder flag false", rc_of("51-[\"a\",{\"_placeholder\":false,\"num\":0}]") ==
						 SIO_BAD_PLACEHOLDER);
	/* Bounds: the token budget and json_parse's nesting limit. */
	struct sio_packet p;
	CHECK("sio: over the token budget", sio_decode(&p, "2[\"a\",1,2,3,4]", 14, 4) == SIO_TOO_BIG);
	size_t depth = JSON_MAX_DEPTH + 10, n = 2 * depth + 1;
	char *deep = malloc(n);
	deep[0] = '2';
	memset(deep + 1, '[', depth);
	memset(deep + 1 + depth, ']', depth);
	CHECK("sio: nesting deeper than JSON_MAX_DEPTH", sio_decode(&p, deep, n, 1 << 20) == SIO_BAD_JSON);
	free(deep);
	CHECK("sio: every error has a text", strcmp(sio_strerror(SIO_BAD_PLACEHOLDER), "unknown Socket.IO error") != 0);
}

/* Each server message of the transcript, built by the encoder. */
static void test_sio_encode(void)
{
	struct buf b = {0};
	struct sio_out o;
	CHECK("sio: '40' for the default namespace", sio_put_connect(&b, NULL) == 0 && buf_is(&b, "40"));
	buf_reset(&b);
	CHECK("sio: '41'", sio_put_disconnect(&b) == 0 && buf_is(&b, "41"));
	buf_reset(&b);
	CHECK("sio: namespace refusal as the reference sends it",
	      sio_put_error(&b, "/foo", "Invalid namespace") == 0 && buf_is(&b, "44/foo,\"Invalid namespace\""));
	buf_reset(&b);
	CHECK("sio: a namespace with ',' is not echoed", sio_put_error(&b, "/a,b", "x") == -1);
	buf_reset(&b);
	sio_out_event(&o, &b, "ws-peer", 7, -1, 0);
	sio_out_string(&o, MA_B, strlen(MA_B));
	CHECK("sio: ws-peer announcement", sio_out_end(&o) == 0 && buf_is(&b, "42[\"ws-peer\",\"" MA_B "\"]"));
	buf_reset(&b);
	sio_out_event(&o, &b, "ss-incomming", 12, 0, 0);
	sio_out_string(&o, DIAL, strlen(DIAL));
	sio_out_string(&o, MA_A, strlen(MA_A));
	CHECK("sio: ss-incomming with the server's ack id 0",
	      sio_out_end(&o) == 0 && buf_is(&b, "420[\"ss-incomming\",\"" DIAL "\",\"" MA_A "\"]"));
	buf_reset(&b);
	sio_out_ack(&o, &b, 0, 0);
	sio_out_null(&o);
	sio_out_string(&o, NONCE, strlen(NONCE));
	CHECK("sio: challenge ack", sio_out_end(&o) == 0 && buf_is(&b, "430[null,\"" NONCE "\"]"));
	buf_reset(&b);
	sio_out_ack(&o, &b, 1, 0);
	sio_out_null(&o);
	sio_out_null(&o);
	sio_out_string_array(&o, NULL, NULL, 0);
	CHECK("sio: join ack with no peers", sio_out_end(&o) == 0 && buf_is(&b, "431[null,null,[]]"));
	buf_reset(&b);
	const char *peers[] = {MA_A, MA_B};
	size_t lens[] = {strlen(MA_A), strlen(MA_B)};
	sio_out_ack(&o, &b, 1, 0);
	sio_out_null(&o);
	sio_out_null(&o);
	sio_out_string_array(&o, peers, lens, 2);
	CHECK("sio: join ack with two peers",
	      sio_out_end(&o) == 0 && buf_is(&b, "431[null,null,[\"" MA_A "\",\"" MA_B "\"]]"));
	buf_reset(&b);
	sio_out_ack(&o, &b, 2, 0);
	CHECK("sio: empty ack", sio_out_end(&o) == 0 && buf_is(&b, "432[]"));
	buf_reset(&b);
	sio_out_ack(&o, &b, 3, 0);
	sio_out_string(&o, "Peer not found", 14);
	CHECK("sio: error ack", sio_out_end(&o) == 0 && buf_is(&b, "433[\"Peer not found\"]"));
	buf_reset(&b);
	sio_out_ack(&o, &b, 9, 0);
	sio_out_raw(&o, "{}", 2);
	CHECK("sio: ack with a raw value", sio_out_end(&o) == 0 && buf_is(&b, "439[{}]"));
	buf_free(&b);
}

/* Relay messages, binary headers and the encoder's own refusals. */
static void test_sio_encode_relay(void)
{
	struct buf b = {0};
	struct sio_out o;
	const char *q = "socket.io-pull-stream.queue." DIAL ".dialer";
	sio_out_event(&o, &b, q, strlen(q), -1, 1);
	sio_out_placeholder(&o);
	CHECK("sio: relayed chunk header (binary event, one attachment)",
	      sio_out_end(&o) == 0 && buf_is(&b, "451-[\"socket.io-pull-stream.queue." DIAL
						 ".dialer\",{\"_placeholder\":true,\"num\":0}]"));
	buf_reset(&b);
	const char *e = "socket.io-pull-stream.error." DIAL ".dialer";
	sio_out_event(&o, &b, e, strlen(e), -1, 0);
	sio_out_bool(&o, true);
	CHECK("sio: stream end", sio_out_end(&o) == 0 && buf_is(&b, "42[\"socket.io-pull-stream.error." DIAL
								      ".dialer\",true]"));
	buf_reset(&b);
	sio_out_event(&o, &b, "x", 1, -1, 2);
	sio_out_placeholder(&o);
	CHECK("sio: fewer placeholders than announced fail", sio_out_end(&o) == -1);
	buf_reset(&b);
	sio_out_ack(&o, &b, 7, 2);
	sio_out_placeholder(&o);
	sio_out_placeholder(&o);
	CHECK("sio: binary ack header", sio_out_end(&o) == 0 &&
					    buf_is(&b, "462-7[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]"));
	buf_reset(&b);
	sio_out_event(&o, &b, "x", 1, -1, SIO_MAX_ATTACHMENTS + 1);
	CHECK("sio: more than SIO_MAX_ATTACHMENTS refused", sio_out_end(&o) == -1);
	buf_reset(&b);
	sio_out_ack(&o, &b, SIO_MAX_ACK_ID + 1, 0);
	CHECK("sio: ack id above 2^53-1 refused", sio_out_end(&o) == -1);
	buf_reset(&b);
	sio_out_event(&o, &b, "quote\"", 6, 5, 0);
	sio_out_string(&o, "\n", 1);
	int ok = sio_out_end(&o) == 0;
	struct sio_packet p;
	CHECK("sio: encoded event decodes back (escapes)",
	      ok && sio_decode(&p, (const char *)buf_head(&b) + 1, buf_used(&b) - 1, TOKENS) == SIO_OK &&
		  p.id == 5 && json_str_eq(&p.doc, sio_event_name(&p), "quote\"") &&
		  json_str_eq(&p.doc, sio_arg(&p, 0), "\n"));
	if (ok)
		sio_packet_free(&p);
	buf_free(&b);
}

static bool att_is(const struct sio_rx *rx, unsigned k, const char *want, size_t n)
{
	size_t got;
	const uint8_t *a = sio_rx_att(rx, k, &got);
	return got == n && memcmp(a, want, n) == 0;
}

/* Binary packets held until their attachments arrived (transcript A's chunks). */
static void test_sio_rx(void)
{
	struct sio_rx rx;
	sio_rx_init(&rx, 16);
	const char *h = "51-[\"socket.io-pull-stream.queue." DIAL ".dialer\",{\"_placeholder\":true,\"num\":0}]";
	char *copy = strdup(h);
	int rc = sio_rx_text(&rx, copy, strlen(copy), TOKENS);
	memset(copy, 'x', strlen(copy)); /* the header must not point into the message */
	free(copy);
	CHECK("sio rx: a binary header waits", rc == SIO_RX_PENDING);
	rc = sio_rx_binary(&rx, (const uint8_t *)"hello from A", 12);
	CHECK("sio rx: its attachment completes it", rc == SIO_RX_READY && rx.pkt.attachments == 1 &&
							 json_str_eq(&rx.pkt.doc, 1, "socket.io-pull-stream.queue." DIAL ".dialer") &&
							 att_is(&rx, 0, "hello from A", 12));
	rc = sio_rx_text(&rx, "2[\"a\"]", 6, TOKENS);
	CHECK("sio rx: a plain packet is ready at once", rc == SIO_RX_READY && rx.got == 0 &&
							     json_str_eq(&rx.pkt.doc, 1, "a"));
	const char *ack = "62-3[{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":0}]";
	rc = sio_rx_text(&rx, ack, strlen(ack), TOKENS);
	int rc2 = sio_rx_binary(&rx, (const uint8_t *)"", 0);
	int rc3 = sio_rx_binary(&rx, (const uint8_t *)"\x00\x01", 2);
	CHECK("sio rx: binary ack with two attachments, one empty",
	      rc == SIO_RX_PENDING && rc2 == SIO_RX_PENDING && rc3 == SIO_RX_READY && rx.pkt.id == 3 &&
		  att_is(&rx, 0, "", 0) && att_is(&rx, 1, "\x00\x01", 2));
	sio_rx_release(&rx);
	CHECK("sio rx: an attachment nobody announced", sio_rx_binary(&rx, (const uint8_t *)"x", 1) == SIO_RX_STRAY_BINARY);
	sio_rx_text(&rx, h, strlen(h), TOKENS);
	CHECK("sio rx: a text packet before the attachment", sio_rx_text(&rx, "2[\"a\"]", 6, TOKENS) == SIO_RX_TEXT_IN_BINARY &&
								 !rx.pending);
	sio_rx_text(&rx, h, strlen(h), TOKENS);
	uint8_t big[17] = {0};
	CHECK("sio rx: attachments over the bound", sio_rx_binary(&rx, big, 17) == SIO_TOO_BIG && !rx.pending);
	CHECK("sio rx: a bad header is refused", sio_rx_text(&rx, "51-[\"a\"]", 8, TOKENS) == SIO_BAD_PLACEHOLDER &&
							!rx.pending);
	sio_rx_text(&rx, h, strlen(h), TOKENS);
	sio_rx_free(&rx); /* a pending header is freed too (ASan checks) */
	CHECK("sio rx: every result has a text", strcmp(sio_rx_strerror(SIO_RX_STRAY_BINARY), "unknown Socket.IO error") != 0);
}

/* ---- round trip through the real npm parsers ---- */

#define VECTORS "tests/unit/wsstar_vectors.js"
#define MAX_LINES 64

static void put_line(FILE *f, char kind, const struct buf *b)
{
	fprintf(f, "%c ", kind);
	for (size_t i = 0; i < buf_used(b); i++)
		fprintf(f, "%02x", buf_head(b)[i]);
	fputc('\n', f);
}

/* Writes our encoder's server messages for node to decode. */
static void write_server_messages(FILE *f)
{
	struct buf b = {0};
	struct sio_out o;
	eio_put_open(&b, "g3u6CX0ewa-wXW9PAAAA", EIO_PING_INTERVAL, EIO_PING_TIMEOUT);
	put_line(f, 't', &b);
	buf_reset(&b);
	sio_put_connect(&b, NULL);
	put_line(f, 't', &b);
	buf_reset(&b);
	sio_out_event(&o, &b, "ws-peer", 7, -1, 0);
	sio_out_string(&o, MA_B, strlen(MA_B));
	sio_out_end(&o);
	put_line(f, 't', &b);
	buf_reset(&b);
	sio_out_ack(&o, &b, 0, 0);
	sio_out_null(&o);
	sio_out_string(&o, NONCE, strlen(NONCE));
	sio_out_end(&o);
	put_line(f, 't', &b);
	buf_reset(&b);
	const char *peers[] = {MA_A};
	size_t lens[] = {strlen(MA_A)};
	sio_out_ack(&o, &b, 1, 0);
	sio_out_null(&o);
	sio_out_null(&o);
	sio_out_string_array(&o, peers, lens, 1);
	sio_out_end(&o);
	put_line(f, 't', &b);
	buf_reset(&b);
	const char *q = "socket.io-pull-stream.queue.D.dialer";
	sio_out_event(&o, &b, q, strlen(q), -1, 1);
	sio_out_placeholder(&o);
	sio_out_end(&o);
	put_line(f, 't', &b);
	buf_reset(&b);
	eio_put_binary(&b, (const uint8_t *)"\x00\x01\xfe\xff", 4);
	put_line(f, 'b', &b);
	buf_reset(&b);
	sio_put_error(&b, "/foo", "Invalid namespace");
	put_line(f, 't', &b);
	buf_reset(&b);
	eio_put_pong(&b, NULL, 0);
	put_line(f, 't', &b);
	buf_free(&b);
}

static const char *const node_decoded[] = {
	"D open {\"sid\":\"g3u6CX0ewa-wXW9PAAAA\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000}",
	"D {\"type\":0,\"nsp\":\"/\"}",
	"D {\"type\":2,\"nsp\":\"/\",\"data\":[\"ws-peer\",\"" MA_B "\"]}",
	"D {\"type\":3,\"nsp\":\"/\",\"id\":0,\"data\":[null,\"" NONCE "\"]}",
	"D {\"type\":3,\"nsp\":\"/\",\"id\":1,\"data\":[null,null,[\"" MA_A "\"]]}",
	"D {\"type\":5,\"nsp\":\"/\",\"data\":[\"socket.io-pull-stream.queue.D.dialer\",{\"buf\":\"0001feff\"}]}",
	"D {\"type\":4,\"nsp\":\"/foo\",\"data\":\"Invalid namespace\"}",
	"D pong \"\"",
};

/* Runs node on the file; the output lines (newlines cut), or -1. */
static int run_node(const char *file, char **lines)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "node " VECTORS " codec %s", file);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	int n = 0;
	char line[4096];
	while (n < MAX_LINES && fgets(line, sizeof line, p)) {
		line[strcspn(line, "\n")] = 0;
		lines[n++] = strdup(line);
	}
	return pclose(p) == 0 ? n : -1;
}

/* One "E t|b <hex>" line of node's encoding into an Engine.IO packet. */
static bool node_packet(const char *line, uint8_t *bytes, struct eio_packet *e)
{
	size_t n = strlen(line + 4) / 2;
	if (strncmp(line, "E ", 2) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (sscanf(line + 4 + 2 * i, "%2hhx", &bytes[i]) != 1)
			return false;
	return eio_decode(e, bytes, n, line[2] == 'b') == EIO_OK;
}

static bool node_sio(const char *line, uint8_t *bytes, struct sio_packet *p)
{
	struct eio_packet e;
	if (!node_packet(line, bytes, &e) || e.binary || e.type != EIO_MESSAGE)
		return false;
	return sio_decode(p, (const char *)e.data, e.len, TOKENS) == SIO_OK;
}

static void check_node_encoded(char **l, int n)
{
	static uint8_t bytes[4096];
	struct sio_packet p = {0};
	struct eio_packet e;
	bool ok = n == 8 + 10;
	l += 8;
	ok = ok && node_sio(l[0], bytes, &p) && p.type == SIO_EVENT && p.id == 0 && sio_nargs(&p) == 2 &&
	     json_str_eq(&p.doc, 1, "ss-join");
	CHECK("sio interop: socket.io-parser's event with ack decodes", ok);
	sio_packet_free(&p);
	ok = ok && node_sio(l[1], bytes, &p) && p.type == SIO_ACK && p.id == 7 && sio_nargs(&p) == 0;
	CHECK("sio interop: its ack decodes", ok);
	sio_packet_free(&p);
	ok = ok && node_sio(l[2], bytes, &p) && p.type == SIO_BINARY_EVENT && p.attachments == 1 &&
	     p.placeholder[0] == sio_arg(&p, 0);
	sio_packet_free(&p);
	ok = ok && node_packet(l[3], bytes, &e) && e.binary && e.type == EIO_MESSAGE && e.len == 4 &&
	     memcmp(e.data, "\x00\x01\xfe\xff", 4) == 0;
	CHECK("sio interop: its binary event and attachment (numeric type byte) decode", ok);
	ok = ok && node_sio(l[4], bytes, &p) && p.type == SIO_CONNECT && p.nsp_len == 4;
	sio_packet_free(&p);
	ok = ok && node_sio(l[5], bytes, &p) && p.type == SIO_DISCONNECT;
	sio_packet_free(&p);
	CHECK("sio interop: its CONNECT /foo and DISCONNECT decode", ok);
	ok = ok && node_sio(l[6], bytes, &p) && p.type == SIO_BINARY_EVENT && p.attachments == 2 && p.id == 12 &&
	     p.placeholder[0] > 0 && p.placeholder[1] > p.placeholder[0];
	sio_packet_free(&p);
	ok = ok && node_packet(l[7], bytes, &e) && e.binary && e.len == 1 && node_packet(l[8], bytes, &e) &&
	     e.binary && e.len == 2;
	CHECK("sio interop: nested placeholders of two attachments", ok);
	ok = ok && node_packet(l[9], bytes, &e) && e.type == EIO_PING && !e.binary;
	CHECK("sio interop: engine.io-parser's ping decodes", ok);
}

static void test_sio_interop(void)
{
	char file[] = "/tmp/sb-wsstar-codec-XXXXXX";
	int fd = mkstemp(file);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		CHECK("sio interop: temporary file", false);
		return;
	}
	write_server_messages(f);
	fclose(f);
	char *lines[MAX_LINES];
	int n = run_node(file, lines);
	unlink(file);
	CHECK("sio interop: node ran " VECTORS " (needs tests/e2e/node_modules)", n > 0);
	for (size_t k = 0; k < sizeof node_decoded / sizeof node_decoded[0]; k++) {
		char name[96];
		snprintf(name, sizeof name, "sio interop: npm parsers decode our message %zu as the reference's", k);
		CHECK(name, (int)k < n && strcmp(lines[k], node_decoded[k]) == 0);
	}
	check_node_encoded(lines, n);
	for (int k = 0; k < n; k++)
		free(lines[k]);
}

void test_eio(void)
{
	test_eio_decode();
	test_eio_encode();
	test_sio_transcript();
	test_sio_refusals();
	test_sio_encode();
	test_sio_encode_relay();
	test_sio_rx();
	test_sio_interop();
}
