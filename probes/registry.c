/* The one list of built-in probes. */
#include <string.h>

#include "erpulse/probe.h"

extern const struct ep_probe ep_probe_disk;
extern const struct ep_probe ep_probe_postgres;
extern const struct ep_probe ep_probe_odbc;
extern const struct ep_probe ep_probe_log;
extern const struct ep_probe ep_probe_journal;
extern const struct ep_probe ep_probe_patches;
extern const struct ep_probe ep_probe_testblock;
extern const struct ep_probe ep_probe_erp;

const struct ep_probe *const ep_probe_registry[] = {
	&ep_probe_disk, &ep_probe_postgres,  &ep_probe_odbc,
	&ep_probe_log,  &ep_probe_journal,   &ep_probe_patches,
	&ep_probe_erp,  &ep_probe_testblock, NULL,
};

const struct ep_probe *ep_probe_lookup(const char *name)
{
	for (size_t i = 0; ep_probe_registry[i]; i++)
		if (strcmp(ep_probe_registry[i]->name, name) == 0)
			return ep_probe_registry[i];
	return NULL;
}
