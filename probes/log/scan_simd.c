/* The log probe's byte scanners (probes/log/scan_simd.h): literal search,
 * line counting and the fused "find the next literal and count the lines
 * before it" pass, with SSE2/AVX2 paths and portable fallbacks. Pure over
 * their input; scan.c decides what the counts mean. */
#include <stdio.h>
#include <string.h>

#include "probes/log/scan.h"
#include "probes/log/scan_simd.h"

static const char *literal_at(const struct probe_log_regex *rx, const char *p, const char *end,
			      size_t *ret_len)
{
	for (size_t k = 0; k < rx->n_literals; k++) {
		size_t n = rx->literal_lens[k];
		if ((size_t)(end - p) >= n && memcmp(p, rx->literals[k], n) == 0) {
			*ret_len = n;
			return p;
		}
	}
	return NULL;
}

#ifdef HAVE_X86_SIMD
/* Candidates are positions where some literal's first two bytes occur;
 * each is verified with memcmp. 32 positions per step with AVX2. */
__attribute__((target("avx2"))) static const char *literals_avx2(const struct probe_log_regex *rx,
								 const char *p, const char *end,
								 size_t *ret_len)
{
	__m256i f[PROBE_LOG_MAX_LITERALS], s[PROBE_LOG_MAX_LITERALS];
	size_t n = rx->n_literals;

	for (size_t k = 0; k < n; k++) {
		f[k] = _mm256_set1_epi8(rx->literals[k][0]);
		s[k] = _mm256_set1_epi8(rx->literals[k][1]);
	}
	while (end - p >= 33) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
		__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));
		__m256i m =
			_mm256_and_si256(_mm256_cmpeq_epi8(a, f[0]), _mm256_cmpeq_epi8(b, s[0]));
		for (size_t k = 1; k < n; k++)
			m = _mm256_or_si256(m, _mm256_and_si256(_mm256_cmpeq_epi8(a, f[k]),
								_mm256_cmpeq_epi8(b, s[k])));
		unsigned mask = (unsigned)_mm256_movemask_epi8(m);
		while (mask) {
			const char *hit = literal_at(rx, p + __builtin_ctz(mask), end, ret_len);
			if (hit)
				return hit;
			mask &= mask - 1;
		}
		p += 32;
	}
	for (; p < end; p++) {
		const char *hit = literal_at(rx, p, end, ret_len);
		if (hit)
			return hit;
	}
	return NULL;
}

static const char *literals_sse2(const struct probe_log_regex *rx, const char *p, const char *end,
				 size_t *ret_len)
{
	__m128i f[PROBE_LOG_MAX_LITERALS], s[PROBE_LOG_MAX_LITERALS];
	size_t n = rx->n_literals;

	for (size_t k = 0; k < n; k++) {
		f[k] = _mm_set1_epi8(rx->literals[k][0]);
		s[k] = _mm_set1_epi8(rx->literals[k][1]);
	}
	while (end - p >= 17) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		__m128i m = _mm_and_si128(_mm_cmpeq_epi8(a, f[0]), _mm_cmpeq_epi8(b, s[0]));
		for (size_t k = 1; k < n; k++)
			m = _mm_or_si128(
				m, _mm_and_si128(_mm_cmpeq_epi8(a, f[k]), _mm_cmpeq_epi8(b, s[k])));
		unsigned mask = (unsigned)_mm_movemask_epi8(m);
		while (mask) {
			const char *hit = literal_at(rx, p + __builtin_ctz(mask), end, ret_len);
			if (hit)
				return hit;
			mask &= mask - 1;
		}
		p += 16;
	}
	for (; p < end; p++) {
		const char *hit = literal_at(rx, p, end, ret_len);
		if (hit)
			return hit;
	}
	return NULL;
}
#endif

const char *probe_log_literals_find(const struct probe_log_regex *rx, const char *p,
				    const char *end, size_t *ret_len)
{
	if (rx->n_literals == 1) {
		const char *m = memmem(p, (size_t)(end - p), rx->literals[0], rx->literal_lens[0]);
		if (m)
			*ret_len = rx->literal_lens[0];
		return m;
	}
#ifdef HAVE_X86_SIMD
	static int avx2 = -1;
	if (avx2 < 0)
		avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	return avx2 ? literals_avx2(rx, p, end, ret_len) : literals_sse2(rx, p, end, ret_len);
#else
	for (; p < end; p++) {
		const char *hit = literal_at(rx, p, end, ret_len);
		if (hit)
			return hit;
	}
	return NULL;
#endif
}

#ifdef HAVE_X86_SIMD
__attribute__((target("avx2,popcnt"))) static size_t count_lines_avx2(
	const char *p, const char *end, size_t max_line, const struct probe_log_regex *start,
	size_t *ret_cont, bool *too_long)
{
	const __m256i nl = _mm256_set1_epi8('\n');
	const char *line = p;
	size_t count = 0, cont = 0;

	while (end - p >= 32) {
		unsigned mask = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
			_mm256_loadu_si256((const __m256i *)(const void *)p), nl));
		if (mask && !start) {
			if ((size_t)(p + __builtin_ctz(mask) - line) > max_line)
				*too_long = true;
			count += (size_t)__builtin_popcount(mask);
			line = p + 32 - __builtin_clz(mask);
		} else {
			while (mask) {
				const char *q = p + __builtin_ctz(mask);
				probe_log_one_line(start, line, (size_t)(q - line), max_line, &cont,
						   too_long);
				count++;
				line = q + 1;
				mask &= mask - 1;
			}
		}
		p += 32;
	}
	for (; p < end; p++) {
		if (*p == '\n') {
			probe_log_one_line(start, line, (size_t)(p - line), max_line, &cont,
					   too_long);
			count++;
			line = p + 1;
		}
	}
	*ret_cont = cont;
	return count;
}
#endif

size_t probe_log_count_lines(const char *p, const char *end, size_t max_line,
			     const struct probe_log_regex *start, size_t *ret_cont, bool *too_long)
{
#ifdef HAVE_X86_SIMD
	static int avx2 = -1;
	if (avx2 < 0)
		avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") ? 1 : 0;
	if (avx2)
		return count_lines_avx2(p, end, max_line, start, ret_cont, too_long);
#endif
	size_t count = 0, cont = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		probe_log_one_line(start, p, (size_t)(nl - p), max_line, &cont, too_long);
		count++;
		p = nl + 1;
	}
	*ret_cont = cont;
	return count;
}

#ifdef HAVE_X86_SIMD
/* The newlines of one 32-byte block at p (bit i: p[i] == '\n') as
 * count_lines_avx2 takes them. */
static inline void nl_block(const char *p, unsigned mask, const char **line, size_t *count,
			    size_t *cont, size_t max_line, const struct probe_log_regex *start,
			    bool *too_long)
{
	if (!mask)
		return;
	if (!start) {
		if ((size_t)(p + __builtin_ctz(mask) - *line) > max_line)
			*too_long = true;
		*count += (size_t)__builtin_popcount(mask);
		*line = p + 32 - __builtin_clz(mask);
		return;
	}
	while (mask) {
		const char *q = p + __builtin_ctz(mask);
		probe_log_one_line(start, *line, (size_t)(q - *line), max_line, cont, too_long);
		(*count)++;
		*line = q + 1;
		mask &= mask - 1;
	}
}

/* One pass for both jobs of scan_fast: the first of rx's literals in
 * [p, end) (as probe_log_literals_find; *ret_len its length), and the lines
 * that end before it (all of [p, end) without a match) counted as
 * count_lines does into *ret_count / *ret_cont / *too_long. p is at a line
 * start; literals hold no '\n', so the lines before the match are exactly
 * those before the match's line. */
__attribute__((target("avx2,popcnt"), always_inline)) static inline const char *find_count_n(
	const struct probe_log_regex *rx, const size_t n, const char *p, const char *end,
	size_t max_line, const struct probe_log_regex *start, size_t *ret_len, size_t *ret_count,
	size_t *ret_cont, bool *too_long)
{
	__m256i f[PROBE_LOG_MAX_LITERALS], s[PROBE_LOG_MAX_LITERALS];
	const __m256i nl = _mm256_set1_epi8('\n');
	size_t count = 0, cont = 0;
	const char *line = p, *hit = NULL;

	for (size_t k = 0; k < n; k++) {
		f[k] = _mm256_set1_epi8(rx->literals[k][0]);
		s[k] = _mm256_set1_epi8(rx->literals[k][1]);
	}
	for (;;) {
		/* 64 bytes per step while no literal's first two bytes show up */
		while (end - p >= 65) {
			__m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
			__m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));
			__m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
			__m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 33));
			__m256i m = _mm256_or_si256(_mm256_and_si256(_mm256_cmpeq_epi8(a0, f[0]),
								     _mm256_cmpeq_epi8(b0, s[0])),
						    _mm256_and_si256(_mm256_cmpeq_epi8(a1, f[0]),
								     _mm256_cmpeq_epi8(b1, s[0])));
			for (size_t k = 1; k < n; k++)
				m = _mm256_or_si256(
					m, _mm256_or_si256(
						   _mm256_and_si256(_mm256_cmpeq_epi8(a0, f[k]),
								    _mm256_cmpeq_epi8(b0, s[k])),
						   _mm256_and_si256(_mm256_cmpeq_epi8(a1, f[k]),
								    _mm256_cmpeq_epi8(b1, s[k]))));
			if (!_mm256_testz_si256(m, m))
				break; /* a candidate: the 32-byte step below takes it */
			unsigned n0 = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a0, nl));
			unsigned n1 = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a1, nl));
			if (!start) {
				uint64_t mask = n0 | (uint64_t)n1 << 32;
				if (mask) {
					if ((size_t)(p + __builtin_ctzll(mask) - line) > max_line)
						*too_long = true;
					count += (size_t)__builtin_popcountll(mask);
					line = p + 64 - __builtin_clzll(mask);
				}
			} else {
				nl_block(p, n0, &line, &count, &cont, max_line, start, too_long);
				nl_block(p + 32, n1, &line, &count, &cont, max_line, start,
					 too_long);
			}
			p += 64;
		}
		if (end - p < 33)
			break;
		__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
		__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));
		__m256i m =
			_mm256_and_si256(_mm256_cmpeq_epi8(a, f[0]), _mm256_cmpeq_epi8(b, s[0]));
		for (size_t k = 1; k < n; k++)
			m = _mm256_or_si256(m, _mm256_and_si256(_mm256_cmpeq_epi8(a, f[k]),
								_mm256_cmpeq_epi8(b, s[k])));
		unsigned cand = (unsigned)_mm256_movemask_epi8(m);
		unsigned nlm = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, nl));
		while (cand) {
			unsigned o = (unsigned)__builtin_ctz(cand);
			hit = literal_at(rx, p + o, end, ret_len);
			if (hit) {
				nl_block(p, nlm & ((1u << o) - 1), &line, &count, &cont, max_line,
					 start, too_long);
				goto out;
			}
			cand &= cand - 1;
		}
		nl_block(p, nlm, &line, &count, &cont, max_line, start, too_long);
		p += 32;
	}
	for (; p < end; p++) {
		hit = literal_at(rx, p, end, ret_len);
		if (hit)
			break;
		if (*p == '\n') {
			probe_log_one_line(start, line, (size_t)(p - line), max_line, &cont,
					   too_long);
			count++;
			line = p + 1;
		}
	}
out:
	*ret_count = count;
	*ret_cont = cont;
	return hit;
}

/* find_count_n with the number of literals a constant: the loop over them
 * unrolled, their vectors kept in registers */
__attribute__((target("avx2,popcnt"))) const char *probe_log_find_count_avx2(
	const struct probe_log_regex *rx, const char *p, const char *end, size_t max_line,
	const struct probe_log_regex *start, size_t *ret_len, size_t *ret_count, size_t *ret_cont,
	bool *too_long)
{
	switch (rx->n_literals) {
	case 2:
		return find_count_n(rx, 2, p, end, max_line, start, ret_len, ret_count, ret_cont,
				    too_long);
	case 3:
		return find_count_n(rx, 3, p, end, max_line, start, ret_len, ret_count, ret_cont,
				    too_long);
	case 4:
		return find_count_n(rx, 4, p, end, max_line, start, ret_len, ret_count, ret_cont,
				    too_long);
	default:
		return find_count_n(rx, rx->n_literals, p, end, max_line, start, ret_len, ret_count,
				    ret_cont, too_long);
	}
}

bool probe_log_have_avx2(void)
{
	static int avx2 = -1;
	if (avx2 < 0)
		avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") ? 1 : 0;
	return avx2 > 0;
}
#endif
