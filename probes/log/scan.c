/* The log probe's record reader (probes/log/scan.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probes/log/scan.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_SIMD 1
#endif

static const char *const level_names[] = {
	[PROBE_LOG_DEBUG] = "debug",       [PROBE_LOG_INFO] = "info",
	[PROBE_LOG_WARNING] = "warning",   [PROBE_LOG_ERROR] = "error",
	[PROBE_LOG_CRITICAL] = "critical", [PROBE_LOG_UNKNOWN] = "unknown",
};

const char *probe_log_level_name(enum probe_log_level l)
{
	if (l == PROBE_LOG_CONTINUATION)
		return "continuation";
	if ((unsigned)l < PROBE_LOG_N_LEVELS)
		return level_names[l];
	return "?";
}

int probe_log_level_parse(const char *s, enum probe_log_level *ret)
{
	for (int l = 0; l < PROBE_LOG_UNKNOWN; l++)
		if (strcasecmp(s, level_names[l]) == 0) {
			*ret = (enum probe_log_level)l;
			return 0;
		}
	if (strcasecmp(s, "continuation") == 0) {
		*ret = PROBE_LOG_CONTINUATION;
		return 0;
	}
	if (strcasecmp(s, "warn") == 0) {
		*ret = PROBE_LOG_WARNING;
		return 0;
	}
	return -EINVAL;
}

/* Level words of the usual layouts (syslog, Python, Log4j, java.util.logging,
 * PostgreSQL, MariaDB). PostgreSQL's DETAIL/HINT/... lines continue the
 * message before them. */
static const struct {
	const char *token;
	enum probe_log_level level;
} default_levels[] = {
	{"TRACE", PROBE_LOG_DEBUG},
	{"DEBUG", PROBE_LOG_DEBUG},
	{"DEBUG1", PROBE_LOG_DEBUG},
	{"DEBUG2", PROBE_LOG_DEBUG},
	{"DEBUG3", PROBE_LOG_DEBUG},
	{"DEBUG4", PROBE_LOG_DEBUG},
	{"DEBUG5", PROBE_LOG_DEBUG},
	{"FINE", PROBE_LOG_DEBUG},
	{"FINER", PROBE_LOG_DEBUG},
	{"FINEST", PROBE_LOG_DEBUG},
	{"INFO", PROBE_LOG_INFO},
	{"NOTICE", PROBE_LOG_INFO},
	{"NOTE", PROBE_LOG_INFO},
	{"LOG", PROBE_LOG_INFO},
	{"CONFIG", PROBE_LOG_INFO},
	{"WARN", PROBE_LOG_WARNING},
	{"WARNING", PROBE_LOG_WARNING},
	{"ERROR", PROBE_LOG_ERROR},
	{"ERR", PROBE_LOG_ERROR},
	{"SEVERE", PROBE_LOG_ERROR},
	{"CRITICAL", PROBE_LOG_CRITICAL},
	{"CRIT", PROBE_LOG_CRITICAL},
	{"FATAL", PROBE_LOG_CRITICAL},
	{"PANIC", PROBE_LOG_CRITICAL},
	{"ALERT", PROBE_LOG_CRITICAL},
	{"EMERG", PROBE_LOG_CRITICAL},
	{"DETAIL", PROBE_LOG_CONTINUATION},
	{"HINT", PROBE_LOG_CONTINUATION},
	{"CONTEXT", PROBE_LOG_CONTINUATION},
	{"STATEMENT", PROBE_LOG_CONTINUATION},
	{"QUERY", PROBE_LOG_CONTINUATION},
	{"LOCATION", PROBE_LOG_CONTINUATION},
};

/* ---- native fast paths ---------------------------------------------------- */

static bool is_meta(char c)
{
	return strchr("\\^$.[]|()?*+{}", c) != NULL;
}

/* "ERROR|FATAL|Exception" -> literals; false if anything else is in it. */
static bool split_literals(struct probe_log_regex *rx, const char *pattern)
{
	const char *p = pattern;
	size_t n = 0;

	for (;;) {
		size_t k = strcspn(p, "|");
		if (k < 2 || k >= sizeof(rx->literals[0]) || n >= PROBE_LOG_MAX_LITERALS)
			return false;
		for (size_t i = 0; i < k; i++)
			if (is_meta(p[i]) || p[i] == '#' || (unsigned char)p[i] < 0x20)
				return false;
		memcpy(rx->literals[n], p, k);
		rx->literals[n][k] = '\0';
		rx->literal_lens[n] = k;
		n++;
		if (!p[k])
			break;
		p += k + 1;
	}
	rx->n_literals = n;
	return true;
}

static void set_bit(uint8_t *set, unsigned c)
{
	set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static void set_class(uint8_t *set, char cls)
{
	for (unsigned c = 0; c < 256; c++) {
		bool in;
		switch (cls) {
		case 'd':
		case 'D':
			in = c >= '0' && c <= '9';
			break;
		case 'w':
		case 'W':
			in = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			     (c >= 'A' && c <= 'Z') || c == '_';
			break;
		default: /* s, S: PCRE2's \s in non-UTF mode */
			in = c == ' ' || (c >= 9 && c <= 13);
			break;
		}
		if (cls >= 'A' && cls <= 'Z')
			in = !in;
		if (in)
			set_bit(set, c);
	}
}

/* Parses one atom at *pp into set; advances *pp. false: not a simple atom. */
static bool prefix_atom(const char **pp, uint8_t *set)
{
	const char *p = *pp;

	memset(set, 0, 32);
	if (*p == '\\') {
		char e = p[1];
		if (strchr("dDwWsS", e) && e) {
			set_class(set, e);
		} else if (e && !((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
				  (e >= '0' && e <= '9'))) {
			set_bit(set, (unsigned char)e); /* escaped punctuation */
		} else {
			return false;
		}
		*pp = p + 2;
		return true;
	}
	if (*p == '.') {
		memset(set, 0xff, 32);
		set[1] &= (uint8_t) ~(1u << 2); /* '.' does not match '\n' */
		*pp = p + 1;
		return true;
	}
	if (*p == '[') {
		bool neg = false;
		uint8_t tmp[32] = {0};
		p++;
		if (*p == '^') {
			neg = true;
			p++;
		}
		bool first = true;
		while (*p && (*p != ']' || first)) {
			unsigned char lo;
			first = false;
			if (*p == '\\') {
				if (p[1] && strchr("dDwWsS", p[1])) {
					uint8_t cl[32] = {0};
					set_class(cl, p[1]);
					for (int i = 0; i < 32; i++)
						tmp[i] |= cl[i];
					p += 2;
					continue;
				}
				if (!p[1] || (p[1] >= 'a' && p[1] <= 'z') ||
				    (p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= '0' && p[1] <= '9'))
					return false;
				lo = (unsigned char)p[1];
				p += 2;
			} else if (*p == '[') {
				return false; /* POSIX classes: not handled */
			} else {
				lo = (unsigned char)*p++;
			}
			if (*p == '-' && p[1] && p[1] != ']') {
				unsigned char hi = (unsigned char)p[1];
				if (hi == '\\' || hi < lo)
					return false;
				for (unsigned c = lo; c <= hi; c++)
					set_bit(tmp, c);
				p += 2;
			} else {
				set_bit(tmp, lo);
			}
		}
		if (*p != ']')
			return false;
		for (int i = 0; i < 32; i++)
			set[i] = neg ? (uint8_t)~tmp[i] : tmp[i];
		*pp = p + 1;
		return true;
	}
	if (is_meta(*p) || !*p)
		return false;
	set_bit(set, (unsigned char)*p);
	*pp = p + 1;
	return true;
}

/* A '|' outside any group or class. */
static bool has_top_level_alternation(const char *pattern)
{
	int depth = 0;
	bool in_class = false;

	for (const char *q = pattern; *q; q++) {
		if (*q == '\\' && q[1]) {
			q++;
			continue;
		}
		if (in_class) {
			if (*q == ']')
				in_class = false;
			continue;
		}
		if (*q == '[')
			in_class = true;
		else if (*q == '(')
			depth++;
		else if (*q == ')')
			depth--;
		else if (*q == '|' && depth == 0)
			return true;
	}
	return false;
}

/* The fixed start of "^atoms...": stops at the first thing that is not a
 * single-width atom with a fixed count. A top-level '|' anywhere disables it. */
static void build_prefix(struct probe_log_regex *rx, const char *pattern)
{
	const char *p = pattern;

	rx->prefix_len = 0;
	rx->prefix_exact = false;
	if (has_top_level_alternation(pattern))
		return;
	if (*p != '^')
		return;
	p++;
	for (;;) {
		uint8_t set[32];
		const char *save = p;
		if (!*p) {
			rx->prefix_exact = true;
			return;
		}
		if (!prefix_atom(&p, set))
			return;
		size_t count = 1;
		bool stop = false;
		if (*p == '{') {
			char *end;
			long n = strtol(p + 1, &end, 10);
			if (end == p + 1 || n < 0 || n > PROBE_LOG_MAX_PREFIX)
				return;
			count = (size_t)n;
			if (*end == '}') {
				p = end + 1;
			} else {
				stop = true; /* {n,m} / {n,}: n copies are required */
			}
			if (*p == '?' || *p == '+')
				stop = true; /* lazy/possessive forms: keep it simple */
		} else if (*p == '+') {
			stop = true;
		} else if (*p == '*' || *p == '?') {
			(void)save;
			return;
		}
		if (rx->prefix_len + count > PROBE_LOG_MAX_PREFIX)
			return;
		for (size_t i = 0; i < count; i++)
			memcpy(rx->prefix[rx->prefix_len++], set, 32);
		if (stop)
			return;
	}
}

/* Parses pattern[0..plen) as "^" and native items (see scan.h). */
static void build_native(struct probe_log_regex *rx, const char *pattern, size_t plen)
{
	char pat[512];
	const char *p = pat;
	size_t n = 0;
	int gfirst = -1, glast = -1;
	bool in_group = false;

	rx->native = false;
	if (plen >= sizeof(pat) || plen < 2 || pattern[0] != '^')
		return;
	memcpy(pat, pattern, plen);
	pat[plen] = '\0';
	p++;
	while (*p) {
		if (strncmp(p, "(?<level>", 9) == 0 && gfirst < 0 && !in_group) {
			in_group = true;
			gfirst = (int)n;
			p += 9;
			continue;
		}
		if (*p == ')' && in_group) {
			in_group = false;
			glast = (int)n;
			if (glast == gfirst)
				return; /* an empty group */
			p++;
			continue;
		}
		if (n >= PROBE_LOG_MAX_PREFIX)
			return;
		if (!prefix_atom(&p, rx->native_set[n]))
			return;
		size_t min = 1;
		bool plus = false;
		if (*p == '{') {
			char *end;
			long v = strtol(p + 1, &end, 10);
			if (end == p + 1 || *end != '}' || v < 1 || v > 255 || p[1] == '+' ||
			    p[1] == '-')
				return;
			min = (size_t)v;
			p = end + 1;
		} else if (*p == '+') {
			plus = true;
			p++;
		}
		if (*p == '?' || *p == '+' || *p == '*' || *p == '{')
			return; /* lazy, possessive, optional or repeated quantifiers */
		rx->native_min[n] = (uint8_t)min;
		rx->native_plus[n] = plus;
		n++;
	}
	if (in_group || n == 0)
		return;
	/* greedy "+" must never give back: the next item takes none of its bytes */
	for (size_t k = 0; k + 1 < n; k++) {
		if (!rx->native_plus[k])
			continue;
		for (int b = 0; b < 32; b++)
			if (rx->native_set[k][b] & rx->native_set[k + 1][b])
				return;
	}
	rx->native_n = (uint8_t)n;
	rx->native_gfirst = (int8_t)gfirst;
	rx->native_glast = (int8_t)glast;
	memset(rx->native_bytes, 0, sizeof(rx->native_bytes));
	for (size_t k = 0; k < n; k++)
		for (unsigned c = 0; c < 256; c++)
			if (rx->native_set[k][c >> 3] & (1u << (c & 7)))
				rx->native_bytes[c] |= 1ull << k;
	/* leading fixed items are the prefix's first positions (build_prefix
	 * takes the same atoms): prefix_ok decides them */
	size_t skip = 0, bytes = 0;
	while (skip < n && !rx->native_plus[skip] && (gfirst < 0 || (int)skip < gfirst) &&
	       bytes + rx->native_min[skip] <= rx->prefix_len) {
		for (size_t c = 0; c < rx->native_min[skip]; c++)
			if (memcmp(rx->prefix[bytes + c], rx->native_set[skip], 32) != 0)
				goto done;
		bytes += rx->native_min[skip];
		skip++;
	}
done:
	rx->native_skip = (uint8_t)skip;
	rx->native_skip_bytes = (uint8_t)bytes;
	rx->native = true;
}

/* The byte ranges of the prefix positions (prefix_ranges), if each is one. */
static void build_prefix_ranges(struct probe_log_regex *rx)
{
	rx->prefix_ranges = false;
	if (rx->prefix_len == 0 || rx->prefix_len > 32)
		return;
	memset(rx->prefix_lo, 0, sizeof(rx->prefix_lo));
	memset(rx->prefix_span, 0xff, sizeof(rx->prefix_span));
	for (size_t i = 0; i < rx->prefix_len; i++) {
		int lo = -1, hi = -1;
		for (unsigned c = 0; c < 256; c++) {
			if (!(rx->prefix[i][c >> 3] & (1u << (c & 7))))
				continue;
			if (lo < 0)
				lo = (int)c;
			hi = (int)c;
		}
		if (lo < 0)
			return; /* an empty set: the scalar check rejects every line */
		for (int c = lo; c <= hi; c++)
			if (!(rx->prefix[i][c >> 3] & (1u << (c & 7))))
				return; /* not one range */
		rx->prefix_lo[i] = (uint8_t)lo;
		rx->prefix_span[i] = (uint8_t)(hi - lo);
	}
	rx->prefix_ranges = true;
}

static inline bool prefix_ok(const struct probe_log_regex *rx, const char *line, size_t len)
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

bool probe_log_native_match(const struct probe_log_regex *rx, const char *line, size_t len,
			    size_t *ret_end, size_t *ret_gs, size_t *ret_ge)
{
	const unsigned char *m = (const unsigned char *)line;
	size_t i = rx->native_skip_bytes, gs = 0, ge = 0;

	if (rx->native_skip && !prefix_ok(rx, line, len))
		return false;
	for (int k = rx->native_skip; k < rx->native_n; k++) {
		uint64_t bit = 1ull << k;
		if (k == rx->native_gfirst)
			gs = i;
		if (len - i < rx->native_min[k])
			return false;
		for (size_t c = 0; c < rx->native_min[k]; c++, i++)
			if (!(rx->native_bytes[m[i]] & bit))
				return false;
		if (rx->native_plus[k])
			while (i < len && (rx->native_bytes[m[i]] & bit))
				i++;
		if (k + 1 == rx->native_glast)
			ge = i;
	}
	*ret_end = i;
	*ret_gs = gs;
	*ret_ge = ge;
	return true;
}

static bool regex_line(const struct probe_log_regex *rx, const char *line, size_t len,
		       pcre2_match_data *md, pcre2_match_context *mctx, bool native)
{
	int rc;

	if (rx->prefix_len && !prefix_ok(rx, line, len))
		return false;
	if (rx->prefix_exact)
		return true;
	if (rx->native && native) {
		size_t e, gs, ge;
		return probe_log_native_match(rx, line, len, &e, &gs, &ge);
	}
	if (rx->jit)
		rc = pcre2_jit_match(rx->code, (PCRE2_SPTR)line, len, 0, 0, md, mctx);
	else
		rc = pcre2_match(rx->code, (PCRE2_SPTR)line, len, 0, 0, md, mctx);
	return rc > 0;
}

bool probe_log_regex_line(const struct probe_log_regex *rx, const char *line, size_t len,
			  pcre2_match_data *md, pcre2_match_context *mctx)
{
	return regex_line(rx, line, len, md, mctx, true);
}

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

int probe_log_regex_compile(struct probe_log_regex *rx, const char *pattern, char *err,
			    size_t errlen)
{
	int ec;
	PCRE2_SIZE off;

	memset(rx, 0, sizeof(*rx));
	static const char tail[] = "(?<message>.*)";
	size_t plen = strlen(pattern), tl = sizeof(tail) - 1;
	if (plen > tl && strcmp(pattern + plen - tl, tail) == 0 && pattern[plen - tl - 1] != '\\' &&
	    !has_top_level_alternation(pattern)) {
		rx->code = pcre2_compile((PCRE2_SPTR)pattern, plen - tl, PCRE2_MULTILINE, &ec, &off,
					 NULL);
		rx->message_to_end = rx->code != NULL;
	}
	if (!rx->code)
		rx->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
					 PCRE2_MULTILINE, &ec, &off, NULL);
	if (!rx->code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(err, errlen, "pattern '%s' at offset %zu: %s", pattern, (size_t)off,
			 (const char *)msg);
		return -EINVAL;
	}
	rx->jit = pcre2_jit_compile(rx->code, PCRE2_JIT_COMPLETE) == 0;
	if (!split_literals(rx, pattern))
		rx->n_literals = 0;
	build_prefix(rx, pattern);
	build_prefix_ranges(rx);
	build_native(rx, pattern, rx->message_to_end ? plen - tl : plen);
	return 0;
}

void probe_log_regex_free(struct probe_log_regex *rx)
{
	if (!rx)
		return;
	pcre2_code_free(rx->code);
	memset(rx, 0, sizeof(*rx));
}

void probe_log_rules_init(struct probe_log_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->level_group = r->message_group = -1;
	r->max_line = PROBE_LOG_DEFAULT_MAX_LINE;
	r->signatures = true;
	for (size_t i = 0; i < sizeof(default_levels) / sizeof(default_levels[0]); i++) {
		snprintf(r->levels[i].token, sizeof(r->levels[i].token), "%s",
			 default_levels[i].token);
		r->levels[i].level = default_levels[i].level;
	}
	r->n_levels = sizeof(default_levels) / sizeof(default_levels[0]);
}

int probe_log_rules_add_level(struct probe_log_rules *r, const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	enum probe_log_level l;
	size_t tl = eq ? (size_t)(eq - spec) : 0;

	if (!eq || tl == 0 || tl >= sizeof(r->levels[0].token) ||
	    probe_log_level_parse(eq + 1, &l) < 0) {
		snprintf(err, errlen,
			 "level mapping '%s': expected TOKEN=LEVEL, LEVEL one of debug, info, "
			 "warning, error, critical, continuation",
			 spec);
		return -EINVAL;
	}
	for (size_t i = 0; i < r->n_levels; i++)
		if (strlen(r->levels[i].token) == tl &&
		    strncasecmp(r->levels[i].token, spec, tl) == 0) {
			r->levels[i].level = l;
			return 0;
		}
	if (r->n_levels >= PROBE_LOG_MAX_LEVELS) {
		snprintf(err, errlen, "too many level mappings (at most %d)", PROBE_LOG_MAX_LEVELS);
		return -EINVAL;
	}
	memcpy(r->levels[r->n_levels].token, spec, tl);
	r->levels[r->n_levels].token[tl] = '\0';
	r->levels[r->n_levels].level = l;
	r->n_levels++;
	return 0;
}

int probe_log_rules_finish(struct probe_log_rules *r, char *err, size_t errlen)
{
	r->level_group = r->message_group = -1;
	if (r->header.code) {
		int n = pcre2_substring_number_from_name(r->header.code, (PCRE2_SPTR) "level");
		r->level_group = n > 0 ? n : -1;
		n = pcre2_substring_number_from_name(r->header.code, (PCRE2_SPTR) "message");
		r->message_group = n > 0 ? n : -1;
	}
	if (r->multiline && !r->header.code && !r->record_start.code) {
		snprintf(err, errlen, "multiline needs a header or record_start pattern");
		return -EINVAL;
	}
	if (r->max_line < 256)
		r->max_line = 256;
	if (!r->mctx) {
		r->mctx = pcre2_match_context_create(NULL);
		if (!r->mctx) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		/* a user's pattern must not backtrack for ever on a hostile line */
		pcre2_set_match_limit(r->mctx, 1000000);
		pcre2_set_depth_limit(r->mctx, 10000);
	}
	return 0;
}

void probe_log_rules_free(struct probe_log_rules *r)
{
	if (!r)
		return;
	probe_log_regex_free(&r->header);
	probe_log_regex_free(&r->record_start);
	probe_log_regex_free(&r->error);
	pcre2_match_context_free(r->mctx);
	r->mctx = NULL;
}

int probe_log_scanner_init(struct probe_log_scanner *sc, const struct probe_log_rules *rules)
{
	memset(sc, 0, sizeof(*sc));
	sc->rules = rules;
	sc->md = pcre2_match_data_create(16, NULL);
	return sc->md ? 0 : -ENOMEM;
}

void probe_log_scanner_free(struct probe_log_scanner *sc)
{
	if (!sc)
		return;
	pcre2_match_data_free(sc->md);
	sc->md = NULL;
	probe_log_sigtab_free(&sc->sigs);
}

/* > 0 match, 0 no match (errors such as the match limit count as no match). */
static int rx_match(const struct probe_log_scanner *sc, const struct probe_log_regex *rx,
		    const char *s, size_t len, size_t start)
{
	int rc;

	if (rx->jit)
		rc = pcre2_jit_match(rx->code, (PCRE2_SPTR)s, len, start, 0, sc->md,
				     sc->rules->mctx);
	else
		rc = pcre2_match(rx->code, (PCRE2_SPTR)s, len, start, 0, sc->md, sc->rules->mctx);
	return rc > 0 ? rc : 0;
}

static bool group(const struct probe_log_scanner *sc, int rc, int g, const char **ret,
		  size_t *ret_len, const char *line)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);

	if (g < 0 || g >= rc || ov[2 * g] == PCRE2_UNSET)
		return false;
	*ret = line + ov[2 * g];
	*ret_len = ov[2 * g + 1] - ov[2 * g];
	return true;
}

/* Called for every header line: the first byte (ASCII case folded) and the
 * token's end are compared before the full case-insensitive compare. */
static enum probe_log_level map_level(struct probe_log_scanner *sc, const char *tok, size_t n)
{
	const struct probe_log_rules *r = sc->rules;

	if (n == 0 || n >= sizeof(r->levels[0].token))
		return PROBE_LOG_UNKNOWN;
	/* most lines carry the level word of the line before: exact bytes first
	 * (the first match in the table for them, as found below) */
	if (sc->last_level && sc->last_level <= r->n_levels) {
		const char *t = r->levels[sc->last_level - 1].token;
		if (t[n] == '\0' && memcmp(t, tok, n) == 0)
			return r->levels[sc->last_level - 1].level;
	}
	unsigned char c0 = (unsigned char)tok[0];
	if (c0 >= 'a' && c0 <= 'z')
		c0 = (unsigned char)(c0 - 'a' + 'A');
	for (size_t i = 0; i < r->n_levels; i++) {
		const char *t = r->levels[i].token;
		unsigned char t0 = (unsigned char)t[0];
		if (t0 >= 'a' && t0 <= 'z')
			t0 = (unsigned char)(t0 - 'a' + 'A');
		if (t0 != c0 || t[n] != '\0')
			continue;
		/* strncasecmp(t, tok, n) == 0 for ASCII, inline */
		size_t k = 1;
		for (; k < n; k++) {
			unsigned char a = (unsigned char)t[k], b = (unsigned char)tok[k];
			if (a == '\0' || b == '\0') {
				if (a == b)
					k = n;
				break;
			}
			if (a >= 'a' && a <= 'z')
				a = (unsigned char)(a - 'a' + 'A');
			if (b >= 'a' && b <= 'z')
				b = (unsigned char)(b - 'a' + 'A');
			if (a != b)
				break;
		}
		if (k == n) {
			if (memcmp(t, tok, n) == 0 && !memchr(tok, '\0', n))
				sc->last_level = i + 1;
			return r->levels[i].level;
		}
	}
	return PROBE_LOG_UNKNOWN;
}

/* Error-pattern matches are found ahead over the whole buffer, so lines
 * between two matches cost nothing; a match that runs past its line is
 * rechecked on that line alone. */
struct err_cursor {
	size_t searched_from; /* buffer offset the current answer holds from */
	size_t next_start;    /* offset of the next match start, or SIZE_MAX */
	size_t next_end;
	bool valid;
};

static bool line_has_error(struct probe_log_scanner *sc, struct err_cursor *ec, const char *buf,
			   size_t len, size_t ls, size_t le)
{
	const struct probe_log_regex *rx = &sc->rules->error;

	/* a PCRE2 match found from an earlier line is confirmed from this line's
	 * start: patterns never see before the line they are tested on */
	bool confirm = !rx->n_literals && ec->valid && ec->searched_from != ls &&
		       ec->next_start >= ls && ec->next_start < le;
	if (!ec->valid || confirm || ls < ec->searched_from ||
	    (ec->next_start != SIZE_MAX && ec->next_start < ls)) {
		ec->valid = true;
		ec->searched_from = ls;
		ec->next_start = ec->next_end = SIZE_MAX;
		if (rx->n_literals) {
			size_t ml = 0;
			const char *p = probe_log_literals_find(rx, buf + ls, buf + len, &ml);
			if (p) {
				ec->next_start = (size_t)(p - buf);
				ec->next_end = ec->next_start + ml;
			}
		} else if (rx_match(sc, rx, buf + ls, len - ls, 0) > 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
			ec->next_start = ls + ov[0];
			ec->next_end = ls + ov[1];
		}
	}
	if (ec->next_start == SIZE_MAX || ec->next_start >= le)
		return false;
	if (ec->next_end <= le)
		return true;
	/* the match spans into the next line: decide on this line alone */
	ec->valid = false;
	if (rx->n_literals)
		return false; /* literals hold no newline: cannot happen */
	return rx_match(sc, rx, buf + ls, le - ls, 0) > 0;
}

static void record(struct probe_log_scanner *sc, struct err_cursor *ec, const char *buf,
		   size_t buflen, size_t ls, size_t le)
{
	const struct probe_log_rules *r = sc->rules;
	const char *line = buf + ls;
	size_t n = le - ls;
	enum probe_log_level level = PROBE_LOG_UNKNOWN;
	const char *msg = line;
	size_t msglen = n;
	bool start = true;

	if (n > 0 && line[n - 1] == '\r')
		n--, msglen--;
	sc->counts.lines++;
	if (r->header.code && r->header.native && !r->no_native) {
		size_t mend, gs, ge;
		if ((r->header.native_skip || !r->header.prefix_len ||
		     prefix_ok(&r->header, line, n)) &&
		    probe_log_native_match(&r->header, line, n, &mend, &gs, &ge)) {
			if (r->level_group >= 0 && r->header.native_gfirst >= 0)
				level = map_level(sc, line + gs, ge - gs);
			if (r->header.message_to_end) {
				msg = line + mend;
				msglen = n - mend;
			}
		} else if (r->multiline && !r->record_start.code) {
			start = false;
		}
	} else if (r->header.code) {
		int rc = (r->header.prefix_len && !prefix_ok(&r->header, line, n))
				 ? 0
				 : rx_match(sc, &r->header, line, n, 0);
		if (rc > 0) {
			const char *tok;
			size_t tl;
			if (group(sc, rc, r->level_group, &tok, &tl, line))
				level = map_level(sc, tok, tl);
			if (r->header.message_to_end) {
				size_t end = pcre2_get_ovector_pointer(sc->md)[1];
				msg = line + end;
				msglen = n - end;
			} else if (!group(sc, rc, r->message_group, &msg, &msglen, line)) {
				msg = line;
				msglen = n;
			}
		} else if (r->multiline && !r->record_start.code) {
			start = false;
		}
	}
	if (start && r->record_start.code && r->multiline)
		start = r->record_start.prefix_exact ? prefix_ok(&r->record_start, line, n)
						     : regex_line(&r->record_start, line, n, sc->md,
								  r->mctx, !r->no_native);
	if (!start || level == PROBE_LOG_CONTINUATION) {
		sc->counts.continuation++;
		return;
	}
	if (level == PROBE_LOG_UNKNOWN && r->error.code &&
	    line_has_error(sc, ec, buf, buflen, ls, ls + n))
		level = PROBE_LOG_ERROR;
	sc->counts.records[level]++;
	if ((level == PROBE_LOG_ERROR || level == PROBE_LOG_CRITICAL) && r->signatures &&
	    probe_log_sigtab_add(&sc->sigs, msg, msglen, line, n) < 0)
		sc->error = -ENOMEM;
}

/* Complete lines of [from, to) one by one; to is just after a '\n'. */
static void scan_lines(struct probe_log_scanner *sc, struct err_cursor *ec, const char *buf,
		       size_t len, size_t from, size_t to)
{
	size_t pos = from;

	while (pos < to) {
		const char *nl = memchr(buf + pos, '\n', to - pos);
		if (!nl)
			break;
		size_t le = (size_t)(nl - buf);
		if (le - pos > sc->rules->max_line) {
			/* a complete line that is too long: classify its prefix */
			sc->counts.long_lines++;
			record(sc, ec, buf, pos + sc->rules->max_line, pos,
			       pos + sc->rules->max_line);
			ec->valid = false;
		} else {
			record(sc, ec, buf, len, pos, le);
		}
		pos = le + 1;
	}
}

/* Lines of [p, end) (p at a line start, end just after a '\n'): returns
 * how many; with a start prefix (multi-line rule), *ret_cont gets how many
 * fail it (continuation lines, judged as record() does: without a trailing
 * '\r'). Sets *too_long when a line is longer than max_line. */
static inline void one_line(const struct probe_log_regex *start, const char *line, size_t n,
			    size_t max_line, size_t *cont, bool *too_long)
{
	if (n > max_line)
		*too_long = true;
	if (start) {
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (!prefix_ok(start, line, n))
			(*cont)++;
	}
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
				one_line(start, line, (size_t)(q - line), max_line, &cont,
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
			one_line(start, line, (size_t)(p - line), max_line, &cont, too_long);
			count++;
			line = p + 1;
		}
	}
	*ret_cont = cont;
	return count;
}
#endif

static size_t count_lines(const char *p, const char *end, size_t max_line,
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
		one_line(start, p, (size_t)(nl - p), max_line, &cont, too_long);
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
		one_line(start, *line, (size_t)(q - *line), max_line, cont, too_long);
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
			one_line(start, line, (size_t)(p - line), max_line, &cont, too_long);
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
__attribute__((target("avx2,popcnt"))) static const char *find_count_avx2(
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

static bool have_avx2(void)
{
	static int avx2 = -1;
	if (avx2 < 0)
		avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") ? 1 : 0;
	return avx2 > 0;
}
#endif

/* scan_fast for an error pattern of literals, in one pass per match. */
static bool scan_fused(struct probe_log_scanner *sc, struct err_cursor *ec, const char *buf,
		       size_t len, size_t from, size_t to)
{
#ifdef HAVE_X86_SIMD
	const struct probe_log_rules *r = sc->rules;
	const struct probe_log_regex *start = r->multiline ? &r->record_start : NULL;
	size_t cur = from;

	if (r->error.n_literals < 2 || !have_avx2())
		return false;
	while (cur < to) {
		size_t ml = 0, n = 0, cont = 0;
		bool too_long = false;
		const char *hit = find_count_avx2(&r->error, buf + cur, buf + to, r->max_line,
						  start, &ml, &n, &cont, &too_long);
		size_t ms = hit ? (size_t)(hit - buf) : to;
		size_t L = ms;
		while (L > cur && buf[L - 1] != '\n')
			L--;
		if (L > cur) {
			if (too_long) {
				ec->valid = false;
				scan_lines(sc, ec, buf, len, cur, L);
			} else {
				sc->counts.lines += n;
				sc->counts.continuation += cont;
				sc->counts.records[PROBE_LOG_UNKNOWN] += n - cont;
			}
		}
		if (!hit)
			break;
		const char *nl = memchr(buf + L, '\n', to - L);
		size_t E = nl ? (size_t)(nl - buf) + 1 : to;
		ec->valid = false;
		scan_lines(sc, ec, buf, len, L, E);
		cur = E;
	}
	return true;
#else
	(void)sc, (void)ec, (void)buf, (void)len, (void)from, (void)to;
	return false;
#endif
}

/* No header, and every line a record or a multi-line rule the native
 * prefix decides alone: only the lines holding a match of the error pattern
 * need a closer look; the others are counted 32 bytes at a time (and their
 * first bytes checked against the record-start prefix). Same counts as scan_lines (the fuzz
 * target checks it); a region holding an over-long line goes through
 * scan_lines. */
static void scan_fast(struct probe_log_scanner *sc, struct err_cursor *ec, const char *buf,
		      size_t len, size_t from, size_t to)
{
	const struct probe_log_rules *r = sc->rules;
	size_t cur = from;

	if (scan_fused(sc, ec, buf, len, from, to))
		return;
	while (cur < to) {
		size_t ms = to;
		if (r->error.code) {
			ec->valid = false;
			if (line_has_error(sc, ec, buf, len, cur, cur) || ec->next_start < to)
				ms = ec->next_start < to ? ec->next_start : to;
		}
		/* the line holding the match starts at L */
		size_t L = ms;
		while (L > cur && buf[L - 1] != '\n')
			L--;
		if (L > cur) {
			bool too_long = false;
			size_t cont = 0;
			const struct probe_log_regex *start =
				r->multiline ? &r->record_start : NULL;
			size_t n = count_lines(buf + cur, buf + L, r->max_line, start, &cont,
					       &too_long);
			if (too_long) {
				scan_lines(sc, ec, buf, len, cur, L);
			} else {
				sc->counts.lines += n;
				sc->counts.continuation += cont;
				sc->counts.records[PROBE_LOG_UNKNOWN] += n - cont;
			}
		}
		if (ms >= to)
			break;
		const char *nl = memchr(buf + L, '\n', to - L);
		size_t E = nl ? (size_t)(nl - buf) + 1 : to;
		ec->valid = false;
		scan_lines(sc, ec, buf, len, L, E);
		cur = E;
	}
}

size_t probe_log_scan(struct probe_log_scanner *sc, const char *buf, size_t len)
{
	struct err_cursor ec = {0};
	size_t pos = 0;

	if (sc->skipping) {
		const char *nl = memchr(buf, '\n', len);
		if (!nl) {
			sc->counts.bytes += len;
			return len;
		}
		pos = (size_t)(nl - buf) + 1;
		sc->skipping = false;
	}
	if (pos < len) {
		const char *last = memrchr(buf + pos, '\n', len - pos);
		size_t to = last ? (size_t)(last - buf) + 1 : pos;
		const struct probe_log_rules *r = sc->rules;
		if (!r->no_fast_path && !r->header.code &&
		    (!r->multiline || !r->record_start.code || r->record_start.prefix_exact))
			scan_fast(sc, &ec, buf, len, pos, to);
		else
			scan_lines(sc, &ec, buf, len, pos, to);
		pos = to;
	}
	if (len - pos > sc->rules->max_line) {
		sc->counts.long_lines++;
		record(sc, &ec, buf, pos + sc->rules->max_line, pos, pos + sc->rules->max_line);
		sc->skipping = true;
		pos = len;
	}
	sc->counts.bytes += pos;
	return pos;
}
