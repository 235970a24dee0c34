/* Helpers shared by the Galène unit tests (see galene_util.h). */
#include "galene_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *galene_run(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	size_t n = 0, cap = 4096;
	char *b = malloc(cap);
	size_t r;
	while (b && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n < 2) {
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	int st = pclose(f);
	if (!b || st != 0) {
		free(b);
		return NULL;
	}
	b[n] = 0;
	return b;
}
