/* libFuzzer target: the erp probe's readers of outside text
 * (probes/erp/): the `__version__ = "X"` line of a Python package file and
 * the version texts ERPs store, on arbitrary bytes. Checks: bounded,
 * NUL-terminated output; a found version has only [A-Za-z0-9.+-]; the lag
 * computation accepts whatever the reader gives it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probes/erp/erp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char v[32], s[32];
	const char *in = (const char *)data;

	if (probe_erp_python_version(in, size, v, sizeof(v)) == 0) {
		size_t n = strnlen(v, sizeof(v));
		if (n == 0 || n >= sizeof(v) ||
		    strspn(v,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.+-") !=
			    n)
			abort();
	}
	/* the same bytes as a version text from the database (NUL-terminated) */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (int app = PROBE_ERP_ODOO; app < PROBE_ERP_N_APPS; app++) {
		struct probe_erp_lag lag;
		if (probe_erp_series((enum probe_erp_app)app, text, s, sizeof(s)) == 0 &&
		    strnlen(s, sizeof(s)) >= sizeof(s))
			abort();
		int rc = probe_erp_version_lag((enum probe_erp_app)app, text, (time_t)1796601600,
					       &lag);
		if (rc == 0 && (!lag.installed || lag.behind < 0))
			abort();
	}
	free(text);
	return 0;
}
