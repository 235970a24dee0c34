/* Copies the supervisor's counters into the router's metrics (supervisor_prom.h). */
#include "supervisor_prom.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void supervisor_prom_copy(const char *state_dir, FILE *out)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", state_dir, SUPERVISOR_PROM_FILE);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char *text = malloc(SUPERVISOR_PROM_MAX + 1);
	size_t n = text ? fread(text, 1, SUPERVISOR_PROM_MAX, f) : 0;
	fclose(f);
	if (!text)
		return;
	text[n] = 0;
	long pid = 0;
	char *body = strchr(text, '\n');
	/* whole lines only, and only our own supervisor's */
	char *end = strrchr(text, '\n');
	if (sscanf(text, "# pid %ld", &pid) == 1 && pid == (long)getppid() && body && end > body)
		fwrite(body + 1, 1, (size_t)(end - body), out);
	free(text);
}
