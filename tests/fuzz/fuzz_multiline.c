/* libFuzzer target: the log record reader (probes/log/scan.c). The first
 * bytes choose a preset and read sizes; the input is scanned whole and in
 * pieces the way the probe reads files, and the counts must be identical
 * (splitting never changes what is counted), the fast path for one-line
 * records equals the line-by-line path (with PCRE2 for every pattern, no
 * native matcher), every line a record or a continuation, and every
 * signature and sample valid UTF-8, the same signatures (exception types
 * from tracebacks included) however the input is split. Each line of the input is also matched
 * by every native-matched pattern and by PCRE2: same answer, match end and
 * level group. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/util.h"
#include "probes/log/presets.h"
#include "probes/log/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_RULES 9
static struct probe_log_rules rules[N_RULES];
static struct probe_log_rules slow[N_RULES]; /* the same rules without the fast path */
static bool ready;

static void setup(void)
{
	char err[256];
	size_t i = 0;
	for (const struct probe_log_preset *p = probe_log_presets; p->name && i < 6; p++, i++) {
		probe_log_rules_init(&rules[i]);
		rules[i].max_line = 300;
		if (probe_log_rules_from_preset(&rules[i], p, "ERROR|FATAL|CRITICAL|Exception", err,
						sizeof(err)) < 0)
			abort();
	}
	/* no header, a literal error pattern (memmem) */
	probe_log_rules_init(&rules[6]);
	rules[6].max_line = 256;
	/* (record_start is not used without multiline: there for the native
	 * matcher check, greedy runs, a level group, a fixed prefix) */
	if (probe_log_regex_compile(&rules[6].error, "Exception", err, sizeof(err)) < 0 ||
	    probe_log_regex_compile(&rules[6].record_start,
				    "^\\d\\d[-:](?<level>[A-Z]+) \\w+[.:]\\S+", err,
				    sizeof(err)) < 0 ||
	    !rules[6].record_start.native ||
	    probe_log_rules_finish(&rules[6], err, sizeof(err)) < 0)
		abort();
	/* record_start + multiline, a regex that can span lines */
	probe_log_rules_init(&rules[7]);
	rules[7].max_line = 512;
	rules[7].multiline = true;
	if (probe_log_regex_compile(&rules[7].record_start, "^\\d", err, sizeof(err)) < 0 ||
	    probe_log_regex_compile(&rules[7].error, "ERR\\s*OR|x+y", err, sizeof(err)) < 0 ||
	    probe_log_rules_finish(&rules[7], err, sizeof(err)) < 0)
		abort();
	/* every line a record, a PCRE2 error pattern that may span lines */
	probe_log_rules_init(&rules[8]);
	rules[8].max_line = 300;
	if (probe_log_regex_compile(&rules[8].error, "ERR\\s*OR|(?<=x)y|^F", err, sizeof(err)) <
		    0 ||
	    probe_log_rules_finish(&rules[8], err, sizeof(err)) < 0)
		abort();
	for (int i = 0; i < N_RULES; i++) {
		slow[i] = rules[i];
		slow[i].no_fast_path = true;
		slow[i].no_native = true;
	}
	ready = true;
}

/* The native matcher against PCRE2 on each line of in. */
static void native_vs_pcre2(const char *in, size_t len, pcre2_match_data *md)
{
	for (int i = 0; i < N_RULES; i++) {
		const struct probe_log_regex *rxs[] = {&rules[i].header, &rules[i].record_start};
		for (size_t x = 0; x < 2; x++) {
			const struct probe_log_regex *rx = rxs[x];
			if (!rx->native)
				continue;
			int lg = pcre2_substring_number_from_name(rx->code, (PCRE2_SPTR) "level");
			for (size_t pos = 0; pos <= len;) {
				const char *nl = memchr(in + pos, '\n', len - pos);
				size_t n = nl ? (size_t)(nl - in) - pos : len - pos;
				size_t e, gs, ge;
				bool a = probe_log_native_match(rx, in + pos, n, &e, &gs, &ge);
				int rc = pcre2_match(rx->code, (PCRE2_SPTR)(in + pos), n, 0, 0, md,
						     NULL);
				if (a != (rc > 0))
					abort();
				if (a) {
					PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
					if (ov[0] != 0 || ov[1] != e)
						abort();
					if (lg > 0 && (ov[2 * lg] != gs || ov[2 * lg + 1] != ge))
						abort();
				}
				pos += n + 1;
			}
		}
	}
}

static void scan_pieces(struct probe_log_scanner *sc, const char *in, size_t len, size_t chunk)
{
	size_t cap = chunk + sc->rules->max_line + 1;
	char *buf = malloc(cap);
	size_t have = 0, pos = 0;
	if (!buf)
		abort();
	while (pos < len) {
		size_t n = len - pos < chunk ? len - pos : chunk;
		memcpy(buf + have, in + pos, n);
		pos += n;
		size_t total = have + n;
		size_t used = probe_log_scan(sc, buf, total);
		if (used > total)
			abort();
		have = total - used;
		memmove(buf, buf + used, have);
		if (have > sc->rules->max_line)
			abort(); /* a partial line never grows past max_line */
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		setup();
	if (size < 2)
		return 0;
	const struct probe_log_rules *r = &rules[data[0] % N_RULES];
	size_t chunk = 1 + data[1] % 97;
	const char *in = (const char *)data + 2;
	size_t len = size - 2;
	struct probe_log_scanner whole, parts, lines;

	if (probe_log_scanner_init(&whole, r) < 0 || probe_log_scanner_init(&parts, r) < 0 ||
	    probe_log_scanner_init(&lines, &slow[data[0] % N_RULES]) < 0)
		abort();
	/* the line-by-line path gives the same counts as the fast one */
	scan_pieces(&lines, in, len, chunk);
	scan_pieces(&whole, in, len, len ? len : 1);
	scan_pieces(&parts, in, len, chunk);
	probe_log_scanner_flush(&lines);
	probe_log_scanner_flush(&whole);
	probe_log_scanner_flush(&parts);
	if (memcmp(&whole.counts, &parts.counts, sizeof(whole.counts)) != 0 ||
	    memcmp(&lines.counts, &parts.counts, sizeof(lines.counts)) != 0 ||
	    lines.sigs.n != parts.sigs.n)
		abort();
	uint64_t recs = 0;
	for (int l = 0; l < PROBE_LOG_N_LEVELS; l++)
		recs += whole.counts.records[l];
	if (recs + whole.counts.continuation != whole.counts.lines)
		abort();
	const struct probe_log_sig *top[10];
	size_t n = probe_log_sigtab_top(&parts.sigs, top, 10);
	for (size_t i = 0; i < n; i++)
		if (!ep_utf8_valid(top[i]->signature, strlen(top[i]->signature)) ||
		    !ep_utf8_valid(top[i]->sample, strlen(top[i]->sample)))
			abort();
	if (whole.sigs.n != parts.sigs.n)
		abort();
	/* the same signatures with the same counts, whole and in pieces */
	const struct probe_log_sig *wt[10];
	if (probe_log_sigtab_top(&whole.sigs, wt, 10) != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (wt[i]->count != top[i]->count || strcmp(wt[i]->signature, top[i]->signature))
			abort();
	native_vs_pcre2(in, len, whole.md);
	probe_log_scanner_free(&whole);
	probe_log_scanner_free(&parts);
	probe_log_scanner_free(&lines);
	return 0;
}
