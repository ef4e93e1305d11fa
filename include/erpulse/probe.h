/* The probe interface. A probe is one static table of functions registered in
 * probes/registry.c. The agent owns the result object and the deadline; a
 * probe adds metrics and findings to it and never exits, prints, logs or
 * sleeps past its deadline. Each probe instance runs in its own forked worker
 * per cycle (docs/agent.md, "Isolation"), so a probe that hangs is killed at
 * its deadline without stalling the others; anything it wants to keep across
 * cycles (log offsets, a journal cursor, last exact measurements) goes into
 * result->state, which the agent persists. */
#ifndef ERPULSE_PROBE_H
#define ERPULSE_PROBE_H

#include <jansson.h>
#include <stddef.h>

#include "erpulse/config.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

struct ep_probe_env {
	const char *root;      /* filesystem root for paths: "/" in production */
	const char *state_dir; /* the agent's state directory */
	const char *instance;  /* "erp" for [postgres.erp], NULL for [postgres] */
	bool fresh;            /* once --fresh: measure again what the probe would carry */
};

struct ep_probe_result {
	enum ep_probe_status status; /* preset to EP_STATUS_OK */
	char error[1024];            /* required when status != OK */
	char target[256];            /* what was probed: "odoo@/run/postgresql", "/" */
	json_t *metrics;             /* object, created by the agent */
	json_t *findings;            /* array of ep_finding_json() objects */
	json_t *state;               /* object: this instance's saved state, updated in place */
};

struct ep_probe {
	const char *name;                /* the config section type: "postgres" */
	const char *summary;             /* one line for --help and docs */
	const struct ep_option *options; /* documents and validates the section */
	int enabled_by_default;          /* 1: runs even without a section (disk) */
	/* Parses the section (NULL when enabled by default without one).
	 * *ret_ctx is the probe's and goes back to fini. 0 or -errno with err. */
	int (*init)(const struct ep_config_section *section, const struct ep_probe_env *env,
		    void **ret_ctx, char *err, size_t errlen);
	/* check-config: tries the probe's connection/sources. NULL = nothing to
	 * try. 0 or -errno with err saying what failed and what to do. */
	int (*check)(void *ctx, const struct ep_deadline *deadline, char *err, size_t errlen);
	/* One measurement. Sets result->status/error on failure. */
	void (*run)(void *ctx, const struct ep_deadline *deadline, struct ep_probe_result *result);
	void (*fini)(void *ctx);
};

/* NULL-terminated list of every built-in probe. */
extern const struct ep_probe *const ep_probe_registry[];
/* The probe named name, or NULL. */
const struct ep_probe *ep_probe_lookup(const char *name);

/* Helpers for probes: add a finding / a metric. 0 or -ENOMEM. */
int ep_probe_add_finding(struct ep_probe_result *r, const struct ep_finding *f);
/* Sets status and a printf-formatted error text. */
void ep_probe_fail(struct ep_probe_result *r, enum ep_probe_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
