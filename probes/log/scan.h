/* The log probe's record reader: splits bytes into lines, groups
 * continuation lines (stack traces) with the record they follow, classifies
 * each record once by severity and counts error signatures. Pure over its
 * input: no files, no clock (tests/fuzz/fuzz_multiline.c). */
#ifndef PROBE_LOG_SCAN_H
#define PROBE_LOG_SCAN_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probes/log/signature.h"

enum probe_log_level {
	PROBE_LOG_DEBUG,
	PROBE_LOG_INFO,
	PROBE_LOG_WARNING,
	PROBE_LOG_ERROR,
	PROBE_LOG_CRITICAL,
	PROBE_LOG_UNKNOWN, /* no level found and the error pattern did not match */
	PROBE_LOG_N_LEVELS,
	PROBE_LOG_CONTINUATION = 100, /* a level token meaning "part of the previous record" */
};

const char *probe_log_level_name(enum probe_log_level l);
/* "debug", "info", "warning", "error", "critical", "continuation" -> level. 0 or -EINVAL. */
int probe_log_level_parse(const char *s, enum probe_log_level *ret);

struct probe_log_level_map {
	char token[24]; /* compared case-insensitively with the header's "level" group */
	enum probe_log_level level;
};

#define PROBE_LOG_MAX_LEVELS       64
#define PROBE_LOG_DEFAULT_MAX_LINE 65536

#define PROBE_LOG_MAX_LITERALS 8
#define PROBE_LOG_MAX_PREFIX   48

/* A compiled pattern plus two native fast paths, both exact:
 *  - literals: the pattern is "lit|lit|..." of plain literals (each at
 *    least 2 bytes); they are found by a SIMD scan for their first two bytes
 *    instead of PCRE2;
 *  - prefix: the fixed start of an anchored pattern ("^\d{4}-\d\d") as one
 *    byte class per position; a line failing it cannot match, and when the
 *    prefix is the whole pattern it decides alone. */
struct probe_log_regex {
	pcre2_code *code;
	bool jit;
	size_t n_literals;
	char literals[PROBE_LOG_MAX_LITERALS][64];
	size_t literal_lens[PROBE_LOG_MAX_LITERALS];
	size_t prefix_len;
	bool prefix_exact;
	/* the pattern ended in "(?<message>.*)": compiled without it, the message
	 * is the rest of the line after the match (same result, less work) */
	bool message_to_end;
	uint8_t prefix[PROBE_LOG_MAX_PREFIX][32]; /* bit set of allowed bytes per position */
	/* when every prefix position is one byte range [lo, lo + span] and the
	 * prefix is at most 32 bytes: the ranges, for a 32-byte SIMD check of
	 * lines at least that long (positions past the prefix allow any byte) */
	bool prefix_ranges;
	uint8_t prefix_lo[32], prefix_span[32];
	/* native: the whole pattern is "^" and a sequence of single-byte atoms,
	 * each once, {n} times or "+" (then followed by an atom of disjoint
	 * bytes, so greedy never has to give back), with at most a group
	 * (?<level>...) around some of them: matched without PCRE2, with the
	 * same result (start at 0, match end, the level group) */
	bool native;
	uint8_t native_n;
	int8_t native_gfirst, native_glast; /* level group: items [gfirst, glast), or -1 */
	uint8_t native_skip;                /* leading items the prefix check decides alone */
	uint8_t native_skip_bytes;          /* ... and the bytes they take */
	uint8_t native_min[PROBE_LOG_MAX_PREFIX];
	bool native_plus[PROBE_LOG_MAX_PREFIX];
	uint8_t native_set[PROBE_LOG_MAX_PREFIX][32];
	uint64_t native_bytes[256]; /* bit k: the byte is in item k's set */
};

/* Where the first of rx's literals starts in [p, end), or NULL; its length
 * goes to *ret_len. Exposed for tests and the benchmark. */
const char *probe_log_literals_find(const struct probe_log_regex *rx, const char *p,
				    const char *end, size_t *ret_len);
/* Whether line (len bytes, no newline) matches rx: the native prefix, then
 * PCRE2 when needed. */
bool probe_log_regex_line(const struct probe_log_regex *rx, const char *line, size_t len,
			  pcre2_match_data *md, pcre2_match_context *mctx);

/* The native matcher (rx->native): whether line matches; the match end
 * goes to *ret_end and the level group to *ret_gs and *ret_ge (both 0 without
 * one). Exposed for tests, which compare it with PCRE2. */
bool probe_log_native_match(const struct probe_log_regex *rx, const char *line, size_t len,
			    size_t *ret_end, size_t *ret_gs, size_t *ret_ge);

/* Compiled rules of one source. */
struct probe_log_rules {
	struct probe_log_regex header;       /* named groups "level", "message"; optional */
	struct probe_log_regex record_start; /* optional */
	struct probe_log_regex error;        /* optional */
	int level_group, message_group;      /* group numbers in header, or -1 */
	bool multiline;                      /* lines that do not start a record continue one */
	size_t max_line;                     /* longer lines are classified on this prefix */
	bool signatures;
	bool no_fast_path; /* tests: always classify line by line */
	bool no_native;    /* tests: PCRE2 for every pattern the native matcher could take */
	size_t n_levels;
	struct probe_log_level_map levels[PROBE_LOG_MAX_LEVELS];
	pcre2_match_context *mctx;
};

/* Compiles pattern (PCRE2, JIT when available, ^ and $ per line) into rx.
 * 0 or -EINVAL with err. */
int probe_log_regex_compile(struct probe_log_regex *rx, const char *pattern, char *err,
			    size_t errlen);
void probe_log_regex_free(struct probe_log_regex *rx);

/* Sets defaults (no patterns, every line a record, built-in level words). */
void probe_log_rules_init(struct probe_log_rules *r);
/* Adds or overrides "TOKEN=level" mappings. 0 or -EINVAL with err. */
int probe_log_rules_add_level(struct probe_log_rules *r, const char *spec, char *err,
			      size_t errlen);
/* Finishes the rules after the patterns are set (group numbers). 0 or -EINVAL. */
int probe_log_rules_finish(struct probe_log_rules *r, char *err, size_t errlen);
void probe_log_rules_free(struct probe_log_rules *r);

struct probe_log_counts {
	uint64_t records[PROBE_LOG_N_LEVELS];
	uint64_t lines;        /* complete lines read */
	uint64_t continuation; /* lines that belonged to the record before them */
	uint64_t long_lines;   /* lines cut at max_line */
	uint64_t bytes;        /* bytes consumed */
	/* lines that look like the layout: the header matched, or the
	 * record-start rule (multiline) did; no layout, no count */
	uint64_t format_lines;
};

/* An error record whose signature waits for its last line: with a header
 * and multiline, a Python traceback's exception type ("KeyError") comes at
 * the record's end and goes into its signature ("[KeyError] ..."). */
struct probe_log_pending {
	bool active;
	bool in_traceback; /* after "Traceback (most recent call last):" */
	size_t type_len;
	char type[PROBE_LOG_EXCEPTION_MAX];
	char sig[PROBE_LOG_SIGNATURE_MAX];
	char sample[PROBE_LOG_SAMPLE_MAX];
};

struct probe_log_scanner {
	const struct probe_log_rules *rules;
	struct probe_log_counts counts;
	struct probe_log_sigtab sigs;
	bool skipping; /* inside a line longer than max_line: drop bytes up to its '\n' */
	pcre2_match_data *md;
	size_t last_level; /* 1 + index in rules->levels of the last level word found */
	int error;         /* -ENOMEM once an allocation failed */
	/* the first line (not indented) that did not look like the layout, as a
	 * safe sample (probe_log_sample); "" when every line did */
	char unmatched[200];
	struct probe_log_pending pending;
};

/* 0 or -ENOMEM. */
int probe_log_scanner_init(struct probe_log_scanner *sc, const struct probe_log_rules *rules);
void probe_log_scanner_free(struct probe_log_scanner *sc);

/* Consumes whole lines of buf[0..len) and returns how many bytes it took: a
 * trailing partial line is left for the caller to offer again with more
 * bytes, unless it is already longer than max_line (then its prefix is counted as
 * a record, and the rest of it is skipped up to its newline, across calls).
 * Splitting the same bytes differently never changes the counts. */
size_t probe_log_scan(struct probe_log_scanner *sc, const char *buf, size_t len);

/* Ends the record being read (at the end of a file or of the input): an
 * error record whose signature waited for its traceback is counted. Call
 * before reading sc->sigs. */
void probe_log_scanner_flush(struct probe_log_scanner *sc);

#endif
