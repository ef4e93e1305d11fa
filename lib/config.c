/* INI configuration: inih does the parsing; a line reader of our own sits in
 * front of it and adds what Debian's (and upstream's default) inih build
 * lacks: line numbers (no INI_HANDLER_LINENO), lines longer than its
 * 200-byte buffer (no INI_ALLOW_REALLOC), sections without keys (no
 * INI_CALL_HANDLER_ON_NEW_SECTION), and strictness: no continuation lines,
 * no control characters or invalid UTF-8, no duplicates, size caps.
 * The reader hands inih one physical line per call and never splits a
 * line, so inih's line count and ours stay equal and the handler always
 * runs for the line the reader handed out last. docs/configuration.md
 * describes the resulting syntax. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "erpulse/config.h"
#include "erpulse/util.h"

/* inih keeps section names in a 50-byte buffer (MAX_SECTION): longer ones
 * would be truncated silently, so we refuse them first. */
#define SECTION_NAME_MAX 48
#define KEY_NAME_MAX     64
/* What the handler sees as the value of a line too long for inih's buffer;
 * the real value waits in parser.long_value. Control characters never reach
 * inih from a file, so this cannot collide with a real value. */
#define LONG_VALUE_MARK "\x01"

struct parser {
	struct ep_config *cfg;
	const char *text;
	size_t len;
	size_t pos;
	int line;      /* physical line handed to inih last (1-based) */
	long cur;      /* index of the current section, -1 before the first */
	char *scratch; /* the current line, NUL-terminated */
	size_t scratch_cap;
	char *long_value; /* value of the current line when it was too long */
	size_t n_sections_cap;
	size_t n_entries_cap; /* of the current section */
	int rc;               /* first error (negative errno), 0 if none */
	char *err;
	size_t errlen;
};

/* ---- messages -------------------------------------------------------------- */

/* Writes "FILE:LINE: [section] key: " + fmt into err (each part optional). */
static void __attribute__((format(printf, 7, 0)))
vformat_err(char *err, size_t errlen, const char *file, int line, const char *section,
	    const char *key, const char *fmt, va_list ap)
{
	char msg[1024];
	char where[256];
	size_t n;

	if (!err || errlen == 0)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		(void)ep_snprintf(where, sizeof(where), "%s:%d:", file ? file : "<config>", line);
	else
		(void)ep_snprintf(where, sizeof(where), "%s:", file ? file : "<config>");
	n = strlen(where);
	if (section)
		(void)ep_snprintf(where + n, sizeof(where) - n, " [%s]", section);
	n = strlen(where);
	if (key)
		(void)ep_snprintf(where + n, sizeof(where) - n, " %s:", key);
	else if (section)
		(void)ep_snprintf(where + n, sizeof(where) - n, ":");
	(void)ep_snprintf(err, errlen, "%s %s", where, msg);
}

static void __attribute__((format(printf, 7, 8)))
format_err(char *err, size_t errlen, const char *file, int line, const char *section,
	   const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat_err(err, errlen, file, line, section, key, fmt, ap);
	va_end(ap);
}

/* Records the first error only; later ones are consequences. */
static void __attribute__((format(printf, 5, 6)))
parse_fail(struct parser *p, int rc, const char *section, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (p->rc < 0)
		return;
	p->rc = rc;
	va_start(ap, fmt);
	vformat_err(p->err, p->errlen, p->cfg->file, p->line, section, key, fmt, ap);
	va_end(ap);
}

/* ---- names ------------------------------------------------------------------ */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* "type" or "type.instance", each part [A-Za-z0-9_-]+. */
static bool section_name_ok(const char *s)
{
	size_t part = 0, dots = 0;

	for (; *s; s++) {
		if (*s == '.') {
			if (part == 0 || ++dots > 1)
				return false;
			part = 0;
		} else if (name_char(*s)) {
			part++;
		} else {
			return false;
		}
	}
	return part > 0;
}

static bool key_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!name_char(*s) && *s != '.')
			return false;
	return true;
}

/* ---- what inih does to a line, for lines it cannot hold ---------------------- */

/* inih's find_chars_or_comment() with INI_ALLOW_INLINE_COMMENTS and the
 * default INI_INLINE_COMMENT_PREFIXES ";": stops at one of chars, or at a ';'
 * that follows whitespace, or at the end. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

static const char *lskip(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

/* The value inih would pass for "key<sep>raw": like inih, the inline comment
 * is looked for before the leading blanks are skipped ("k = ;x" is empty,
 * "k=;x" is ";x"), then the value is trimmed. */
static char *inih_value(const char *raw)
{
	const char *end = find_chars_or_comment(raw, NULL);
	const char *start = lskip(raw);

	if (start > end)
		start = end;

	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	return strndup(start, (size_t)(end - start));
}

/* ---- building the result ------------------------------------------------------- */

static int add_section(struct parser *p, const char *name)
{
	struct ep_config *cfg = p->cfg;
	struct ep_config_section *s;
	const char *dot;

	for (size_t i = 0; i < cfg->n_sections; i++)
		if (strcmp(cfg->sections[i].name, name) == 0) {
			parse_fail(p, -EINVAL, name, NULL,
				   "duplicate section, first defined at line %d (merge the two "
				   "sections into one)",
				   cfg->sections[i].line);
			return p->rc;
		}
	if (cfg->n_sections >= EP_CONFIG_MAX_SECTIONS) {
		parse_fail(p, -E2BIG, name, NULL,
			   "too many sections (at most %d; remove unused ones)",
			   EP_CONFIG_MAX_SECTIONS);
		return p->rc;
	}
	if (cfg->n_sections == p->n_sections_cap) {
		size_t cap = p->n_sections_cap ? p->n_sections_cap * 2 : 8;
		struct ep_config_section *ns = realloc(cfg->sections, cap * sizeof(*ns));

		if (!ns)
			goto nomem;
		cfg->sections = ns;
		p->n_sections_cap = cap;
	}
	s = &cfg->sections[cfg->n_sections];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	dot = strchr(name, '.');
	s->type = dot ? strndup(name, (size_t)(dot - name)) : strdup(name);
	s->instance = dot ? strdup(dot + 1) : NULL;
	s->line = p->line;
	s->file = cfg->file;
	cfg->n_sections++; /* counted now so that ep_config_free() sees it */
	if (!s->name || !s->type || (dot && !s->instance))
		goto nomem;
	p->cur = (long)cfg->n_sections - 1;
	p->n_entries_cap = 0;
	return 0;
nomem:
	parse_fail(p, -ENOMEM, NULL, NULL, "out of memory");
	return p->rc;
}

static int add_entry(struct parser *p, const char *key, const char *value)
{
	struct ep_config_section *s = &p->cfg->sections[p->cur];
	struct ep_config_entry *e;

	for (size_t i = 0; i < s->n_entries; i++)
		if (strcmp(s->entries[i].key, key) == 0) {
			parse_fail(p, -EINVAL, s->name, key,
				   "duplicate key, first set at line %d (keep only one of the two "
				   "lines)",
				   s->entries[i].line);
			return p->rc;
		}
	if (s->n_entries >= EP_CONFIG_MAX_KEYS) {
		parse_fail(p, -E2BIG, s->name, key, "too many keys in this section (at most %d)",
			   EP_CONFIG_MAX_KEYS);
		return p->rc;
	}
	if (s->n_entries == p->n_entries_cap) {
		size_t cap = p->n_entries_cap ? p->n_entries_cap * 2 : 8;
		struct ep_config_entry *ne = realloc(s->entries, cap * sizeof(*ne));

		if (!ne)
			goto nomem;
		s->entries = ne;
		p->n_entries_cap = cap;
	}
	e = &s->entries[s->n_entries];
	e->key = strdup(key);
	e->value = strdup(value);
	e->line = p->line;
	s->n_entries++;
	if (!e->key || !e->value)
		goto nomem;
	return 0;
nomem:
	parse_fail(p, -ENOMEM, NULL, NULL, "out of memory");
	return p->rc;
}

/* ---- inih callbacks ------------------------------------------------------------ */

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	const char *sname;

	if (p->rc < 0)
		return 0;
	if (p->long_value && strcmp(value, LONG_VALUE_MARK) == 0)
		value = p->long_value;
	if (p->cur < 0) {
		parse_fail(p, -EINVAL, NULL, name[0] ? name : NULL,
			   "key outside any section (move it below a [section] header)");
		return 0;
	}
	sname = p->cfg->sections[p->cur].name;
	if (strcmp(section, sname) != 0) {
		/* cannot happen unless inih and the reader disagree about a line */
		parse_fail(p, -EINVAL, sname, NULL,
			   "cannot parse this line (inih read section [%.48s]; simplify the line)",
			   section);
		return 0;
	}
	if (!key_name_ok(name)) {
		parse_fail(p, -EINVAL, sname, NULL,
			   "invalid key name (keys are letters, digits, '_', '-' and '.', "
			   "written as 'key = value')");
		return 0;
	}
	if (strlen(name) > KEY_NAME_MAX) {
		parse_fail(p, -E2BIG, sname, NULL, "key name too long (at most %d characters)",
			   KEY_NAME_MAX);
		return 0;
	}
	if (strlen(value) > EP_CONFIG_MAX_VALUE) {
		parse_fail(p, -E2BIG, sname, name, "value too long (at most %d bytes)",
			   EP_CONFIG_MAX_VALUE);
		return 0;
	}
	return add_entry(p, name, value) == 0;
}

static bool scratch_reserve(struct parser *p, size_t n)
{
	char *ns;

	if (n <= p->scratch_cap)
		return true;
	ns = realloc(p->scratch, n);
	if (!ns)
		return false;
	p->scratch = ns;
	p->scratch_cap = n;
	return true;
}

/* Checks one physical line; on success *ret_start is the line without its
 * indentation, BOM and trailing whitespace, NUL-terminated in p->scratch. */
static int take_line(struct parser *p, const char **ret_start)
{
	const char *s = p->text + p->pos;
	const char *nl = memchr(s, '\n', p->len - p->pos);
	size_t n = nl ? (size_t)(nl - s) : p->len - p->pos;
	char *line;

	p->pos += nl ? n + 1 : n;
	p->line++;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (p->line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		n -= 3;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			parse_fail(p, -EINVAL, NULL, NULL,
				   "control character 0x%02x in line (remove it; lines end with LF "
				   "or CRLF)",
				   c);
			return p->rc;
		}
	}
	if (!ep_utf8_valid(s, n)) {
		parse_fail(p, -EINVAL, NULL, NULL,
			   "line is not valid UTF-8 (save the file as UTF-8)");
		return p->rc;
	}
	if (!scratch_reserve(p, n + 1)) {
		parse_fail(p, -ENOMEM, NULL, NULL, "out of memory");
		return p->rc;
	}
	memcpy(p->scratch, s, n);
	p->scratch[n] = '\0';
	while (n > 0 && isspace((unsigned char)p->scratch[n - 1]))
		p->scratch[--n] = '\0';
	line = p->scratch;
	while (*line && isspace((unsigned char)*line))
		line++;
	*ret_start = line;
	return 0;
}

/* "[name]" lines: validated and recorded here, because inih never tells the
 * handler about a section without keys. */
static int section_line(struct parser *p, const char *start)
{
	const char *end = find_chars_or_comment(start + 1, "]");
	const char *rest;
	char name[SECTION_NAME_MAX + 1];
	size_t n;

	if (*end != ']') {
		parse_fail(p, -EINVAL, NULL, NULL,
			   "missing ']' in section header (write it as [type] or [type.instance])");
		return p->rc;
	}
	n = (size_t)(end - start - 1);
	if (n > SECTION_NAME_MAX) {
		parse_fail(p, -E2BIG, NULL, NULL, "section name too long (at most %d characters)",
			   SECTION_NAME_MAX);
		return p->rc;
	}
	memcpy(name, start + 1, n);
	name[n] = '\0';
	if (!section_name_ok(name)) {
		parse_fail(p, -EINVAL, NULL, NULL,
			   "invalid section name '%s' (write [type] or [type.instance] with "
			   "letters, digits, '_' and '-', no spaces)",
			   name);
		return p->rc;
	}
	rest = lskip(end + 1);
	if (*rest && *rest != ';' && *rest != '#') {
		parse_fail(p, -EINVAL, name, NULL,
			   "unexpected text after ']' (put 'key = value' on its own line)");
		return p->rc;
	}
	return add_section(p, name);
}

/* inih's line reader: one physical line per call, never split. */
static char *reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	const char *start = NULL, *sep;
	size_t n;

	free(p->long_value);
	p->long_value = NULL;
	if (p->rc < 0 || p->pos >= p->len)
		return NULL;
	if (num < SECTION_NAME_MAX + 8) { /* inih's buffer is 200 bytes unless rebuilt */
		parse_fail(p, -EINVAL, NULL, NULL, "inih line buffer too small (%d bytes)", num);
		return NULL;
	}
	if (take_line(p, &start) < 0)
		return NULL;
	n = strlen(start);

	if (*start == '\0' || *start == ';' || *start == '#') {
		memcpy(str, "\n", 2);
		return str;
	}
	if (*start == '[') {
		if (section_line(p, start) < 0)
			return NULL;
		/* inih sees the canonical header, which always fits */
		(void)ep_snprintf(str, (size_t)num, "[%s]\n", p->cfg->sections[p->cur].name);
		return str;
	}
	sep = find_chars_or_comment(start, "=:");
	if (*sep != '=' && *sep != ':') {
		if (p->cur >= 0)
			parse_fail(p, -EINVAL, p->cfg->sections[p->cur].name, NULL,
				   "expected 'key = value' (values cannot continue on the next "
				   "line; comments start with ';' or '#')");
		else
			parse_fail(p, -EINVAL, NULL, NULL,
				   "text outside any section (expected a '[section]' header, "
				   "'key = value' below it, or a comment starting with ';' or "
				   "'#')");
		return NULL;
	}
	if (n + 2 <= (size_t)num) {
		memcpy(str, start, n);
		memcpy(str + n, "\n", 2);
		return str;
	}
	/* Too long for inih's buffer: hand it the key and keep the value. */
	if ((size_t)(sep - start) + sizeof(LONG_VALUE_MARK) + 2 > (size_t)num) {
		parse_fail(p, -E2BIG, p->cur >= 0 ? p->cfg->sections[p->cur].name : NULL, NULL,
			   "key name too long (at most %d characters)", KEY_NAME_MAX);
		return NULL;
	}
	p->long_value = inih_value(sep + 1);
	if (!p->long_value) {
		parse_fail(p, -ENOMEM, NULL, NULL, "out of memory");
		return NULL;
	}
	n = (size_t)(sep - start) + 1;
	memcpy(str, start, n);
	memcpy(str + n, LONG_VALUE_MARK "\n", sizeof(LONG_VALUE_MARK) + 1);
	return str;
}

/* ---- loading ------------------------------------------------------------------- */

void ep_config_free(struct ep_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_sections; i++) {
		struct ep_config_section *s = &cfg->sections[i];

		for (size_t j = 0; j < s->n_entries; j++) {
			free(s->entries[j].key);
			free(s->entries[j].value);
		}
		free(s->entries);
		free(s->name);
		free(s->type);
		free(s->instance);
	}
	free(cfg->sections);
	free(cfg->file);
	free(cfg);
}

/* The line on which byte offset `at` lies. */
static int line_of(const char *text, size_t at)
{
	int line = 1;

	for (size_t i = 0; i < at; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

int ep_config_load_string(const char *text, size_t len, const char *name, struct ep_config **ret,
			  char *err, size_t errlen)
{
	struct parser p = {.text = text, .len = len, .cur = -1, .err = err, .errlen = errlen};
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!ret || (!text && len > 0))
		return -EINVAL;
	if (!name)
		name = "<config>";
	if (len > EP_CONFIG_MAX_BYTES) {
		format_err(err, errlen, name, line_of(text, EP_CONFIG_MAX_BYTES), NULL, NULL,
			   "file is larger than %d bytes (the limit is reached on this line; "
			   "shorten the file)",
			   EP_CONFIG_MAX_BYTES);
		return -EFBIG;
	}
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (!p.cfg)
		return -ENOMEM;
	p.cfg->file = strdup(name);
	if (!p.cfg->file) {
		r = -ENOMEM;
		goto out;
	}
	r = ini_parse_stream(reader, &p, handler, &p);
	if (p.rc < 0) {
		r = p.rc;
	} else if (r == -2) {
		format_err(err, errlen, name, 0, NULL, NULL, "out of memory");
		r = -ENOMEM;
	} else if (r != 0) {
		/* inih found a fault the reader let through: still say where */
		format_err(err, errlen, name, r > 0 ? r : 0, NULL, NULL,
			   "syntax error (write '[section]' headers and 'key = value' lines)");
		r = -EINVAL;
	}
out:
	free(p.long_value);
	free(p.scratch);
	if (r < 0) {
		ep_config_free(p.cfg);
		return r;
	}
	*ret = p.cfg;
	return 0;
}

/* For a file over the cap: the line on which the cap is crossed. */
static int line_at_cap(const char *path)
{
	char buf[65536];
	size_t total = 0;
	int fd, line = 1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	while (total < EP_CONFIG_MAX_BYTES) {
		size_t want = EP_CONFIG_MAX_BYTES - total;
		ssize_t n = read(fd, buf, want < sizeof(buf) ? want : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n')
				line++;
		total += (size_t)n;
	}
	close(fd);
	return line;
}

int ep_config_load(const char *path, struct ep_config **ret, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!path || !ret)
		return -EINVAL;
	r = ep_read_file(path, EP_CONFIG_MAX_BYTES, &data, &len);
	if (r == -EFBIG) {
		format_err(err, errlen, path, line_at_cap(path), NULL, NULL,
			   "file is larger than %d bytes (the limit is reached on this line; "
			   "shorten the file)",
			   EP_CONFIG_MAX_BYTES);
		return r;
	}
	if (r < 0) {
		format_err(err, errlen, path, 0, NULL, NULL,
			   "cannot read: %s (check the path and "
			   "its permissions)",
			   strerror(-r));
		return r;
	}
	r = ep_config_load_string(data, len, path, ret, err, errlen);
	free(data);
	return r;
}

const struct ep_config_section *ep_config_find(const struct ep_config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (size_t i = 0; i < cfg->n_sections; i++)
		if (strcmp(cfg->sections[i].name, name) == 0)
			return &cfg->sections[i];
	return NULL;
}

/* ---- typed values ----------------------------------------------------------------- */

static const struct ep_option *find_option(const struct ep_option *opts, const char *key)
{
	for (; opts && opts->key; opts++)
		if (strcmp(opts->key, key) == 0)
			return opts;
	return NULL;
}

static const struct ep_config_entry *find_entry(const struct ep_config_section *s, const char *key)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_entries; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return &s->entries[i];
	return NULL;
}

/* Where a value came from, for messages. */
struct origin {
	const struct ep_config_section *s;
	const struct ep_config_entry *e; /* NULL: the table's default */
	const struct ep_option *o;
};

static void __attribute__((format(printf, 4, 5)))
value_err(const struct origin *w, char *err, size_t errlen, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->e)
		format_err(err, errlen, w->s ? w->s->file : NULL, w->e->line,
			   w->s ? w->s->name : NULL, w->o->key, "%s", msg);
	else
		format_err(err, errlen, "built-in default", 0, w->s ? w->s->name : NULL, w->o->key,
			   "%s (fix the option table)", msg);
}

/* A hint for the classic mistake "interval = 300  # seconds". */
static const char *hash_hint(const char *v)
{
	return strstr(v, " #") || strstr(v, "\t#")
		       ? "; '#' starts a comment only at the start of a line, write ' ;' "
			 "before a comment after a value"
		       : "";
}

/* The value quoted for a message: at most 40 bytes, so that a pasted secret
 * does not land whole in a log. Only numbers, booleans and durations are
 * ever quoted. */
static const char *quoted(const char *v, char *buf, size_t size)
{
	if (strlen(v) > 40)
		(void)ep_snprintf(buf, size, "'%.37s...'", v);
	else
		(void)ep_snprintf(buf, size, "'%s'", v);
	return buf;
}

static void fmt_duration(int64_t v, char *buf, size_t size)
{
	if (v != 0 && v % 86400 == 0)
		(void)ep_snprintf(buf, size, "%lldd", (long long)(v / 86400));
	else if (v != 0 && v % 3600 == 0)
		(void)ep_snprintf(buf, size, "%lldh", (long long)(v / 3600));
	else if (v != 0 && v % 60 == 0)
		(void)ep_snprintf(buf, size, "%lldm", (long long)(v / 60));
	else
		(void)ep_snprintf(buf, size, "%llds", (long long)v);
}

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',';
}

static size_t count_words(const char *v)
{
	size_t n = 0;

	while (*v) {
		while (*v && is_sep(*v))
			v++;
		if (!*v)
			break;
		n++;
		while (*v && !is_sep(*v))
			v++;
	}
	return n;
}

union value {
	int64_t i;
	bool b;
};

/* Parses text as option w->o wants it. 0 or -EINVAL with err filled in. */
static int parse_value(const struct origin *w, const char *text, union value *out, char *err,
		       size_t errlen)
{
	const struct ep_option *o = w->o;
	bool unbounded = o->min == 0 && o->max == 0;
	char q[64], lo[32], hi[32];
	int r;

	switch (o->type) {
	case EP_OPT_STRING: {
		size_t len = strlen(text);

		if (o->max > 0 && (int64_t)len > o->max) {
			value_err(w, err, errlen, "value too long (at most %lld characters)",
				  (long long)o->max);
			return -EINVAL;
		}
		if (o->max > 0 && (int64_t)len < o->min) {
			value_err(w, err, errlen, "value too short (at least %lld characters)",
				  (long long)o->min);
			return -EINVAL;
		}
		return 0;
	}
	case EP_OPT_INT: {
		int64_t min = unbounded ? INT64_MIN : o->min, max = unbounded ? INT64_MAX : o->max;

		r = ep_parse_int64(text, min, max, &out->i);
		if (r == -ERANGE)
			value_err(w, err, errlen,
				  "%s is out of range (use a whole number from %lld to %lld)",
				  quoted(text, q, sizeof(q)), (long long)min, (long long)max);
		else if (r < 0)
			value_err(w, err, errlen,
				  "%s is not a whole number (write digits only, e.g. %lld%s)",
				  quoted(text, q, sizeof(q)), (long long)(min > 0 ? min : 0),
				  hash_hint(text));
		return r < 0 ? -EINVAL : 0;
	}
	case EP_OPT_BOOL:
		if (!strcasecmp(text, "yes") || !strcasecmp(text, "true") ||
		    !strcasecmp(text, "on") || !strcmp(text, "1")) {
			out->b = true;
			return 0;
		}
		if (!strcasecmp(text, "no") || !strcasecmp(text, "false") ||
		    !strcasecmp(text, "off") || !strcmp(text, "0")) {
			out->b = false;
			return 0;
		}
		value_err(w, err, errlen, "%s is not a boolean (write yes or no%s)",
			  quoted(text, q, sizeof(q)), hash_hint(text));
		return -EINVAL;
	case EP_OPT_DURATION: {
		int64_t min = unbounded ? 0 : o->min, max = unbounded ? INT64_MAX : o->max;

		r = ep_parse_duration(text, min, max, &out->i);
		fmt_duration(min, lo, sizeof(lo));
		fmt_duration(max, hi, sizeof(hi));
		if (r == -ERANGE)
			value_err(w, err, errlen,
				  "%s is out of range (use a duration from %s to %s)",
				  quoted(text, q, sizeof(q)), lo, hi);
		else if (r < 0)
			value_err(w, err, errlen,
				  "%s is not a duration (write seconds, or a number followed by s, "
				  "m, "
				  "h or d, e.g. 30s, 5m, 2h, 7d%s)",
				  quoted(text, q, sizeof(q)), hash_hint(text));
		return r < 0 ? -EINVAL : 0;
	}
	case EP_OPT_LIST: {
		size_t n = count_words(text);

		if (o->max > 0 && ((int64_t)n < o->min || (int64_t)n > o->max)) {
			value_err(w, err, errlen,
				  "%zu items (write from %lld to %lld, separated by spaces or "
				  "commas)",
				  n, (long long)o->min, (long long)o->max);
			return -EINVAL;
		}
		return 0;
	}
	}
	value_err(w, err, errlen, "unknown option type %d", (int)o->type);
	return -EINVAL;
}

/* Finds key's option and text. 0, -ENOENT (absent, no default; err says so)
 * or -EINVAL (key not in the table). */
static int lookup(const struct ep_config_section *s, const struct ep_option *opts, const char *key,
		  struct origin *w, const char **ret_text, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	w->s = s;
	w->o = key ? find_option(opts, key) : NULL;
	w->e = NULL;
	if (!w->o) {
		format_err(err, errlen, "internal", 0, s ? s->name : NULL, key,
			   "option is not in the option table (add it to the table)");
		return -EINVAL;
	}
	w->e = find_entry(s, key);
	if (w->e) {
		*ret_text = w->e->value;
		return 0;
	}
	if (!w->o->def) {
		if (s)
			format_err(err, errlen, s->file, s->line, s->name, key,
				   "required option is not set (add '%s = ...' to this section)",
				   key);
		else
			format_err(err, errlen, "config", 0, NULL, key,
				   "required option is not set (add '%s = ...')", key);
		return -ENOENT;
	}
	*ret_text = w->o->def;
	return 0;
}

static int get_typed(const struct ep_config_section *s, const struct ep_option *opts,
		     const char *key, enum ep_option_type type, const char **ret_text,
		     union value *out, char *err, size_t errlen)
{
	struct origin w;
	const char *text;
	int r;

	r = lookup(s, opts, key, &w, &text, err, errlen);
	if (r < 0)
		return r;
	if (w.o->type != type) {
		format_err(err, errlen, "internal", 0, s ? s->name : NULL, key,
			   "option is read with the wrong getter (use the one for its type)");
		return -EINVAL;
	}
	r = parse_value(&w, text, out, err, errlen);
	if (r < 0)
		return r;
	if (ret_text)
		*ret_text = text;
	return 0;
}

int ep_config_get_string(const struct ep_config_section *s, const struct ep_option *opts,
			 const char *key, const char **ret, char *err, size_t errlen)
{
	union value v;
	const char *text;
	int r;

	r = get_typed(s, opts, key, EP_OPT_STRING, &text, &v, err, errlen);
	if (r == 0 && ret)
		*ret = text;
	return r;
}

int ep_config_get_int(const struct ep_config_section *s, const struct ep_option *opts,
		      const char *key, int64_t *ret, char *err, size_t errlen)
{
	union value v;
	int r;

	r = get_typed(s, opts, key, EP_OPT_INT, NULL, &v, err, errlen);
	if (r == 0 && ret)
		*ret = v.i;
	return r;
}

int ep_config_get_bool(const struct ep_config_section *s, const struct ep_option *opts,
		       const char *key, bool *ret, char *err, size_t errlen)
{
	union value v;
	int r;

	r = get_typed(s, opts, key, EP_OPT_BOOL, NULL, &v, err, errlen);
	if (r == 0 && ret)
		*ret = v.b;
	return r;
}

int ep_config_get_duration(const struct ep_config_section *s, const struct ep_option *opts,
			   const char *key, int64_t *ret_seconds, char *err, size_t errlen)
{
	union value v;
	int r;

	r = get_typed(s, opts, key, EP_OPT_DURATION, NULL, &v, err, errlen);
	if (r == 0 && ret_seconds)
		*ret_seconds = v.i;
	return r;
}

int ep_config_get_list(const struct ep_config_section *s, const struct ep_option *opts,
		       const char *key, char ***ret, char *err, size_t errlen)
{
	union value v;
	const char *text, *t;
	size_t n, len;
	char **list, *dst;
	int r;

	r = get_typed(s, opts, key, EP_OPT_LIST, &text, &v, err, errlen);
	if (r < 0)
		return r;
	n = count_words(text);
	len = strlen(text);
	/* pointers, then every word with its NUL (never more than len + n bytes) */
	list = malloc((n + 1) * sizeof(char *) + len + n + 1);
	if (!list)
		return -ENOMEM;
	dst = (char *)(list + n + 1);
	t = text;
	for (size_t i = 0; i < n; i++) {
		size_t wl;

		while (is_sep(*t))
			t++;
		for (wl = 0; t[wl] && !is_sep(t[wl]); wl++)
			;
		memcpy(dst, t, wl);
		dst[wl] = '\0';
		list[i] = dst;
		dst += wl + 1;
		t += wl;
	}
	list[n] = NULL;
	if (ret)
		*ret = list;
	else
		free(list);
	return 0;
}

/* ---- checking a section ------------------------------------------------------------ */

size_t ep_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[KEY_NAME_MAX + 2];

	if (la > KEY_NAME_MAX || lb > KEY_NAME_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static void unknown_key(const struct ep_config_section *s, const struct ep_config_entry *e,
			const struct ep_option *opts, char *err, size_t errlen)
{
	struct ep_buf known;
	const struct ep_option *best = NULL;
	size_t best_d = SIZE_MAX;

	ep_buf_init(&known, 2048);
	for (const struct ep_option *o = opts; o && o->key; o++) {
		size_t d = ep_edit_distance(e->key, o->key);

		if (d < best_d) {
			best_d = d;
			best = o;
		}
		if (ep_buf_printf(&known, "%s%s", known.len ? ", " : "", o->key) < 0)
			break;
	}
	if (!known.data)
		format_err(err, errlen, s->file, e->line, s->name, e->key,
			   "unknown key (this section takes no keys; remove the line)");
	else if (best && best_d <= 2 && best_d < strlen(e->key))
		format_err(err, errlen, s->file, e->line, s->name, e->key,
			   "unknown key (did you mean '%s'? known keys: %s)", best->key,
			   known.data);
	else
		format_err(err, errlen, s->file, e->line, s->name, e->key,
			   "unknown key (known keys: %s)", known.data);
	ep_buf_free(&known);
}

int ep_config_check(const struct ep_config_section *s, const struct ep_option *opts, char *err,
		    size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!s)
		return 0;
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct ep_config_entry *e = &s->entries[i];
		struct origin w = {.s = s, .e = e, .o = find_option(opts, e->key)};
		union value v;

		if (!w.o) {
			unknown_key(s, e, opts, err, errlen);
			return -EINVAL;
		}
		if (parse_value(&w, e->value, &v, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}
