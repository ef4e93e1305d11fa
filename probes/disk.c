/* Placeholder until the disk probe lands: registered so the registry links,
 * always reports skipped. Replaced by the real probe. */
#include <stddef.h>

#include "erpulse/probe.h"

static const struct ep_option disk_options[] = {
	{ .key = NULL },
};

static int disk_init(const struct ep_config_section *section, const struct ep_probe_env *env,
		     void **ret_ctx, char *err, size_t errlen)
{
	(void)section;
	(void)env;
	(void)err;
	(void)errlen;
	*ret_ctx = NULL;
	return 0;
}

static void disk_run(void *ctx, const struct ep_deadline *deadline, struct ep_probe_result *result)
{
	(void)ctx;
	(void)deadline;
	ep_probe_fail(result, EP_STATUS_SKIPPED, "the disk probe is not in this build yet");
}

const struct ep_probe ep_probe_disk = {
	.name = "disk",
	.summary = "disk (placeholder)",
	.options = disk_options,
	.init = disk_init,
	.run = disk_run,
};
