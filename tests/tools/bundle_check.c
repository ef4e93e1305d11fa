/* bundle_check: reads an erpulse.bundle.v1 file the way the collector's
 * import must (docs/protocol.md, "Bundles") and checks every signature with
 * the agent's key. For the export tests, and a reference reader.
 *
 *   bundle_check BUNDLE AGENT_KEY_FILE [OUTDIR]
 *
 * Prints "header AGENT_ID", "report SEQ ok" per report and "end N"; writes
 * each report's signed bytes to OUTDIR/SEQ.body when OUTDIR is given. Exit 0
 * when the bundle is whole (header first, end last with the right count, one
 * agent_id throughout) and every signature verifies; 1 otherwise, saying
 * what is wrong. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/bundle.h"

static int fail(long lineno, const char *what)
{
	fprintf(stderr, "bundle_check: line %ld: %s\n", lineno, what);
	return 1;
}

int main(int argc, char **argv)
{
	struct ep_keypair kp;
	char err[512], agent[EP_BUNDLE_AGENT_MAX] = "";
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	int64_t reports = 0;
	bool ended = false;
	FILE *f;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: bundle_check BUNDLE AGENT_KEY_FILE [OUTDIR]\n");
		return 2;
	}
	if (ep_crypto_init() < 0 || ep_key_load(argv[2], &kp, err, sizeof(err)) < 0) {
		fprintf(stderr, "bundle_check: %s\n", err);
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		fprintf(stderr, "bundle_check: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		struct ep_bundle_line l;
		unsigned char raw[EP_SIGNATURE_BYTES];
		size_t rawlen = 0;

		lineno++;
		if (line[len - 1] != '\n')
			return fail(lineno, "last line without its newline (truncated)");
		if (ended)
			return fail(lineno, "text after the end line");
		if (ep_bundle_parse(line, (size_t)len - 1, &l, err, sizeof(err)) < 0)
			return fail(lineno, err);
		if (lineno == 1 && l.kind != EP_BUNDLE_HEADER)
			return fail(lineno, "does not start with the header");
		switch (l.kind) {
		case EP_BUNDLE_HEADER:
			if (lineno != 1)
				return fail(lineno, "a second header");
			snprintf(agent, sizeof(agent), "%s", l.agent_id);
			printf("header %s\n", agent);
			break;
		case EP_BUNDLE_REPORT:
			if (strcmp(l.agent_id, agent) != 0)
				return fail(lineno, "agent_id differs from the header's");
			if (ep_base64_decode(l.signature, strlen(l.signature), raw, sizeof(raw),
					     &rawlen) < 0 ||
			    ep_verify(kp.public_key, l.body, l.len, raw) < 0)
				return fail(lineno, "signature does not verify");
			if (argc == 4) {
				char path[4096];
				FILE *o;

				snprintf(path, sizeof(path), "%s/%lld.body", argv[3],
					 (long long)l.seq);
				o = fopen(path, "w");
				if (!o || fwrite(l.body, 1, l.len, o) != l.len || fclose(o) != 0)
					return fail(lineno, "cannot write the body out");
			}
			printf("report %lld ok\n", (long long)l.seq);
			reports++;
			break;
		case EP_BUNDLE_END:
			if (l.reports != reports)
				return fail(lineno, "end line count differs from the reports read");
			printf("end %lld\n", (long long)l.reports);
			ended = true;
			break;
		}
		ep_bundle_line_free(&l);
	}
	free(line);
	fclose(f);
	ep_key_wipe(&kp);
	if (!ended)
		return fail(lineno, "no end line (truncated bundle)");
	return 0;
}
