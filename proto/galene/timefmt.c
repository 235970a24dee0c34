/* RFC 3339 date-time parsing to Unix nanoseconds (see timefmt.h). */
#include "timefmt.h"

#include <stdbool.h>

static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

/* The zone suffix at s: "Z" or "+HH:MM" / "-HH:MM", as seconds east of UTC. */
static int parse_zone(const char *s, size_t n, int *offset)
{
	if (n == 1 && s[0] == 'Z') {
		*offset = 0;
		return 0;
	}
	int hh, mm;
	if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || !digits(s + 1, 2, &hh) ||
	    !digits(s + 4, 2, &mm) || hh > 23 || mm > 59)
		return -1;
	*offset = (s[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
	return 0;
}

int rfc3339_parse(const char *s, size_t n, int64_t *ns)
{
	int y, mo, d, h, mi, sec;
	if (n < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 59)
		return -1;
	size_t i = 19;
	int64_t frac = 0;
	if (i < n && s[i] == '.') {
		size_t start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 9)
			frac = frac * 10 + (s[i++] - '0');
		if (i == start || (i < n && s[i] >= '0' && s[i] <= '9'))
			return -1; /* no digits, or more than nanoseconds */
		for (size_t k = i - start; k < 9; k++)
			frac *= 10;
	}
	int offset;
	if (parse_zone(s + i, n - i, &offset) != 0 || y < 1678 || y > 2261)
		return -1;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	*ns = secs * 1000000000 + frac;
	return 0;
}
