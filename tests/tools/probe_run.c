/* probe_run: runs one probe instance from a config file, in-process, and
 * prints its result as JSON. For probe tests and golden files; the agent's
 * own "once --print --probe" goes through the forked workers instead.
 *   probe_run CONFIG SECTION [--root DIR] [--state FILE] [--timeout-ms N] [--fresh] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/config.h"
#include "erpulse/probe.h"
#include "erpulse/util.h"

int main(int argc, char **argv)
{
	const char *root = "/", *state_path = NULL;
	int64_t timeout_ms = 60000;
	char err[1024] = "";
	struct ep_config *cfg = NULL;
	void *ctx = NULL;
	int rc = 2;

	if (argc < 3) {
		fprintf(stderr, "usage: probe_run CONFIG SECTION [--root DIR] [--state FILE] "
				"[--timeout-ms N] [--fresh]\n");
		return 2;
	}
	bool fresh = false;
	for (int i = 3; i < argc; i += 2) {
		if (strcmp(argv[i], "--fresh") == 0) {
			fresh = true; /* a flag: no value */
			i--;
		} else if (i + 1 >= argc) {
			fprintf(stderr, "probe_run: '%s' needs a value\n", argv[i]);
			return 2;
		} else if (strcmp(argv[i], "--root") == 0)
			root = argv[i + 1];
		else if (strcmp(argv[i], "--state") == 0)
			state_path = argv[i + 1];
		else if (strcmp(argv[i], "--timeout-ms") == 0) {
			if (ep_parse_int64(argv[i + 1], 1, 3600000, &timeout_ms) < 0) {
				fprintf(stderr, "probe_run: bad --timeout-ms '%s'\n", argv[i + 1]);
				return 2;
			}
		} else {
			fprintf(stderr, "probe_run: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (ep_config_load(argv[1], &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "probe_run: %s\n", err);
		return 2;
	}
	const struct ep_config_section *s = ep_config_find(cfg, argv[2]);
	const char *type = s ? s->type : argv[2];
	const struct ep_probe *p = ep_probe_lookup(type);
	if (!p) {
		fprintf(stderr, "probe_run: no probe named '%s'\n", type);
		goto out;
	}
	if (s && ep_config_check(s, p->options, err, sizeof(err)) < 0) {
		fprintf(stderr, "probe_run: %s\n", err);
		goto out;
	}
	struct ep_probe_env env = {.root = root,
				   .state_dir = "/nonexistent",
				   .instance = s ? s->instance : NULL,
				   .fresh = fresh};
	if (p->init(s, &env, &ctx, err, sizeof(err)) < 0) {
		fprintf(stderr, "probe_run: %s: %s\n", argv[2], err);
		goto out;
	}
	struct ep_probe_result r = {.status = EP_STATUS_OK};
	r.metrics = json_object();
	r.findings = json_array();
	r.state = NULL;
	if (state_path)
		r.state = json_load_file(state_path, 0, NULL);
	if (!r.state)
		r.state = json_object();
	struct ep_deadline d = ep_deadline_in(timeout_ms);
	int64_t t0 = ep_mono_ms();
	p->run(ctx, &d, &r);
	int64_t took = ep_mono_ms() - t0;
	if (p->fini)
		p->fini(ctx);
	json_t *out = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:o, s:o, s:O}", "name", p->name,
				"status", ep_probe_status_name(r.status), "error",
				r.status == EP_STATUS_OK ? NULL : r.error, "target", r.target,
				"duration_ms", (json_int_t)took, "metrics", r.metrics, "findings",
				r.findings, "state", r.state);
	if (!out) {
		fprintf(stderr, "probe_run: out of memory\n");
		goto out;
	}
	if (state_path && json_dump_file(r.state, state_path, JSON_COMPACT) < 0)
		fprintf(stderr, "probe_run: cannot write state '%s'\n", state_path);
	json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(out);
	json_decref(r.state);
	rc = r.status == EP_STATUS_ERROR ? 1 : 0;
out:
	ep_config_free(cfg);
	return rc;
}
