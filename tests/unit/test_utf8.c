/* common/utf8: the incremental validator against Unicode table 3-7. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../../common/utf8.h"
#include "check.h"

static bool valid_str(const char *s) { return utf8_valid((const uint8_t *)s, strlen(s)); }

/* Feeds one byte per call; the result must equal whole-buffer validation. */
static bool valid_bytewise(const uint8_t *p, size_t n)
{
	struct utf8_state s;
	utf8_init(&s);
	for (size_t i = 0; i < n; i++)
		if (!utf8_feed(&s, p + i, 1))
			return false;
	return utf8_complete(&s);
}

/* Feeds p in two calls split at k. */
static bool valid_split(const uint8_t *p, size_t n, size_t k)
{
	struct utf8_state s;
	utf8_init(&s);
	return utf8_feed(&s, p, k) && utf8_feed(&s, p + k, n - k) && utf8_complete(&s);
}

/* Index of the byte at which byte-by-byte feeding fails, or n. */
static size_t fail_index(const uint8_t *p, size_t n)
{
	struct utf8_state s;
	utf8_init(&s);
	for (size_t i = 0; i < n; i++)
		if (!utf8_feed(&s, p + i, 1))
			return i;
	return n;
}

/*
 * A reference decoder written the slow, obvious way (decode the scalar value,
 * then reject overlongs, surrogates and values above U+10FFFF), to compare
 * with the table-driven validator on every short byte string.
 */
static bool ref_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t b = p[i];
		size_t k;
		unsigned long cp, min;
		if (b < 0x80) {
			i++;
			continue;
		} else if ((b & 0xE0) == 0xC0) {
			k = 1, cp = b & 0x1F, min = 0x80;
		} else if ((b & 0xF0) == 0xE0) {
			k = 2, cp = b & 0x0F, min = 0x800;
		} else if ((b & 0xF8) == 0xF0) {
			k = 3, cp = b & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (i + k >= n) /* sequence cut short */
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

static void test_known(void)
{
	CHECK("utf8: empty string is valid", utf8_valid((const uint8_t *)"", 0));
	CHECK("utf8: ASCII is valid", valid_str("hello, world"));
	CHECK("utf8: NUL byte is valid", utf8_valid((const uint8_t *)"a\0b", 3));
	CHECK("utf8: 2-byte U+00E9", valid_str("\xC3\xA9"));
	CHECK("utf8: 2-byte lowest U+0080", valid_str("\xC2\x80"));
	CHECK("utf8: 3-byte U+20AC", valid_str("\xE2\x82\xAC"));
	CHECK("utf8: 3-byte lowest U+0800", valid_str("\xE0\xA0\x80"));
	CHECK("utf8: U+D7FF (below surrogates)", valid_str("\xED\x9F\xBF"));
	CHECK("utf8: U+E000 (above surrogates)", valid_str("\xEE\x80\x80"));
	CHECK("utf8: U+FFFF", valid_str("\xEF\xBF\xBF"));
	CHECK("utf8: 4-byte U+1F600", valid_str("\xF0\x9F\x98\x80"));
	CHECK("utf8: 4-byte lowest U+10000", valid_str("\xF0\x90\x80\x80"));
	CHECK("utf8: U+10FFFF (highest)", valid_str("\xF4\x8F\xBF\xBF"));
	CHECK("utf8: mixed text", valid_str("Gr\xC3\xBC\xC3\x9F\x65 \xE2\x82\xAC \xF0\x9F\x98\x80!"));

	CHECK("utf8: overlong 2-byte C0 80 rejected", !valid_str("\xC0\x80"));
	CHECK("utf8: overlong 2-byte C1 BF rejected", !valid_str("\xC1\xBF"));
	CHECK("utf8: overlong 3-byte E0 80 80 rejected", !valid_str("\xE0\x80\x80"));
	CHECK("utf8: overlong 3-byte E0 9F BF rejected", !valid_str("\xE0\x9F\xBF"));
	CHECK("utf8: overlong 4-byte F0 80 80 80 rejected", !valid_str("\xF0\x80\x80\x80"));
	CHECK("utf8: overlong 4-byte F0 8F BF BF rejected", !valid_str("\xF0\x8F\xBF\xBF"));
	CHECK("utf8: surrogate U+D800 rejected", !valid_str("\xED\xA0\x80"));
	CHECK("utf8: surrogate U+DFFF rejected", !valid_str("\xED\xBF\xBF"));
	CHECK("utf8: CESU-8 surrogate pair rejected", !valid_str("\xED\xA0\xBD\xED\xB8\x80"));
	CHECK("utf8: U+110000 (F4 90 80 80) rejected", !valid_str("\xF4\x90\x80\x80"));
	CHECK("utf8: lead F5 rejected", !valid_str("\xF5\x80\x80\x80"));
	CHECK("utf8: lead F8 (5-byte form) rejected", !valid_str("\xF8\x88\x80\x80\x80"));
	CHECK("utf8: byte FE rejected", !valid_str("\xFE"));
	CHECK("utf8: byte FF rejected", !valid_str("\xFF"));
	CHECK("utf8: lone continuation 80 rejected", !valid_str("\x80"));
	CHECK("utf8: lone continuation BF after ASCII rejected", !valid_str("abc\xBF"));
	CHECK("utf8: too many continuations rejected", !valid_str("\xC3\xA9\xA9"));
	CHECK("utf8: truncated 2-byte at end rejected", !valid_str("ab\xC3"));
	CHECK("utf8: truncated 3-byte at end rejected", !valid_str("\xE2\x82"));
	CHECK("utf8: truncated 4-byte at end rejected", !valid_str("\xF0\x9F\x98"));
	CHECK("utf8: truncated sequence followed by ASCII rejected", !valid_str("\xC3\x41"));
	CHECK("utf8: 3-byte cut by a new lead rejected", !valid_str("\xE2\x82\xE2\x82\xAC"));
}

static void test_incremental(void)
{
	struct utf8_state s;
	utf8_init(&s);
	const uint8_t euro[] = {0xE2, 0x82, 0xAC};
	bool ok = utf8_feed(&s, euro, 1);
	CHECK("utf8: lead byte alone is accepted", ok);
	CHECK("utf8: state incomplete after a lead byte", !utf8_complete(&s));
	ok = utf8_feed(&s, euro + 1, 1);
	CHECK("utf8: still incomplete after 2 of 3 bytes", ok && !utf8_complete(&s));
	ok = utf8_feed(&s, euro + 2, 1);
	CHECK("utf8: complete after the last continuation", ok && utf8_complete(&s));
	CHECK("utf8: feeding nothing keeps state", utf8_feed(&s, euro, 0) && utf8_complete(&s));

	/* The surrogate restriction (ED -> 80..9F) must survive a call boundary. */
	utf8_init(&s);
	ok = utf8_feed(&s, (const uint8_t *)"\xED", 1);
	CHECK("utf8: ED then A0 in the next call rejected", ok && !utf8_feed(&s, (const uint8_t *)"\xA0", 1));
	utf8_init(&s);
	ok = utf8_feed(&s, (const uint8_t *)"\xF4", 1);
	CHECK("utf8: F4 then 90 in the next call rejected", ok && !utf8_feed(&s, (const uint8_t *)"\x90", 1));
	utf8_init(&s);
	ok = utf8_feed(&s, (const uint8_t *)"\xE0", 1);
	CHECK("utf8: E0 then 9F in the next call rejected", ok && !utf8_feed(&s, (const uint8_t *)"\x9F", 1));
	utf8_init(&s);
	ok = utf8_feed(&s, (const uint8_t *)"\xF0\x90", 2);
	CHECK("utf8: range restriction applies to the second byte only",
	      ok && utf8_feed(&s, (const uint8_t *)"\x80\x80", 2) && utf8_complete(&s));

	/* Byte-by-byte and every two-way split agree with whole-buffer validation. */
	static const char *samples[] = {
	    "plain ascii text that is longer than eight bytes",
	    "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC\xF0\x9F\x98\x80 and more ascii after it",
	    "0123456789abcdef\xF4\x8F\xBF\xBF",
	    "0123456\xC3\xA9",
	    "01234567\xED\xA0\x80 surrogate",
	    "abcdefgh\xC0\xAF overlong",
	    "abcdefghijklmno\xF0\x9F\x98",
	    "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82",
	    "ascii then a stray \x80 continuation",
	};
	bool bytewise_ok = true, split_ok = true;
	for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
		const uint8_t *p = (const uint8_t *)samples[i];
		size_t n = strlen(samples[i]);
		bool whole = utf8_valid(p, n);
		if (valid_bytewise(p, n) != whole || ref_valid(p, n) != whole)
			bytewise_ok = false;
		for (size_t k = 0; k <= n; k++)
			if (valid_split(p, n, k) != whole)
				split_ok = false;
	}
	CHECK("utf8: byte-by-byte feeding equals whole feeding", bytewise_ok);
	CHECK("utf8: every two-way split equals whole feeding", split_ok);
}

/* Fail-fast: the first bad byte is reported where it is, even after a long
 * ASCII run (the 8-bytes-at-a-time path) or in the middle of a sequence. */
static void test_fail_fast(void)
{
	uint8_t buf[64];
	bool ascii_run_ok = true, whole_ok = true;
	for (size_t pos = 0; pos < 40; pos++) {
		memset(buf, 'a', sizeof buf);
		buf[pos] = 0xFF;
		if (fail_index(buf, sizeof buf) != pos)
			ascii_run_ok = false;
		struct utf8_state s;
		utf8_init(&s);
		/* The prefix before the bad byte is fine; with it, the feed fails. */
		if (!utf8_feed(&s, buf, pos) || utf8_feed(&s, buf + pos, sizeof buf - pos))
			whole_ok = false;
	}
	CHECK("utf8: bad byte after an ASCII run fails at its position", ascii_run_ok);
	CHECK("utf8: prefix before the bad byte accepted, the rest refused", whole_ok);

	const uint8_t mid[] = {'o', 'k', 0xE2, 0x82, 0x41, 'x', 'y'};
	CHECK("utf8: bad continuation fails at that byte (index 4)", fail_index(mid, sizeof mid) == 4);
	const uint8_t sur[] = {'a', 0xED, 0xA0, 0x80};
	CHECK("utf8: surrogate fails at its second byte", fail_index(sur, sizeof sur) == 2);
	const uint8_t big[] = {'a', 'b', 0xF4, 0x90, 0x80, 0x80};
	CHECK("utf8: above U+10FFFF fails at its second byte", fail_index(big, sizeof big) == 3);
	const uint8_t ovl[] = {0xC0, 0x80};
	CHECK("utf8: C0 fails at the lead byte", fail_index(ovl, sizeof ovl) == 0);
}

/* Every string of one, two and three bytes, and every four-byte string with
 * a four-byte lead, against the reference decoder. */
static void test_exhaustive(void)
{
	uint8_t b[4];
	size_t bad1 = 0, bad2 = 0, bad3 = 0, bad4 = 0;
	for (unsigned x = 0; x < 256; x++) {
		b[0] = (uint8_t)x;
		bad1 += utf8_valid(b, 1) != ref_valid(b, 1);
	}
	for (unsigned x = 0; x < 65536; x++) {
		b[0] = (uint8_t)(x >> 8), b[1] = (uint8_t)x;
		bad2 += utf8_valid(b, 2) != ref_valid(b, 2);
	}
	for (unsigned x = 0; x < (1u << 24); x++) {
		b[0] = (uint8_t)(x >> 16), b[1] = (uint8_t)(x >> 8), b[2] = (uint8_t)x;
		bad3 += utf8_valid(b, 3) != ref_valid(b, 3);
	}
	for (unsigned lead = 0xF0; lead <= 0xF7; lead++)
		for (unsigned x = 0; x < (1u << 24); x += 7) { /* a stride keeps it quick */
			b[0] = (uint8_t)lead, b[1] = (uint8_t)(x >> 16), b[2] = (uint8_t)(x >> 8),
			b[3] = (uint8_t)x;
			bad4 += utf8_valid(b, 4) != ref_valid(b, 4);
		}
	CHECK("utf8: all 1-byte strings agree with the reference", bad1 == 0);
	CHECK("utf8: all 2-byte strings agree with the reference", bad2 == 0);
	CHECK("utf8: all 3-byte strings agree with the reference", bad3 == 0);
	CHECK("utf8: 4-byte strings with F0..F7 leads agree with the reference", bad4 == 0);
}

void test_utf8(void)
{
	test_known();
	test_incremental();
	test_fail_fast();
	test_exhaustive();
}
