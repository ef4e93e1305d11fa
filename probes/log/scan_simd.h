/* Internal to the log record reader (probes/log/): the byte-level pieces
 * that scan.c, regex.c and scan_simd.c share. scan.h is the folder's
 * interface; nothing outside probes/log/ includes this file. */
#ifndef PROBE_LOG_SCAN_SIMD_H
#define PROBE_LOG_SCAN_SIMD_H

#include <stdbool.h>
#include <stddef.h>

#include "probes/log/scan.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_SIMD 1
#endif

/* Whether line (len bytes) passes rx's fixed-prefix check (scan.h). */
static inline bool probe_log_prefix_ok(const struct probe_log_regex *rx, const char *line,
				       size_t len)
{
	if (len < rx->prefix_len)
		return false;
#ifdef HAVE_X86_SIMD
	if (rx->prefix_ranges && len >= 32) {
		/* byte - lo (wrapping) <= span, 32 positions at once (SSE2) */
		const __m128i *lo = (const __m128i *)(const void *)rx->prefix_lo;
		const __m128i *span = (const __m128i *)(const void *)rx->prefix_span;
		__m128i a = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(const void *)line),
					 _mm_loadu_si128(lo));
		__m128i b =
			_mm_sub_epi8(_mm_loadu_si128((const __m128i *)(const void *)(line + 16)),
				     _mm_loadu_si128(lo + 1));
		__m128i oka = _mm_cmpeq_epi8(_mm_min_epu8(a, _mm_loadu_si128(span)), a);
		__m128i okb = _mm_cmpeq_epi8(_mm_min_epu8(b, _mm_loadu_si128(span + 1)), b);
		return _mm_movemask_epi8(_mm_and_si128(oka, okb)) == 0xffff;
	}
#endif
	for (size_t i = 0; i < rx->prefix_len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (!(rx->prefix[i][c >> 3] & (1u << (c & 7))))
			return false;
	}
	return true;
}

/* Lines of [p, end) (p at a line start, end just after a '\n'): returns
 * how many; with a start prefix (multi-line rule), *ret_cont gets how many
 * fail it (continuation lines, judged as record() does: without a trailing
 * '\r'). Sets *too_long when a line is longer than max_line. */
static inline void probe_log_one_line(const struct probe_log_regex *start, const char *line,
				      size_t n, size_t max_line, size_t *cont, bool *too_long)
{
	if (n > max_line)
		*too_long = true;
	if (start) {
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (!probe_log_prefix_ok(start, line, n))
			(*cont)++;
	}
}

/* regex.c: probe_log_regex_line with the native matcher allowed or not. */
bool probe_log_regex_line_native(const struct probe_log_regex *rx, const char *line, size_t len,
				 pcre2_match_data *md, pcre2_match_context *mctx, bool native);

/* scan_simd.c: the lines of [p, end) as probe_log_one_line judges them; see
 * probe_log_one_line for *ret_cont and *too_long. */
size_t probe_log_count_lines(const char *p, const char *end, size_t max_line,
			     const struct probe_log_regex *start, size_t *ret_cont, bool *too_long);

#ifdef HAVE_X86_SIMD
/* scan_simd.c: whether the CPU has AVX2 and POPCNT (probe_log_find_count_avx2). */
bool probe_log_have_avx2(void);
/* scan_simd.c: the first of rx's literals in [p, end) (*ret_len its length),
 * and the lines before it counted as probe_log_count_lines does into
 * *ret_count / *ret_cont / *too_long, in one pass. AVX2 only. */
const char *probe_log_find_count_avx2(const struct probe_log_regex *rx, const char *p,
				      const char *end, size_t max_line,
				      const struct probe_log_regex *start, size_t *ret_len,
				      size_t *ret_count, size_t *ret_cont, bool *too_long);
#endif

#endif
