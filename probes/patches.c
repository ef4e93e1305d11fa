/* Placeholder until the patches probe lands: registered so the registry links,
 * always reports skipped. Replaced by the real probe. */
#include <stddef.h>

#include "erpulse/probe.h"

static const struct ep_option patches_options[] = {
	{ .key = NULL },
};

static int patches_init(const struct ep_config_section *section, const struct ep_probe_env *env,
		     void **ret_ctx, char *err, size_t errlen)
{
	(void)section;
	(void)env;
	(void)err;
	(void)errlen;
	*ret_ctx = NULL;
	return 0;
}

static void patches_run(void *ctx, const struct ep_deadline *deadline, struct ep_probe_result *result)
{
	(void)ctx;
	(void)deadline;
	ep_probe_fail(result, EP_STATUS_SKIPPED, "the patches probe is not in this build yet");
}

const struct ep_probe ep_probe_patches = {
	.name = "patches",
	.summary = "patches (placeholder)",
	.options = patches_options,
	.init = patches_init,
	.run = patches_run,
};
