/* RFC 6455 frame codec: a resumable decoder for client frames, an encoder for ours. */
#ifndef SB_FRAME_H
#define SB_FRAME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode { WS_CONT = 0x0, WS_TEXT = 0x1, WS_BINARY = 0x2, WS_CLOSE = 0x8, WS_PING = 0x9, WS_PONG = 0xA };

#define WS_MAX_HEADER 14
#define WS_MAX_CONTROL 125

struct ws_frame {
	bool fin;
	uint8_t opcode;
	bool masked;
	uint8_t mask[4];
	uint64_t len;
};

struct ws_decoder {
	bool require_mask;
	bool in_payload;
	uint8_t hdr[WS_MAX_HEADER];
	uint8_t hdr_got;
	struct ws_frame f;
	uint64_t done; /* payload bytes already delivered for this frame */
	bool failed;   /* an ERROR was reported; later calls report it again */
};

enum ws_event { WS_EV_NONE, WS_EV_HEADER, WS_EV_DATA, WS_EV_END, WS_EV_ERROR };

void ws_decoder_init(struct ws_decoder *d, bool require_mask);
/*
 * Consumes bytes from data and reports one event:
 *   HEADER: d->f describes a new frame (0 bytes of payload yet);
 *   DATA:   data[0..*used) is payload, unmasked in place;
 *   END:    the frame is complete;
 *   NONE:   everything given was consumed, more is needed;
 *   ERROR:  a protocol violation, *close_code says which (1002); sticky:
 *           later calls consume nothing and report it again.
 * Returns the number of bytes consumed.
 */
size_t ws_decode(struct ws_decoder *d, uint8_t *data, size_t n, enum ws_event *ev, uint16_t *close_code);

/* Writes an unmasked frame header; returns its length (2, 4 or 10). */
size_t ws_frame_header(uint8_t out[10], bool fin, uint8_t opcode, uint64_t len);
/* Same with a mask (for our test and bench clients); returns 6, 8 or 14. */
size_t ws_frame_header_masked(uint8_t out[WS_MAX_HEADER], bool fin, uint8_t opcode, uint64_t len,
			      const uint8_t mask[4]);
void ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset);

static inline bool ws_is_control(uint8_t opcode) { return opcode & 0x8; }

#endif
