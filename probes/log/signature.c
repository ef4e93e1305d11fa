/* Error signatures and masked sample lines (probes/log/signature.h).
 * One pass over the bytes each; the masks are hand-written scanners rather
 * than regexes because they run on every error record and must never fail
 * on garbage. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/log/signature.h"

struct sink {
	char *p;
	size_t len;
	size_t cap; /* bytes usable, excluding the NUL */
	bool full;
};

static void sink_put(struct sink *s, const char *data, size_t n)
{
	if (s->full)
		return;
	if (n > s->cap - s->len) {
		s->full = true;
		return;
	}
	memcpy(s->p + s->len, data, n);
	s->len += n;
}

static void sink_str(struct sink *s, const char *str)
{
	sink_put(s, str, strlen(str));
}

/* Byte classes, one table lookup each (the masker looks at every byte of
 * every error message several times). */
#define C_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define C_ALNUM(c) (C_DIGIT(c) || ((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define C_HEX(c)   (C_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define C_SPACE(c)                                                                                 \
	((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n' || (c) == '\v' || (c) == '\f')
#define C_KEY(c) (C_ALNUM(c) || (c) == '_' || (c) == '-' || (c) == '.')
#define C_TOKEN(c)                                                                                 \
	(C_ALNUM(c) || (c) == '+' || (c) == '/' || (c) == '=' || (c) == '_' || (c) == '-' ||       \
	 (c) == '.' || (c) == '~')
#define C_PATH(c)                                                                                  \
	(!C_SPACE(c) && (c) != '"' && (c) != '\'' && (c) != ',' && (c) != ';' && (c) != ')' &&     \
	 (c) != ']' && (c) != '>' && (c) != '}' && (c) != ':' && (c) != '(' && (c) != '[')
enum { K_DIGIT = 1, K_ALNUM = 2, K_HEX = 4, K_SPACE = 8, K_KEY = 16, K_TOKEN = 32, K_PATH = 64 };
#define C(c)                                                                                       \
	(uint8_t)((C_DIGIT(c) ? K_DIGIT : 0) | (C_ALNUM(c) ? K_ALNUM : 0) |                        \
		  (C_HEX(c) ? K_HEX : 0) | (C_SPACE(c) ? K_SPACE : 0) | (C_KEY(c) ? K_KEY : 0) |   \
		  (C_TOKEN(c) ? K_TOKEN : 0) | (C_PATH(c) ? K_PATH : 0))
#define R4(b)  C(b), C((b) + 1), C((b) + 2), C((b) + 3)
#define R16(b) R4(b), R4((b) + 4), R4((b) + 8), R4((b) + 12)
#define R64(b) R16(b), R16((b) + 16), R16((b) + 32), R16((b) + 48)
static const uint8_t byte_class[256] = {R64(0), R64(64), R64(128), R64(192)};
#undef R64
#undef R16
#undef R4
#undef C

static inline bool is_alnum(unsigned char c)
{
	return byte_class[c] & K_ALNUM;
}

static inline bool is_digit(unsigned char c)
{
	return byte_class[c] & K_DIGIT;
}

static inline bool is_hex(unsigned char c)
{
	return byte_class[c] & K_HEX;
}

static inline bool is_space(unsigned char c)
{
	return byte_class[c] & K_SPACE;
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	unsigned int cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (need > n)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need;
}

/* Copies one character (a valid UTF-8 sequence or '?') and returns how many
 * input bytes it consumed. */
static size_t put_char(struct sink *s, const unsigned char *m, size_t n)
{
	if (m[0] >= 0x20 && m[0] < 0x7f) {
		sink_put(s, (const char *)m, 1);
		return 1;
	}
	size_t k = utf8_seq(m, n);

	if (m[0] == '\t') {
		sink_put(s, " ", 1);
		return 1;
	}
	if (k == 0 || (k == 1 && (m[0] < 0x20 || m[0] == 0x7f))) {
		sink_put(s, "?", 1);
		return 1;
	}
	sink_put(s, (const char *)m, k);
	return k;
}

/* 8-4-4-4-12 hex digits. */
static bool at_uuid(const unsigned char *m, size_t n)
{
	static const unsigned char groups[] = {8, 4, 4, 4, 12};
	size_t i = 0;

	if (n < 36)
		return false;
	for (size_t g = 0; g < sizeof(groups); g++) {
		for (unsigned char k = 0; k < groups[g]; k++, i++)
			if (!is_hex(m[i]))
				return false;
		if (g < 4 && m[i++] != '-')
			return false;
	}
	return n == 36 || !is_alnum(m[36]);
}

/* Dotted IPv4 address (optionally :port); returns its length or 0. */
static size_t at_ipv4(const unsigned char *m, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t d = 0;
		while (i < n && is_digit(m[i]) && d < 4) {
			i++;
			d++;
		}
		if (d == 0 || d > 3)
			return 0;
		if (part < 3) {
			if (i >= n || m[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && (is_alnum(m[i]) || (m[i] == '.' && i + 1 < n && is_digit(m[i + 1]))))
		return 0;
	if (i + 1 < n && m[i] == ':' && is_digit(m[i + 1])) {
		i++;
		while (i < n && is_digit(m[i]))
			i++;
	}
	return i;
}

/* IPv6-looking run: hex digits and colons with "::" or at least 5 colons. */
static size_t at_ipv6(const unsigned char *m, size_t n)
{
	size_t i = 0, colons = 0;
	bool dbl = false;

	while (i < n && i < 64 && (is_hex(m[i]) || m[i] == ':' || m[i] == '.')) {
		if (m[i] == ':') {
			colons++;
			if (i + 1 < n && m[i + 1] == ':')
				dbl = true;
		}
		i++;
	}
	if (i < n && is_alnum(m[i]))
		return 0;
	if (colons >= 5 || (dbl && colons >= 2 && i > 2))
		return i;
	return 0;
}

static bool path_start_ok(unsigned char prev)
{
	return !is_alnum(prev) && prev != '/' && prev != '<' && prev != '.' && prev != '_';
}

static inline bool path_char(unsigned char c)
{
	return byte_class[c] & K_PATH;
}

static size_t signature_masked(const char *msg, size_t len, char *out, size_t outsize);

size_t probe_log_signature(const char *msg, size_t len, char *out, size_t outsize)
{
	/* secrets first, so "token=abc" and "token=xyz" sign alike and never leave */
	char masked[2048];
	size_t n = probe_log_sample(msg, len, masked, sizeof(masked));

	return signature_masked(masked, n, out, outsize);
}

static size_t signature_masked(const char *msg, size_t len, char *out, size_t outsize)
{
	const unsigned char *m = (const unsigned char *)msg;
	struct sink s = {.p = out, .cap = outsize ? outsize - 1 : 0};
	size_t i = 0;

	if (outsize == 0)
		return 0;
	while (i < len && !s.full) {
		unsigned char c = m[i];
		unsigned char prev = i ? m[i - 1] : ' ';
		bool boundary = !is_alnum(prev) && prev != '_';
		size_t k;

		if (is_space(c)) {
			if (s.len > 0 && s.p[s.len - 1] != ' ')
				sink_put(&s, " ", 1);
			i++;
			continue;
		}
		if (c == '"' || (c == '\'' && !is_alnum(prev))) {
			size_t j = i + 1;
			while (j < len && j - i < 1024 && m[j] != c && m[j] != '\n')
				j++;
			if (j < len && m[j] == c &&
			    (c == '"' || j + 1 >= len || !is_alnum(m[j + 1]))) {
				sink_str(&s, c == '"' ? "\"<v>\"" : "'<v>'");
				i = j + 1;
				continue;
			}
			sink_put(&s, (const char *)&m[i], 1);
			i++;
			continue;
		}
		if (boundary && is_hex(c) && at_uuid(m + i, len - i)) {
			sink_str(&s, "<uuid>");
			i += 36;
			continue;
		}
		if (boundary && c == '0' && i + 2 < len && lower(m[i + 1]) == 'x' &&
		    is_hex(m[i + 2])) {
			i += 2;
			while (i < len && is_hex(m[i]))
				i++;
			sink_str(&s, "<hex>");
			continue;
		}
		if (boundary && is_digit(c) && (k = at_ipv4(m + i, len - i)) > 0) {
			sink_str(&s, "<ip>");
			i += k;
			continue;
		}
		if (boundary && (is_hex(c) || c == ':') && (k = at_ipv6(m + i, len - i)) > 0) {
			sink_str(&s, "<ip>");
			i += k;
			continue;
		}
		if (boundary && is_hex(c)) {
			size_t j = i;
			bool digit = false, letter = false;
			while (j < len && is_hex(m[j])) {
				if (is_digit(m[j]))
					digit = true;
				else
					letter = true;
				j++;
			}
			if (j - i >= 8 && digit && letter && (j >= len || !is_alnum(m[j]))) {
				sink_str(&s, "<hex>");
				i = j;
				continue;
			}
		}
		if (is_digit(c)) {
			while (i < len && (is_digit(m[i]) || ((m[i] == '.' || m[i] == ',') &&
							      i + 1 < len && is_digit(m[i + 1]))))
				i++;
			sink_str(&s, "<n>");
			continue;
		}
		if (c == '/' && path_start_ok(prev) && i + 1 < len &&
		    (is_alnum(m[i + 1]) || m[i + 1] == '.' || m[i + 1] == '_' || m[i + 1] == '~' ||
		     m[i + 1] == '/' || m[i + 1] == '-')) {
			while (i < len && path_char(m[i]))
				i++;
			sink_str(&s, "<path>");
			continue;
		}
		if (boundary && i + 2 < len && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) &&
		    m[i + 1] == ':' && m[i + 2] == '\\') {
			i += 3;
			while (i < len && path_char(m[i]))
				i++;
			sink_str(&s, "<path>");
			continue;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			/* letters inside a word start nothing new; digits stop the run */
			size_t j = i + 1;
			while (j < len &&
			       ((m[j] >= 'a' && m[j] <= 'z') || (m[j] >= 'A' && m[j] <= 'Z')))
				j++;
			if (j - i <= s.cap - s.len) {
				sink_put(&s, (const char *)m + i, j - i);
				i = j;
				continue;
			}
		}
		i += put_char(&s, m + i, len - i);
	}
	while (s.len > 0 && s.p[s.len - 1] == ' ')
		s.len--;
	out[s.len] = '\0';
	return s.len;
}

/* ---- samples with secrets masked --------------------------------------- */

static const char *const secret_words[] = {
	"pass",    "pwd",        "secret",    "token",       "apikey",     "api_key",
	"api-key", "access_key", "accesskey", "private_key", "privatekey", "credential",
	"auth",    "cookie",     "session",   "signature",   "sig=",
};

/* True when word (lower case) occurs in m[0..n) ignoring case. */
static bool icontains(const unsigned char *m, size_t n, const char *word)
{
	char low[80];
	size_t w = strlen(word);

	if (n > sizeof(low))
		n = sizeof(low);
	for (size_t i = 0; i < n; i++)
		low[i] = (char)lower(m[i]);
	return memmem(low, n, word, w) != NULL;
}

static inline bool key_char(unsigned char c)
{
	return byte_class[c] & K_KEY;
}

static bool value_end(unsigned char c)
{
	return is_space(c) || c == '&' || c == ',' || c == ';' || c == '"' || c == '\'' ||
	       c == ')' || c == '}' || c == ']' || c == '<' || c == '>';
}

/* At a key token m[0..klen) that names a secret, followed by = or :, returns
 * the offset of the value's end and sets *vstart; 0 when not a key=value. */
static size_t secret_value(const unsigned char *m, size_t n, size_t klen, size_t *vstart)
{
	size_t i = klen;
	bool whole_line;
	unsigned char quote = 0;

	if (klen == 0 || klen > 64)
		return 0;
	/* cheap test first: a key is followed by [quote] [blanks] '=' or ':' */
	{
		size_t j = klen;
		if (j < n && (m[j] == '"' || m[j] == '\''))
			j++;
		while (j < n && (m[j] == ' ' || m[j] == '\t'))
			j++;
		if (j >= n || (m[j] != '=' && m[j] != ':'))
			return 0;
	}
	bool secret = false;
	char low[80];
	for (size_t q = 0; q < klen; q++)
		low[q] = (char)lower(m[q]);
	/* one pass: only positions whose letter starts a secret word are compared */
	for (size_t q = 0; q < klen && !secret; q++) {
		char c0 = low[q];
		if (c0 != 'p' && c0 != 's' && c0 != 't' && c0 != 'a' && c0 != 'c')
			continue;
		for (size_t w = 0; w < sizeof(secret_words) / sizeof(secret_words[0]); w++) {
			const char *sw = secret_words[w];
			if (sw[0] != c0)
				continue;
			size_t wl = strlen(sw);
			if (q + wl <= klen && memcmp(low + q, sw, wl) == 0) {
				secret = true;
				break;
			}
		}
	}
	if (!secret)
		return 0;
	whole_line = memmem(low, klen, "authorization", 13) != NULL;
	if (i < n && (m[i] == '"' || m[i] == '\''))
		i++;
	while (i < n && (m[i] == ' ' || m[i] == '\t'))
		i++;
	if (i >= n || (m[i] != '=' && m[i] != ':'))
		return 0;
	i++;
	while (i < n && (m[i] == ' ' || m[i] == '\t'))
		i++;
	if (i < n && (m[i] == '"' || m[i] == '\'')) {
		quote = m[i];
		i++;
	}
	*vstart = i;
	if (quote) {
		while (i < n && m[i] != quote && m[i] != '\n')
			i++;
	} else if (whole_line) {
		while (i < n && m[i] != '\n' && m[i] != '"' && m[i] != '\'')
			i++;
	} else {
		while (i < n && !value_end(m[i]))
			i++;
	}
	return i;
}

static inline bool token_char(unsigned char c)
{
	return byte_class[c] & K_TOKEN;
}

size_t probe_log_sample(const char *line, size_t len, char *out, size_t outsize)
{
	const unsigned char *m = (const unsigned char *)line;
	struct sink s = {.p = out, .cap = outsize > 4 ? outsize - 4 : 0};
	size_t i = 0;

	if (outsize == 0)
		return 0;
	while (len > 0 && (m[len - 1] == '\n' || m[len - 1] == '\r'))
		len--;
	while (i < len && !s.full) {
		unsigned char c = m[i];
		unsigned char prev = i ? m[i - 1] : ' ';
		size_t save = s.len;

		/* key=value / key: value / "key": "value" */
		if (key_char(c) && !key_char(prev)) {
			size_t k = i;
			while (k < len && key_char(m[k]))
				k++;
			size_t vstart = 0, vend = secret_value(m + i, len - i, k - i, &vstart);
			if (vend > 0) {
				for (size_t j = i; j < i + vstart && !s.full;)
					j += put_char(&s, m + j, i + vstart - j);
				if (vend > vstart)
					sink_str(&s, "***");
				if (s.full) {
					s.len = save;
					break;
				}
				i += vend;
				continue;
			}
			/* "Bearer <token>" */
			if (k - i == 6 && icontains(m + i, 6, "bearer") && k < len && m[k] == ' ') {
				size_t j = k + 1;
				while (j < len && !is_space(m[j]) && m[j] != '"' && m[j] != '\'')
					j++;
				sink_put(&s, (const char *)m + i, k + 1 - i);
				sink_str(&s, "***");
				i = j;
				continue;
			}
			/* AWS access key ids: AKIA/ASIA + 16 upper-case alphanumerics */
			if (k - i == 20 &&
			    (memcmp(m + i, "AKIA", 4) == 0 || memcmp(m + i, "ASIA", 4) == 0)) {
				sink_str(&s, "***");
				i = k;
				continue;
			}
		}
		/* scheme://user:password@host */
		if (c == ':' && i + 2 < len && m[i + 1] == '/' && m[i + 2] == '/') {
			size_t j = i + 3, colon = 0;
			while (j < len && j - i < 256 && m[j] != '@' && m[j] != '/' &&
			       !is_space(m[j])) {
				if (m[j] == ':' && !colon)
					colon = j;
				j++;
			}
			if (j < len && m[j] == '@' && colon) {
				for (size_t j2 = i; j2 <= colon && !s.full;)
					j2 += put_char(&s, m + j2, colon + 1 - j2);
				sink_str(&s, "***@");
				i = j + 1;
				continue;
			}
		}
		/* long random-looking tokens (>= 32 chars, letters and digits) */
		if (token_char(c) && !token_char(prev)) {
			size_t j = i;
			bool digit = false, up = false, low = false;
			while (j < len && token_char(m[j])) {
				digit |= is_digit(m[j]);
				up |= (m[j] >= 'A' && m[j] <= 'Z');
				low |= (m[j] >= 'a' && m[j] <= 'z');
				j++;
			}
			if (j - i >= 32 && digit && up && low && !memchr(m + i, '/', j - i) &&
			    !memchr(m + i, '.', j - i)) {
				sink_str(&s, "***");
				i = j;
				continue;
			}
		}
		if (is_alnum(c)) {
			/* the rest of an alphanumeric run starts nothing new: copy it whole */
			size_t j = i + 1;
			while (j < len && is_alnum(m[j]))
				j++;
			if (j - i <= s.cap - s.len) {
				sink_put(&s, (const char *)m + i, j - i);
				i = j;
				continue;
			}
		}
		i += put_char(&s, m + i, len - i);
	}
	if (i < len || s.full) {
		/* cut: never in the middle of a UTF-8 sequence (put_char wrote whole ones) */
		s.full = false;
		s.cap += 3;
		sink_put(&s, "...", 3);
	}
	out[s.len] = '\0';
	return s.len;
}

/* ---- exception types --------------------------------------------------- */

static inline bool ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

size_t probe_log_exception_type(const char *line, size_t len)
{
	const unsigned char *m = (const unsigned char *)line;
	size_t i = 0;

	for (;;) {
		if (i >= len || !ident_start(m[i]))
			return 0;
		while (i < len && (ident_start(m[i]) || is_digit(m[i])))
			i++;
		if (i < len && m[i] == '.') {
			i++;
			continue;
		}
		break;
	}
	if (i >= PROBE_LOG_EXCEPTION_MAX || (i < len && m[i] != ':' && m[i] != '\r'))
		return 0;
	return i;
}

size_t probe_log_signature_typed(const char *type, size_t tlen, const char *sig, size_t siglen,
				 char *out, size_t outsize)
{
	size_t n = 0;

	if (tlen >= PROBE_LOG_EXCEPTION_MAX)
		tlen = 0;
	if (tlen && tlen + 3 < outsize) {
		out[n++] = '[';
		memcpy(out + n, type, tlen);
		n += tlen;
		out[n++] = ']';
		out[n++] = ' ';
	}
	size_t k = siglen < outsize - 1 - n ? siglen : outsize - 1 - n;
	if (k < siglen) /* cut at a UTF-8 boundary */
		while (k > 0 && ((unsigned char)sig[k] & 0xC0) == 0x80)
			k--;
	memcpy(out + n, sig, k);
	n += k;
	out[n] = '\0';
	return n;
}

/* ---- top signatures --------------------------------------------------- */

/* 8 bytes per step (the hash only picks slots; equal keys are compared). */
static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ n;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 32;
	return h | 1; /* 0 marks an empty slot */
}

/* The slot of sig in t (a new one counted from 0, its sample from line or
 * sample), or NULL when t is full (counted in other) or out of memory. */
static struct probe_log_sig *sig_slot(struct probe_log_sigtab *t, const char *sig, size_t n,
				      const char *line, size_t linelen, const char *sample,
				      int *ret_err)
{
	uint64_t h = fnv1a(sig, n);

	*ret_err = 0;
	if (!t->slots) {
		t->slots = calloc(PROBE_LOG_SIGTAB_SLOTS, sizeof(*t->slots));
		if (!t->slots) {
			*ret_err = -ENOMEM;
			return NULL;
		}
	}
	for (size_t i = h & (PROBE_LOG_SIGTAB_SLOTS - 1);;
	     i = (i + 1) & (PROBE_LOG_SIGTAB_SLOTS - 1)) {
		struct probe_log_sig *e = &t->slots[i];
		if (e->hash == 0) {
			if (t->n >= PROBE_LOG_SIGTAB_MAX) {
				t->other++;
				return NULL;
			}
			e->hash = h;
			memcpy(e->signature, sig, n + 1);
			if (sample)
				snprintf(e->sample, sizeof(e->sample), "%s", sample);
			else
				probe_log_sample(line, linelen, e->sample, sizeof(e->sample));
			t->n++;
			return e;
		}
		if (e->hash == h && strcmp(e->signature, sig) == 0)
			return e;
	}
}

int probe_log_sigtab_add(struct probe_log_sigtab *t, const char *msg, size_t msglen,
			 const char *line, size_t linelen)
{
	char sig[PROBE_LOG_SIGNATURE_MAX];
	uint64_t raw = fnv1a(msg, msglen < 4096 ? msglen : 4096) ^ (uint64_t)msglen;
	size_t r = (size_t)(raw >> 7) & (PROBE_LOG_SIGTAB_RECENT - 1);
	int err;

	if (t->slots && t->recent_hash[r] == raw && t->recent_slot[r]) {
		t->slots[t->recent_slot[r] - 1].count++;
		return 0;
	}
	size_t n = probe_log_signature(msg, msglen, sig, sizeof(sig));
	struct probe_log_sig *e = sig_slot(t, sig, n, line, linelen, NULL, &err);
	if (!e)
		return err;
	e->count++;
	t->recent_hash[r] = raw;
	t->recent_slot[r] = (uint32_t)(e - t->slots) + 1;
	return 0;
}

int probe_log_sigtab_add_signed(struct probe_log_sigtab *t, const char *sig, size_t n,
				const char *sample)
{
	int err;
	struct probe_log_sig *e = sig_slot(t, sig, n, NULL, 0, sample, &err);

	if (e)
		e->count++;
	return err;
}

static int sig_cmp(const void *a, const void *b)
{
	const struct probe_log_sig *x = *(const struct probe_log_sig *const *)a;
	const struct probe_log_sig *y = *(const struct probe_log_sig *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->signature, y->signature);
}

size_t probe_log_sigtab_top(const struct probe_log_sigtab *t, const struct probe_log_sig **ret,
			    size_t max)
{
	const struct probe_log_sig *all[PROBE_LOG_SIGTAB_MAX];
	size_t n = 0;

	if (!t->slots)
		return 0;
	for (size_t i = 0; i < PROBE_LOG_SIGTAB_SLOTS && n < PROBE_LOG_SIGTAB_MAX; i++)
		if (t->slots[i].hash)
			all[n++] = &t->slots[i];
	qsort(all, n, sizeof(all[0]), sig_cmp);
	if (n > max)
		n = max;
	memcpy(ret, all, n * sizeof(all[0]));
	return n;
}

void probe_log_sigtab_free(struct probe_log_sigtab *t)
{
	if (!t)
		return;
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
