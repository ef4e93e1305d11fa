/* How a log looks: whether its lines fit a layout (a preset or a header
 * pattern), which built-in preset fits a sample of it best, and the time a
 * record line carries. Pure over bytes except probe_log_tail. */
#ifndef PROBE_LOG_FIT_H
#define PROBE_LOG_FIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probes/log/presets.h"
#include "probes/log/scan.h"

#define PROBE_LOG_MISMATCH_MIN_LINES 100 /* lines read before a cycle judges the layout */
#define PROBE_LOG_MISMATCH_PCT       1.0 /* under this % of lines fitting: a mismatch */
#define PROBE_LOG_CHECK_MIN_LINES    10  /* ... in check-config's sample of a file's tail */
#define PROBE_LOG_TAIL_BYTES         (64 * 1024)

/* Whether the rules have a layout to fit (a header, or a record-start rule
 * with multiline); without one every line is a record and nothing can
 * mismatch. */
bool probe_log_has_layout(const struct probe_log_rules *r);

/* Whether format_lines of lines fitting the layout is a mismatch: at least
 * min_lines read and under PROBE_LOG_MISMATCH_PCT percent of them fit. */
bool probe_log_mismatch(uint64_t lines, uint64_t format_lines, uint64_t min_lines);

struct probe_log_fit {
	uint64_t lines;
	uint64_t format_lines;
	char unmatched[200]; /* first line that did not fit, masked (probe_log_sample) */
};

/* Scans sample (complete lines) with r, signatures off, into *ret.
 * 0 or -ENOMEM. */
int probe_log_fit(const struct probe_log_rules *r, const char *sample, size_t len,
		  struct probe_log_fit *ret);

/* The built-in preset whose layout fits the most lines of sample, if any
 * fits at least PROBE_LOG_MISMATCH_PCT percent of at least min_lines;
 * NULL otherwise. Its percentage goes to *ret_pct. */
const struct probe_log_preset *probe_log_best_preset(const char *sample, size_t len,
						     uint64_t min_lines, double *ret_pct);

/* The complete lines of the last PROBE_LOG_TAIL_BYTES of the regular file at
 * path into buf (cap >= PROBE_LOG_TAIL_BYTES), starting at a line start.
 * 0 with *ret_len, or -errno (-EINVAL: not a regular file). */
int probe_log_tail(const char *path, char *buf, size_t cap, size_t *ret_len);

/* The time a log line carries near its start, in ms since the epoch (read
 * as UTC: only differences matter): "2026-12-06 13:46:40[,.]123" with ' '
 * or 'T', after up to 48 bytes of prefix ("[", "PID TID ["), or ctime's
 * "Sun Dec 06 13:46:40 2026". false when there is none. */
bool probe_log_line_time(const char *line, size_t len, int64_t *ret_ms);

/* The times of the first and the last line carrying one in [from, to) of
 * the file at path, from its first and last 4 KiB: a first run's records
 * span, read without slowing the scan. false when neither end has one. */
bool probe_log_time_span(const char *path, uint64_t from, uint64_t to, int64_t *ret_first,
			 int64_t *ret_last);

#endif
