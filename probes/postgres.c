/* Placeholder until the postgres probe lands: registered so the registry links,
 * always reports skipped. Replaced by the real probe. */
#include <stddef.h>

#include "erpulse/probe.h"

static const struct ep_option postgres_options[] = {
	{ .key = NULL },
};

static int postgres_init(const struct ep_config_section *section, const struct ep_probe_env *env,
		     void **ret_ctx, char *err, size_t errlen)
{
	(void)section;
	(void)env;
	(void)err;
	(void)errlen;
	*ret_ctx = NULL;
	return 0;
}

static void postgres_run(void *ctx, const struct ep_deadline *deadline, struct ep_probe_result *result)
{
	(void)ctx;
	(void)deadline;
	ep_probe_fail(result, EP_STATUS_SKIPPED, "the postgres probe is not in this build yet");
}

const struct ep_probe ep_probe_postgres = {
	.name = "postgres",
	.summary = "postgres (placeholder)",
	.options = postgres_options,
	.init = postgres_init,
	.run = postgres_run,
};
