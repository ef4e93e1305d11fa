/* testblock: a probe that misbehaves on purpose, to prove the agent's
 * isolation (docs/agent.md, "Isolation"): it blocks (sleeps or spins past any
 * deadline), crashes, or answers ok at once. It ships in the binary so the
 * integration tests exercise the real agent, but it is harmless: it is never
 * enabled by default, reads and writes nothing, and only runs when a
 * [testblock] section is configured on purpose. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "erpulse/probe.h"

static const struct ep_option testblock_options[] = {
	{"mode", EP_OPT_STRING, "sleep", 0, 0,
	 "sleep (block forever), spin (busy loop), crash (SIGSEGV), ok (succeed at once)"},
	{NULL, 0, NULL, 0, 0, NULL},
};

struct testblock {
	char mode[16];
};

static int testblock_init(const struct ep_config_section *section, const struct ep_probe_env *env,
			  void **ret_ctx, char *err, size_t errlen)
{
	struct testblock *t;
	const char *mode = "sleep";

	(void)env;
	if (ep_config_get_string(section, testblock_options, "mode", &mode, err, errlen) < 0 &&
	    !mode)
		return -EINVAL;
	if (strcmp(mode, "sleep") != 0 && strcmp(mode, "spin") != 0 && strcmp(mode, "crash") != 0 &&
	    strcmp(mode, "ok") != 0) {
		ep_snprintf(err, errlen, "mode '%s' is not sleep, spin, crash or ok", mode);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	ep_snprintf(t->mode, sizeof(t->mode), "%s", mode);
	*ret_ctx = t;
	return 0;
}

static void testblock_run(void *ctx, const struct ep_deadline *deadline,
			  struct ep_probe_result *result)
{
	struct testblock *t = ctx;
	volatile unsigned long spin = 0;

	(void)deadline;
	ep_snprintf(result->target, sizeof(result->target), "testblock:%s", t->mode);
	if (strcmp(t->mode, "sleep") == 0)
		for (;;)
			pause(); /* like a read from a dead NFS mount */
	if (strcmp(t->mode, "spin") == 0)
		for (;;)
			spin++;
	if (strcmp(t->mode, "crash") == 0)
		raise(SIGSEGV);
	json_object_set_new(result->metrics, "answer", json_integer(42));
}

/* check-config misbehaves the same way: its workers are cut off too */
static int testblock_check(void *ctx, const struct ep_deadline *deadline, char *err, size_t errlen)
{
	struct ep_probe_result r = {.status = EP_STATUS_OK};

	r.metrics = json_object();
	testblock_run(ctx, deadline, &r);
	json_decref(r.metrics);
	(void)err;
	(void)errlen;
	return 0;
}

static void testblock_fini(void *ctx)
{
	free(ctx);
}

const struct ep_probe ep_probe_testblock = {
	.name = "testblock",
	.summary = "test only: blocks, spins or crashes on purpose (never enabled by default)",
	.options = testblock_options,
	.init = testblock_init,
	.check = testblock_check,
	.run = testblock_run,
	.fini = testblock_fini,
};
