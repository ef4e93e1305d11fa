/* erpulse-collector import FILE (cli.h; docs/protocol.md "Bundles"): every
 * report of the bundle goes through the checks of POST /api/v1/reports --
 * agent known, signature over the raw bytes, not revoked, strict parse and
 * schema, the seq rule -- and is committed with the analysis, one report per
 * transaction. Nothing in the bundle is trusted without its signature: the
 * header's agent_id only chooses the key. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/analysis.h"
#include "collector/analysis/pipeline.h"
#include "collector/cli.h"
#include "collector/ingest.h"
#include "erpulse/bundle.h"
#include "erpulse/util.h"

struct tally {
	unsigned accepted, duplicate, refused;
};

/* One report line: prints "seq N: accepted | duplicate | refused: why". */
static void import_one(const struct coll_settings *cfg, struct coll_store *s,
		       const struct coll_analysis *an, const struct ep_bundle_line *l,
		       struct tally *t)
{
	char err[512] = "";
	struct coll_agent agent;
	json_t *report = NULL;
	int64_t seq = 0;
	const char *why = NULL;
	int r = coll_agent_id_valid(l->agent_id) ? coll_store_agent_get(s, l->agent_id, &agent)
						 : -ENOENT;
	if (r == -ENOENT)
		why = "unknown agent or bad signature";
	else if (r < 0)
		why = s->err;
	if (!why) {
		enum coll_check chk = coll_ingest_check(
			agent.public_key, l->agent_id, l->signature, l->body, l->len,
			(size_t)cfg->max_body_bytes, &report, &seq, err, sizeof(err));
		if (chk == COLL_CHECK_UNAUTHORIZED)
			why = "unknown agent or bad signature";
		else if (agent.revoked)
			why = "this agent has been revoked";
		else if (chk != COLL_CHECK_OK)
			why = err;
	}
	if (!why) {
		struct coll_ingest it = {
			.agent = agent,
			.report = report,
			.body = l->body,
			.len = l->len,
			.seq = seq,
			.received_at = ep_wall_ms() / 1000,
		};
		struct coll_ingest *items[1] = {&it};
		r = coll_store_ingest(s, items, 1, an);
		switch (r < 0 ? COLL_INGEST_FAILED : it.result) {
		case COLL_INGEST_ACCEPTED:
			printf("seq %lld: accepted\n", (long long)seq);
			t->accepted++;
			break;
		case COLL_INGEST_DUPLICATE:
			printf("seq %lld: duplicate\n", (long long)seq);
			t->duplicate++;
			break;
		case COLL_INGEST_CONFLICT:
			snprintf(err, sizeof(err),
				 it.error == -ERANGE
					 ? "seq too far ahead of the last accepted seq %lld"
					 : "seq taken by another body (last accepted seq %lld)",
				 (long long)it.last_seq);
			why = err;
			break;
		default:
			snprintf(err, sizeof(err), "not stored: %.400s",
				 it.error == -EPERM ? "this agent has been revoked"
				 : r < 0            ? s->err
						    : strerror(-it.error));
			why = err;
		}
	}
	json_decref(report);
	if (why) {
		printf("seq %lld: refused: %s\n", (long long)(seq ? seq : l->seq), why);
		t->refused++;
	}
}

int coll_cli_import(const struct coll_settings *cfg, struct coll_store *s, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "usage: erpulse-collector import FILE\n");
		return 2;
	}
	const char *path = argv[0];
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "erpulse-collector: cannot open '%s': %m\n", path);
		return 1;
	}
	struct coll_analysis an = {
		.webhook_url = cfg->webhook_url,
		.smtp_url = cfg->smtp_url,
		.mail_from = cfg->mail_from,
		.mail_to = cfg->mail_to,
		.dashboard_url = cfg->dashboard_url,
		.forecast_window_s = 30 * 86400,
		.sample_interval_s = cfg->sample_interval_s,
		.max_forecasts = 64,
	};
	coll_webhook_format_parse(cfg->webhook_format ? cfg->webhook_format : "generic",
				  &an.webhook_format);
	size_t cap = EP_BUNDLE_LINE_MAX + 2;
	char *line = malloc(cap), err[512];
	struct tally t = {0};
	unsigned lineno = 0;
	int64_t reports = 0;
	bool ended = false, bad = false;
	char agent_id[EP_BUNDLE_AGENT_MAX] = "";
	if (!line) {
		fclose(f);
		return 1;
	}
	while (fgets(line, (int)cap, f)) {
		size_t len = strlen(line);
		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f)) {
			fprintf(stderr, "%s:%u: line longer than %zu bytes\n", path, lineno,
				(size_t)EP_BUNDLE_LINE_MAX);
			bad = true;
			break;
		}
		struct ep_bundle_line l;
		if (ended) {
			fprintf(stderr, "%s:%u: data after the end line\n", path, lineno);
			bad = true;
			break;
		}
		if (ep_bundle_parse(line, len, &l, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s:%u: %s\n", path, lineno, err);
			bad = true;
			if (lineno == 1)
				break; /* not a bundle */
			continue;
		}
		if (lineno == 1 && l.kind != EP_BUNDLE_HEADER) {
			fprintf(stderr, "%s:1: not an %s header\n", path, EP_BUNDLE_FORMAT);
			ep_bundle_line_free(&l);
			bad = true;
			break;
		}
		if (l.kind == EP_BUNDLE_HEADER) {
			if (lineno != 1) {
				fprintf(stderr, "%s:%u: a second header\n", path, lineno);
				bad = true;
			}
			snprintf(agent_id, sizeof(agent_id), "%s", l.agent_id);
		} else if (l.kind == EP_BUNDLE_END) {
			ended = true;
			if (l.reports != reports) {
				fprintf(stderr,
					"%s:%u: the end line counts %lld reports, %lld came\n",
					path, lineno, (long long)l.reports, (long long)reports);
				bad = true;
			}
		} else {
			reports++;
			if (strcmp(l.agent_id, agent_id) != 0) {
				printf("seq %lld: refused: agent_id differs from the header's\n",
				       (long long)l.seq);
				t.refused++;
			} else
				import_one(cfg, s, &an, &l, &t);
		}
		ep_bundle_line_free(&l);
	}
	free(line);
	fclose(f);
	if (lineno > 0 && !ended && !bad) {
		fprintf(stderr,
			"%s: no end line: the bundle was cut short (the reports before "
			"the cut were imported, each on its own signature)\n",
			path);
		bad = true;
	}
	if (lineno == 0) {
		fprintf(stderr, "%s: empty file, not a bundle\n", path);
		bad = true;
	}
	printf("%u accepted, %u duplicate, %u refused\n", t.accepted, t.duplicate, t.refused);
	return bad || t.refused ? 1 : 0;
}
