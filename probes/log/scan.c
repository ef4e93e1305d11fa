/* The log probe's record reader (probes/log/scan.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probes/log/scan.h"
#include "probes/log/scan_simd.h"

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

/* A continuation line of a pending error record: the first line at column 0
 * after "Traceback (most recent call last):" names the exception (the last
 * traceback of a chain wins). */
static void pending_line(struct probe_log_pending *p, const char *line, size_t n)
{
	static const char tb[] = "Traceback (most recent call last):";

	if (n >= sizeof(tb) - 1 && memcmp(line, tb, sizeof(tb) - 1) == 0) {
		p->in_traceback = true;
		return;
	}
	if (!p->in_traceback || n == 0 || line[0] == ' ' || line[0] == '\t')
		return;
	p->in_traceback = false;
	size_t k = probe_log_exception_type(line, n);
	if (k) {
		memcpy(p->type, line, k);
		p->type[k] = '\0';
		p->type_len = k;
	}
}

void probe_log_scanner_flush(struct probe_log_scanner *sc)
{
	struct probe_log_pending *p = &sc->pending;
	char sig[PROBE_LOG_SIGNATURE_MAX];

	if (!p->active)
		return;
	p->active = false;
	size_t n = probe_log_signature_typed(p->type, p->type_len, p->sig, strlen(p->sig), sig,
					     sizeof(sig));
	if (probe_log_sigtab_add_signed(&sc->sigs, sig, n, p->sample) < 0)
		sc->error = -ENOMEM;
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
	bool start = true, fmt = false;

	if (n > 0 && line[n - 1] == '\r')
		n--, msglen--;
	sc->counts.lines++;
	if (r->header.code && r->header.native && !r->no_native) {
		size_t mend, gs, ge;
		if ((r->header.native_skip || !r->header.prefix_len ||
		     probe_log_prefix_ok(&r->header, line, n)) &&
		    probe_log_native_match(&r->header, line, n, &mend, &gs, &ge)) {
			fmt = true;
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
		int rc = (r->header.prefix_len && !probe_log_prefix_ok(&r->header, line, n))
				 ? 0
				 : rx_match(sc, &r->header, line, n, 0);
		if (rc > 0) {
			const char *tok;
			size_t tl;
			fmt = true;
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
	if (start && r->record_start.code && r->multiline) {
		start = r->record_start.prefix_exact
				? probe_log_prefix_ok(&r->record_start, line, n)
				: probe_log_regex_line_native(&r->record_start, line, n, sc->md,
							      r->mctx, !r->no_native);
		fmt = fmt || start;
	}
	if (fmt)
		sc->counts.format_lines++;
	else if (!sc->unmatched[0] && n > 0 && line[0] != ' ' && line[0] != '\t' &&
		 (r->header.code || (r->record_start.code && r->multiline)))
		probe_log_sample(line, n, sc->unmatched, sizeof(sc->unmatched));
	if (!start || level == PROBE_LOG_CONTINUATION) {
		sc->counts.continuation++;
		if (sc->pending.active)
			pending_line(&sc->pending, line, n);
		return;
	}
	probe_log_scanner_flush(sc);
	if (level == PROBE_LOG_UNKNOWN && r->error.code &&
	    line_has_error(sc, ec, buf, buflen, ls, ls + n))
		level = PROBE_LOG_ERROR;
	sc->counts.records[level]++;
	if ((level != PROBE_LOG_ERROR && level != PROBE_LOG_CRITICAL) || !r->signatures)
		return;
	if (r->header.code && r->multiline) { /* its traceback may follow */
		struct probe_log_pending *p = &sc->pending;
		p->active = true;
		p->in_traceback = false;
		p->type_len = 0;
		probe_log_signature(msg, msglen, p->sig, sizeof(p->sig));
		probe_log_sample(line, n, p->sample, sizeof(p->sample));
	} else if (probe_log_sigtab_add(&sc->sigs, msg, msglen, line, n) < 0) {
		sc->error = -ENOMEM;
	}
}

/* n lines counted in bulk by the fast paths, cont of them continuation
 * lines (with a record-start rule start, else none): as record() counts them. */
static void count_bulk(struct probe_log_scanner *sc, size_t n, size_t cont,
		       const struct probe_log_regex *start)
{
	sc->counts.lines += n;
	sc->counts.continuation += cont;
	sc->counts.records[PROBE_LOG_UNKNOWN] += n - cont;
	if (start)
		sc->counts.format_lines += n - cont;
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

/* scan_fast for an error pattern of literals, in one pass per match. */
static bool scan_fused(struct probe_log_scanner *sc, struct err_cursor *ec, const char *buf,
		       size_t len, size_t from, size_t to)
{
#ifdef HAVE_X86_SIMD
	const struct probe_log_rules *r = sc->rules;
	const struct probe_log_regex *start = r->multiline ? &r->record_start : NULL;
	size_t cur = from;

	if (r->error.n_literals < 2 || !probe_log_have_avx2())
		return false;
	while (cur < to) {
		size_t ml = 0, n = 0, cont = 0;
		bool too_long = false;
		const char *hit =
			probe_log_find_count_avx2(&r->error, buf + cur, buf + to, r->max_line,
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
				count_bulk(sc, n, cont, start);
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
			size_t n = probe_log_count_lines(buf + cur, buf + L, r->max_line, start,
							 &cont, &too_long);
			if (too_long) {
				scan_lines(sc, ec, buf, len, cur, L);
			} else {
				count_bulk(sc, n, cont, start);
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
