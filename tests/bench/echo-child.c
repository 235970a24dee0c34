/* echo-child: the program websocketd runs per connection in tests/bench/run.sh
 * (the peer the issue measured: websocketd 0.4.1 with a static C echo child).
 * Copies stdin to stdout as it arrives; websocketd sends each line back as a
 * message. Built static (cc -static) by run.sh, so that each connection's
 * process costs what a minimal C child costs.
 */
#include <errno.h>
#include <unistd.h>

int main(void)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(1, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return 1;
			off += w;
		}
	}
}
