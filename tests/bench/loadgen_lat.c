/* loadgen: delivery latency of chat messages, send to receipt, as a
 * histogram with about 0.4 % resolution (a bucket per 1/256 of a power of
 * two above 256 µs, per µs below), so quantiles cost no sorting and memory
 * stays fixed whatever the number of messages. */
#include "loadgen.h"

#define SUB 256			/* buckets per power of two */
#define NBUCKETS (SUB + 32 * SUB)

static double *sent_at;		/* send time by sequence number, modulo LAT_RING */
static unsigned long long hist[NBUCKETS];
static unsigned long long lat_n;
static double lat_max_us;
int lat_on;			/* record deliveries now (the measured window) */

void lat_init(void)
{
	sent_at = calloc(LAT_RING, sizeof *sent_at);
	if (!sent_at)
		die("out of memory");
}

void lat_sent(long seq) { sent_at[seq & (LAT_RING - 1)] = now(); }

static int bucket(uint64_t us)
{
	if (us < SUB)
		return (int)us;
	int e = 63 - __builtin_clzll(us);	/* us in [2^e, 2^(e+1)), e >= 8 */
	int b = SUB + (e - 8) * SUB + (int)((us >> (e - 8)) - SUB);
	return b < NBUCKETS ? b : NBUCKETS - 1;
}

/* Upper bound of a bucket, in µs. */
static double bucket_top(int b)
{
	if (b < SUB)
		return b + 1;
	int e = (b - SUB) / SUB + 8, k = (b - SUB) % SUB;
	return (double)((uint64_t)(SUB + k + 1) << (e - 8));
}

/* A delivery of message seq, just received. */
void lat_delivered(long seq)
{
	if (!lat_on || !sent_at)
		return;
	double us = (now() - sent_at[seq & (LAT_RING - 1)]) * 1e6;
	if (us < 0)
		us = 0;
	hist[bucket((uint64_t)us)]++;
	lat_n++;
	if (us > lat_max_us)
		lat_max_us = us;
}

/* The q-quantile in ms (the top of its bucket, so never under the truth). */
static double quantile_ms(double q)
{
	unsigned long long want = (unsigned long long)(q * lat_n + 0.5), seen = 0;
	if (want < 1)
		want = 1;
	for (int b = 0; b < NBUCKETS; b++) {
		seen += hist[b];
		if (seen >= want) {
			double top = bucket_top(b);
			return (top < lat_max_us ? top : lat_max_us) / 1e3;
		}
	}
	return lat_max_us / 1e3;
}

void lat_print(void)
{
	if (!lat_n) {
		printf(" lat_n=0");
		return;
	}
	printf(" lat_n=%llu lat_p50_ms=%.3f lat_p90_ms=%.3f lat_p99_ms=%.3f lat_max_ms=%.3f", lat_n, quantile_ms(0.5),
	       quantile_ms(0.9), quantile_ms(0.99), lat_max_us / 1e3);
}
