/* Helpers shared by every probe. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "erpulse/probe.h"

int ep_probe_add_finding(struct ep_probe_result *r, const struct ep_finding *f)
{
	json_t *j = ep_finding_json(f);
	if (!j)
		return -ENOMEM;
	if (json_array_append_new(r->findings, j) < 0)
		return -ENOMEM;
	return 0;
}

void ep_probe_fail(struct ep_probe_result *r, enum ep_probe_status status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}
