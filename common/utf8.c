#include "utf8.h"

#include <string.h>

/* Sets the expectations after a lead byte; false when it cannot start a sequence. */
static bool utf8_lead(struct utf8_state *s, uint8_t b)
{
	s->lo = 0x80;
	s->hi = 0xBF;
	if (b >= 0xC2 && b <= 0xDF) {
		s->need = 1;
	} else if (b >= 0xE0 && b <= 0xEF) {
		s->need = 2;
		if (b == 0xE0)
			s->lo = 0xA0; /* no overlong 3-byte forms */
		else if (b == 0xED)
			s->hi = 0x9F; /* no UTF-16 surrogates */
	} else if (b >= 0xF0 && b <= 0xF4) {
		s->need = 3;
		if (b == 0xF0)
			s->lo = 0x90; /* no overlong 4-byte forms */
		else if (b == 0xF4)
			s->hi = 0x8F; /* nothing above U+10FFFF */
	} else {
		return false;
	}
	return true;
}

bool utf8_feed(struct utf8_state *s, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (s->need == 0) {
			/* ASCII runs dominate chat traffic: test 8 bytes at a time. */
			while (i + 8 <= n) {
				uint64_t w;
				memcpy(&w, p + i, 8);
				if (w & 0x8080808080808080ull)
					break;
				i += 8;
			}
			if (i >= n)
				break;
			uint8_t b = p[i++];
			if (b < 0x80)
				continue;
			if (!utf8_lead(s, b))
				return false;
		} else {
			uint8_t b = p[i++];
			if (b < s->lo || b > s->hi)
				return false;
			s->need--;
			s->lo = 0x80;
			s->hi = 0xBF;
		}
	}
	return true;
}

bool utf8_valid(const uint8_t *p, size_t n)
{
	struct utf8_state s;
	utf8_init(&s);
	return utf8_feed(&s, p, n) && utf8_complete(&s);
}
