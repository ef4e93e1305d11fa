/* lib/config.c: the INI syntax as inih reads it plus our strictness, every
 * error's "FILE:LINE: [section] key: what (what to do)", the caps, and the
 * typed getters. Files are real temp files where a path matters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "erpulse/config.h"
#include "erpulse/util.h"

static char err[2048];

static struct ep_config *load_ok(const char *text)
{
	struct ep_config *cfg = NULL;
	int r = ep_config_load_string(text, strlen(text), "t.conf", &cfg, err, sizeof(err));

	if (r != 0)
		print_error("unexpected error %d: %s\n", r, err);
	assert_int_equal(r, 0);
	assert_non_null(cfg);
	return cfg;
}

/* Loads len bytes of text, expects rc and an error starting with prefix and
 * containing what (if not NULL). */
static void load_fail_n(const char *text, size_t len, int rc, const char *prefix, const char *what)
{
	struct ep_config *cfg = (struct ep_config *)0x1;
	int r = ep_config_load_string(text, len, "t.conf", &cfg, err, sizeof(err));

	if (r != rc || strncmp(err, prefix, strlen(prefix)) != 0 || (what && !strstr(err, what)))
		print_error("rc %d (want %d), err '%s' (want prefix '%s' and '%s')\n", r, rc, err,
			    prefix, what ? what : "");
	assert_int_equal(r, rc);
	assert_ptr_equal(cfg, (struct ep_config *)0x1); /* untouched on failure */
	assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
	if (what)
		assert_non_null(strstr(err, what));
	/* every message says what to do, in parentheses */
	assert_non_null(strchr(err, '('));
}

static void load_fail(const char *text, int rc, const char *prefix, const char *what)
{
	load_fail_n(text, strlen(text), rc, prefix, what);
}

static const char *value_of(const struct ep_config *cfg, const char *section, const char *key)
{
	const struct ep_config_section *s = ep_config_find(cfg, section);

	assert_non_null(s);
	for (size_t i = 0; i < s->n_entries; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return s->entries[i].value;
	return NULL;
}

/* ---- syntax ------------------------------------------------------------------ */

static void test_basic(void **state)
{
	(void)state;
	struct ep_config *cfg = load_ok("; erpulse agent\n"
					"# another comment\n"
					"\n"
					"[agent]\n"
					"collector = https://c.example:8443/x?a=1;b=2\n"
					"interval=300   ; seconds\n"
					"  state_dir   =   /var/lib/erpulse   \n"
					"note = keep # this\n"
					"url: http://x:1/\n"
					"empty =\n"
					"semi = ;not a value\n"
					"tight=;kept\n"
					"\n"
					"[postgres.erp]\n"
					"conninfo = host=/run/postgresql dbname=odoo\n"
					"[journal]\n"
					"\t[patches] ; on\n");
	const struct ep_config_section *s;

	assert_string_equal(cfg->file, "t.conf");
	assert_int_equal(cfg->n_sections, 4);
	s = &cfg->sections[0];
	assert_string_equal(s->name, "agent");
	assert_string_equal(s->type, "agent");
	assert_null(s->instance);
	assert_int_equal(s->line, 4);
	assert_ptr_equal(s->file, cfg->file);
	assert_int_equal(s->n_entries, 8);
	assert_string_equal(s->entries[0].key, "collector");
	assert_int_equal(s->entries[0].line, 5);
	assert_string_equal(value_of(cfg, "agent", "collector"),
			    "https://c.example:8443/x?a=1;b=2");
	assert_string_equal(value_of(cfg, "agent", "interval"), "300");
	assert_string_equal(value_of(cfg, "agent", "state_dir"), "/var/lib/erpulse");
	/* Debian's inih: '#' is a comment only at the start of a line */
	assert_string_equal(value_of(cfg, "agent", "note"), "keep # this");
	assert_string_equal(value_of(cfg, "agent", "url"), "http://x:1/");
	assert_string_equal(value_of(cfg, "agent", "empty"), "");
	/* ';' starts a comment only after whitespace, as inih does it */
	assert_string_equal(value_of(cfg, "agent", "semi"), "");
	assert_string_equal(value_of(cfg, "agent", "tight"), ";kept");

	s = ep_config_find(cfg, "postgres.erp");
	assert_non_null(s);
	assert_string_equal(s->type, "postgres");
	assert_string_equal(s->instance, "erp");
	assert_int_equal(s->line, 14);
	assert_string_equal(s->entries[0].value, "host=/run/postgresql dbname=odoo");
	/* sections without keys exist (they switch probes on) */
	s = ep_config_find(cfg, "journal");
	assert_non_null(s);
	assert_int_equal(s->n_entries, 0);
	assert_int_equal(s->line, 16);
	s = ep_config_find(cfg, "patches");
	assert_non_null(s);
	assert_int_equal(s->line, 17);
	assert_null(ep_config_find(cfg, "postgres"));
	assert_null(ep_config_find(cfg, "nope"));
	assert_null(ep_config_find(NULL, "agent"));
	ep_config_free(cfg);
	ep_config_free(NULL);
}

static void test_empty(void **state)
{
	(void)state;
	struct ep_config *cfg = load_ok("");

	assert_int_equal(cfg->n_sections, 0);
	ep_config_free(cfg);
	cfg = load_ok("\n\n   \n; only comments\n# here\n\t\n");
	assert_int_equal(cfg->n_sections, 0);
	ep_config_free(cfg);
	cfg = NULL;
	assert_int_equal(ep_config_load_string(NULL, 0, NULL, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_sections, 0);
	assert_string_equal(cfg->file, "<config>");
	ep_config_free(cfg);
}

static void test_malformed(void **state)
{
	(void)state;
	load_fail("[agent]\ninterval = 3\n[postgres.erp\nx = 1\n", -EINVAL,
		  "t.conf:3: ", "missing ']'");
	load_fail("[agent]\ninterval = 3\njust some words\n", -EINVAL,
		  "t.conf:3: [agent]: ", "expected 'key = value'");
	load_fail("hello\n[agent]\n", -EINVAL, "t.conf:1: ", "text outside any section");
	load_fail("\n\ninterval = 300\n[agent]\n", -EINVAL,
		  "t.conf:3: interval: ", "key outside any section");
	/* continuation lines are not values */
	load_fail("[agent]\ncollector = https://x\n  more\n", -EINVAL,
		  "t.conf:3: [agent]: ", "cannot continue");
	load_fail("[a b]\n", -EINVAL, "t.conf:1: ", "invalid section name 'a b'");
	load_fail("\n[]\n", -EINVAL, "t.conf:2: ", "invalid section name ''");
	load_fail("[a.b.c]\n", -EINVAL, "t.conf:1: ", "invalid section name");
	load_fail("[.x]\n", -EINVAL, "t.conf:1: ", "invalid section name");
	load_fail("[x.]\n", -EINVAL, "t.conf:1: ", "invalid section name");
	load_fail("[ agent ]\n", -EINVAL, "t.conf:1: ", "no spaces");
	load_fail("[agent] interval = 5\n", -EINVAL, "t.conf:1: [agent]: ", "after ']'");
	load_fail("[agent]\n= 5\n", -EINVAL, "t.conf:2: [agent]: ", "invalid key name");
	load_fail("[agent]\nmy key = 5\n", -EINVAL, "t.conf:2: [agent]: ", "invalid key name");
	/* ';' after a blank before '=' comments out the '=' */
	load_fail("[agent]\nkey ; = 5\n", -EINVAL, "t.conf:2: [agent]: ", "expected");
}

static void test_duplicates(void **state)
{
	(void)state;
	load_fail("[agent]\ninterval = 1\nstate_dir = /x\ninterval = 2\n", -EINVAL,
		  "t.conf:4: [agent] interval: ", "duplicate key, first set at line 2");
	load_fail("[agent]\na = 1\n[log.odoo]\n[agent]\n", -EINVAL,
		  "t.conf:4: [agent]: ", "duplicate section, first defined at line 1");
	/* same key in different sections is fine, so are the same type and two instances */
	struct ep_config *cfg = load_ok("[a]\nk = 1\n[b]\nk = 2\n[log.x]\n[log.y]\n[log]\n");

	assert_int_equal(cfg->n_sections, 5);
	assert_string_equal(value_of(cfg, "b", "k"), "2");
	ep_config_free(cfg);
}

static void test_crlf_bom(void **state)
{
	(void)state;
	struct ep_config *cfg =
		load_ok("\xEF\xBB\xBF[agent]\r\ninterval = 300\r\n\r\n[journal]\r\nx = a b \r\n");

	assert_int_equal(cfg->n_sections, 2);
	assert_string_equal(cfg->sections[0].name, "agent");
	assert_string_equal(value_of(cfg, "agent", "interval"), "300");
	assert_string_equal(value_of(cfg, "journal", "x"), "a b");
	assert_int_equal(cfg->sections[1].line, 4);
	assert_int_equal(cfg->sections[1].entries[0].line, 5);
	ep_config_free(cfg);
	/* line numbers stay right in CRLF files */
	load_fail("[agent]\r\na = 1\r\nb\r\n", -EINVAL, "t.conf:3: [agent]: ", "expected");
	/* a BOM anywhere but at the start is text */
	load_fail("[agent]\n\xEF\xBB\xBF[x]\n", -EINVAL, "t.conf:2: [agent]: ", NULL);
	/* no trailing newline */
	cfg = load_ok("[a]\nk = v");
	assert_string_equal(value_of(cfg, "a", "k"), "v");
	ep_config_free(cfg);
}

static void test_bad_bytes(void **state)
{
	(void)state;
	static const char nul[] = "[a]\nk = v\0x\n";

	load_fail_n(nul, sizeof(nul) - 1, -EINVAL, "t.conf:2: ", "control character 0x00");
	load_fail("[a]\nk = v\rw\n", -EINVAL, "t.conf:2: ", "control character 0x0d");
	load_fail("[a]\n\nk = \x1b[31mred\n", -EINVAL, "t.conf:3: ", "control character 0x1b");
	load_fail("[a]\nk = \xff\xfe\n", -EINVAL, "t.conf:2: ", "not valid UTF-8");
	load_fail("[a]\nk = \xc0\xaf\n", -EINVAL, "t.conf:2: ", "not valid UTF-8");
	/* tabs and real UTF-8 are fine */
	struct ep_config *cfg = load_ok("[a]\nk =\tGröße\t東京 x\n");

	assert_string_equal(value_of(cfg, "a", "k"), "Größe\t東京 x");
	ep_config_free(cfg);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_long_lines(void **state)
{
	(void)state;
	struct ep_buf b;
	struct ep_config *cfg;
	char *v = repeat('v', EP_CONFIG_MAX_VALUE);
	char *c = repeat('c', 10000);

	/* a value of exactly the maximum, a 10000-byte comment, both kept whole */
	ep_buf_init(&b, 100000);
	assert_int_equal(ep_buf_printf(&b, "[a]\n; %s\nk = %s\nafter = 1\n", c, v), 0);
	cfg = load_ok(b.data);
	assert_string_equal(value_of(cfg, "a", "k"), v);
	assert_string_equal(value_of(cfg, "a", "after"), "1");
	assert_int_equal(cfg->sections[0].entries[1].line, 4);
	ep_config_free(cfg);

	/* one byte more is an error on its line */
	ep_buf_reset(&b);
	assert_int_equal(ep_buf_printf(&b, "[a]\n\nk = %sx\n", v), 0);
	load_fail(b.data, -E2BIG, "t.conf:3: [a] k: ", "value too long");

	/* long and short lines give the same value: inline comments, blanks */
	static const char *const forms[] = {
		"k = plain", "k=;x", "k = ;x", "k = a;b", "k = a ;b", "k:\tv w ", "k = #x", "k =",
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char *short_v, *long_v;

		ep_buf_reset(&b);
		assert_int_equal(ep_buf_printf(&b, "[a]\n%s\n", forms[i]), 0);
		cfg = load_ok(b.data);
		short_v = strdup(value_of(cfg, "a", "k"));
		ep_config_free(cfg);
		ep_buf_reset(&b);
		/* the trailing comment makes the line longer than inih's buffer */
		assert_int_equal(ep_buf_printf(&b, "[a]\n%s ; %s\n", forms[i], c), 0);
		cfg = load_ok(b.data);
		long_v = strdup(value_of(cfg, "a", "k"));
		ep_config_free(cfg);
		assert_string_equal(short_v, long_v);
		free(short_v);
		free(long_v);
	}

	/* names: too long sections and keys */
	ep_buf_reset(&b);
	assert_int_equal(ep_buf_printf(&b, "[%.49s]\n", c), 0);
	load_fail(b.data, -E2BIG, "t.conf:1: ", "section name too long");
	ep_buf_reset(&b);
	assert_int_equal(ep_buf_printf(&b, "[%.48s]\n", c), 0);
	cfg = load_ok(b.data);
	ep_config_free(cfg);
	ep_buf_reset(&b);
	assert_int_equal(ep_buf_printf(&b, "[a]\n%.65s = 1\n", c), 0);
	load_fail(b.data, -E2BIG, "t.conf:2: [a]: ", "key name too long");
	ep_buf_reset(&b);
	assert_int_equal(ep_buf_printf(&b, "[a]\n%.300s = 1\n", c), 0);
	load_fail(b.data, -E2BIG, "t.conf:2: [a]: ", "key name too long");
	ep_buf_reset(&b);
	assert_int_equal(ep_buf_printf(&b, "[a]\n%.5000s\n", c), 0);
	load_fail(b.data, -EINVAL, "t.conf:2: [a]: ", "expected");
	ep_buf_free(&b);
	free(v);
	free(c);
}

static void test_caps(void **state)
{
	(void)state;
	struct ep_buf b;
	struct ep_config *cfg;
	char *big;

	ep_buf_init(&b, 1 << 20);
	for (int i = 0; i < EP_CONFIG_MAX_SECTIONS; i++)
		assert_int_equal(ep_buf_printf(&b, "[s%d]\n", i), 0);
	cfg = load_ok(b.data);
	assert_int_equal(cfg->n_sections, EP_CONFIG_MAX_SECTIONS);
	ep_config_free(cfg);
	assert_int_equal(ep_buf_printf(&b, "[one_more]\n"), 0);
	load_fail(b.data, -E2BIG, "t.conf:257: [one_more]: ", "too many sections");

	ep_buf_reset(&b);
	assert_int_equal(ep_buf_printf(&b, "[a]\n"), 0);
	for (int i = 0; i < EP_CONFIG_MAX_KEYS; i++)
		assert_int_equal(ep_buf_printf(&b, "k%d = %d\n", i, i), 0);
	cfg = load_ok(b.data);
	assert_int_equal(cfg->sections[0].n_entries, EP_CONFIG_MAX_KEYS);
	assert_string_equal(cfg->sections[0].entries[127].value, "127");
	ep_config_free(cfg);
	assert_int_equal(ep_buf_printf(&b, "k_more = 1\n"), 0);
	load_fail(b.data, -E2BIG, "t.conf:130: [a] k_more: ", "too many keys");
	ep_buf_free(&b);

	/* more than EP_CONFIG_MAX_BYTES: refused before parsing, with the line */
	big = malloc(EP_CONFIG_MAX_BYTES + 2);
	assert_non_null(big);
	memset(big, ';', EP_CONFIG_MAX_BYTES + 1);
	for (size_t i = 99; i < EP_CONFIG_MAX_BYTES + 1; i += 100)
		big[i] = '\n';
	big[EP_CONFIG_MAX_BYTES + 1] = '\0';
	/* exactly the cap parses (all comments) */
	assert_int_equal(
		ep_config_load_string(big, EP_CONFIG_MAX_BYTES, "t.conf", &cfg, err, sizeof(err)),
		0);
	ep_config_free(cfg);
	load_fail_n(big, EP_CONFIG_MAX_BYTES + 1, -EFBIG, "t.conf:10486: ", "larger than 1048576");
	free(big);
}

/* ---- files ---------------------------------------------------------------------- */

static char *write_temp(const char *data, size_t len)
{
	char *path = strdup("/tmp/test_config.XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_files(void **state)
{
	(void)state;
	struct ep_config *cfg = NULL;
	char prefix[256];
	const char *text = "[agent]\ninterval = 5m\n\n[log.odoo]\npaths = /a /b\nbad\n";
	char *path = write_temp(text, strlen(text));
	char *big;

	assert_int_equal(ep_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	assert_null(cfg);
	snprintf(prefix, sizeof(prefix), "%s:6: [log.odoo]: ", path);
	assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
	unlink(path);
	free(path);

	path = write_temp(text, strlen(text) - 4);
	assert_int_equal(ep_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->file, path);
	assert_string_equal(ep_config_find(cfg, "log.odoo")->file, path);
	ep_config_free(cfg);
	unlink(path);

	cfg = NULL;
	assert_int_equal(ep_config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	assert_null(cfg);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
	free(path);

	/* a file over the cap: -EFBIG naming the line where the cap is crossed */
	big = malloc(EP_CONFIG_MAX_BYTES + 10);
	assert_non_null(big);
	memcpy(big, "[a]\n", 4);
	memset(big + 4, '#', EP_CONFIG_MAX_BYTES + 6);
	big[1000] = '\n';
	path = write_temp(big, EP_CONFIG_MAX_BYTES + 10);
	assert_int_equal(ep_config_load(path, &cfg, err, sizeof(err)), -EFBIG);
	snprintf(prefix, sizeof(prefix), "%s:3: ", path);
	assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
	assert_non_null(strstr(err, "larger than"));
	unlink(path);
	free(path);
	free(big);
}

/* ---- typed values ----------------------------------------------------------------- */

static const struct ep_option opts[] = {
	{"collector", EP_OPT_STRING, NULL, 0, 0, "collector URL"},
	{"name", EP_OPT_STRING, "erp", 2, 8, "a short name"},
	{"interval", EP_OPT_DURATION, "300", 10, 86400, "push interval"},
	{"timeout", EP_OPT_DURATION, "30s", 0, 0, "unbounded duration"},
	{"spool_max_mb", EP_OPT_INT, "64", 1, 4096, "spool size"},
	{"offset", EP_OPT_INT, "-5", 0, 0, "unbounded int"},
	{"verify", EP_OPT_BOOL, "yes", 0, 0, "verify TLS"},
	{"paths", EP_OPT_LIST, "/var/log/a.log", 0, 0, "globs"},
	{"hosts", EP_OPT_LIST, NULL, 1, 3, "1..3 hosts"},
	{"bad_default", EP_OPT_INT, "lots", 0, 10, "broken table entry"},
	{NULL, EP_OPT_STRING, NULL, 0, 0, NULL},
};

static void test_defaults(void **state)
{
	(void)state;
	const char *s = NULL;
	int64_t i = 0;
	bool b = false;
	char **list = NULL;

	/* no section at all: every default */
	assert_int_equal(ep_config_get_duration(NULL, opts, "interval", &i, err, sizeof(err)), 0);
	assert_int_equal(i, 300);
	assert_int_equal(ep_config_get_duration(NULL, opts, "timeout", &i, err, sizeof(err)), 0);
	assert_int_equal(i, 30);
	assert_int_equal(ep_config_get_int(NULL, opts, "spool_max_mb", &i, err, sizeof(err)), 0);
	assert_int_equal(i, 64);
	assert_int_equal(ep_config_get_int(NULL, opts, "offset", &i, err, sizeof(err)), 0);
	assert_int_equal(i, -5);
	assert_int_equal(ep_config_get_bool(NULL, opts, "verify", &b, err, sizeof(err)), 0);
	assert_true(b);
	assert_int_equal(ep_config_get_string(NULL, opts, "name", &s, err, sizeof(err)), 0);
	assert_string_equal(s, "erp");
	assert_int_equal(ep_config_get_list(NULL, opts, "paths", &list, err, sizeof(err)), 0);
	assert_string_equal(list[0], "/var/log/a.log");
	assert_null(list[1]);
	free(list);

	/* no default: -ENOENT, ret untouched */
	s = "untouched";
	assert_int_equal(ep_config_get_string(NULL, opts, "collector", &s, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(s, "untouched");
	assert_non_null(strstr(err, "collector: required option is not set"));
	list = (char **)0x1;
	assert_int_equal(ep_config_get_list(NULL, opts, "hosts", &list, err, sizeof(err)), -ENOENT);
	assert_ptr_equal(list, (char **)0x1);

	/* programming errors */
	assert_int_equal(ep_config_get_int(NULL, opts, "nope", &i, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not in the option table"));
	assert_int_equal(ep_config_get_int(NULL, opts, "verify", &i, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "wrong getter"));
	assert_int_equal(ep_config_get_int(NULL, opts, "bad_default", &i, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "built-in default: bad_default: 'lots' is not a whole number"));
}

static void test_getters(void **state)
{
	(void)state;
	struct ep_config *cfg = load_ok("[agent]\n"
					"collector = https://c:8443\n"
					"interval = 5m\n"
					"spool_max_mb = 128\n"
					"verify = Off\n"
					"paths = /a/*.log, /b/x.log\t/c ,, /d\n"
					"hosts = a\n"
					"offset = -9000000000\n"
					"name = ab\n"
					"[other]\n"
					"collector = https://d\n");
	const struct ep_config_section *s = ep_config_find(cfg, "agent");
	const char *str = NULL;
	int64_t i = 0;
	bool b = true;
	char **list = NULL;

	assert_int_equal(ep_config_get_string(s, opts, "collector", &str, err, sizeof(err)), 0);
	assert_string_equal(str, "https://c:8443");
	assert_int_equal(ep_config_get_string(ep_config_find(cfg, "other"), opts, "collector", &str,
					      err, sizeof(err)),
			 0);
	assert_string_equal(str, "https://d");
	assert_int_equal(ep_config_get_duration(s, opts, "interval", &i, err, sizeof(err)), 0);
	assert_int_equal(i, 300);
	assert_int_equal(ep_config_get_int(s, opts, "spool_max_mb", &i, err, sizeof(err)), 0);
	assert_int_equal(i, 128);
	assert_int_equal(ep_config_get_int(s, opts, "offset", &i, err, sizeof(err)), 0);
	assert_true(i == -9000000000LL);
	assert_int_equal(ep_config_get_bool(s, opts, "verify", &b, err, sizeof(err)), 0);
	assert_false(b);
	assert_int_equal(ep_config_get_list(s, opts, "paths", &list, err, sizeof(err)), 0);
	assert_string_equal(list[0], "/a/*.log");
	assert_string_equal(list[1], "/b/x.log");
	assert_string_equal(list[2], "/c");
	assert_string_equal(list[3], "/d");
	assert_null(list[4]);
	free(list);
	assert_int_equal(ep_config_get_list(s, opts, "hosts", &list, err, sizeof(err)), 0);
	assert_string_equal(list[0], "a");
	assert_null(list[1]);
	free(list);
	assert_int_equal(ep_config_get_string(s, opts, "name", &str, err, sizeof(err)), 0);
	assert_string_equal(str, "ab");
	assert_int_equal(ep_config_check(s, opts, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	ep_config_free(cfg);
}

/* Parses "[agent]\n\nKEY = VALUE\n" and reads KEY with its getter: expects
 * -EINVAL and "t.conf:3: [agent] KEY: " + what. */
static void bad_value(const char *key, const char *value, const char *what)
{
	char text[512], prefix[128];
	struct ep_config *cfg;
	const struct ep_config_section *s;
	const struct ep_option *o;
	union {
		int64_t i;
		bool b;
		const char *s;
		char **l;
	} out;
	int r = 0;

	snprintf(text, sizeof(text), "[agent]\n\n%s = %s\n", key, value);
	cfg = load_ok(text);
	s = ep_config_find(cfg, "agent");
	for (o = opts; strcmp(o->key, key) != 0; o++)
		;
	switch (o->type) {
	case EP_OPT_STRING:
		r = ep_config_get_string(s, opts, key, &out.s, err, sizeof(err));
		break;
	case EP_OPT_INT:
		r = ep_config_get_int(s, opts, key, &out.i, err, sizeof(err));
		break;
	case EP_OPT_BOOL:
		r = ep_config_get_bool(s, opts, key, &out.b, err, sizeof(err));
		break;
	case EP_OPT_DURATION:
		r = ep_config_get_duration(s, opts, key, &out.i, err, sizeof(err));
		break;
	case EP_OPT_LIST:
		r = ep_config_get_list(s, opts, key, &out.l, err, sizeof(err));
		break;
	}
	snprintf(prefix, sizeof(prefix), "t.conf:3: [agent] %s: ", key);
	if (r != -EINVAL || strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what))
		print_error("%s = %s: rc %d, err '%s'\n", key, value, r, err);
	assert_int_equal(r, -EINVAL);
	assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
	assert_non_null(strstr(err, what));
	assert_non_null(strchr(err, '('));
	/* ep_config_check says the same */
	err[0] = '\0';
	assert_int_equal(ep_config_check(s, opts, err, sizeof(err)), -EINVAL);
	assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
	ep_config_free(cfg);
}

static void test_bad_values(void **state)
{
	(void)state;
	bad_value("spool_max_mb", "5x", "'5x' is not a whole number");
	bad_value("spool_max_mb", "", "'' is not a whole number");
	bad_value("spool_max_mb", "1.5", "not a whole number");
	bad_value("spool_max_mb", "0", "'0' is out of range (use a whole number from 1 to 4096)");
	bad_value("spool_max_mb", "4097", "out of range");
	bad_value("spool_max_mb", "99999999999999999999999", "out of range");
	bad_value("spool_max_mb", "64  # megabytes", "'#' starts a comment only at the start");
	bad_value("offset", "12 34", "not a whole number");
	bad_value("verify", "maybe", "'maybe' is not a boolean (write yes or no");
	bad_value("verify", "2", "not a boolean");
	bad_value("interval", "5x", "'5x' is not a duration");
	bad_value("interval", "-5", "not a duration");
	bad_value("interval", "5 m", "not a duration");
	bad_value("interval", "9s", "'9s' is out of range (use a duration from 10s to 1d)");
	bad_value("interval", "2d", "out of range");
	bad_value("interval", "300 # seconds", "not a duration (write seconds");
	bad_value("timeout", "99999999999999999999d", "out of range");
	bad_value("name", "a", "value too short (at least 2");
	bad_value("name", "abcdefghi", "value too long (at most 8");
	bad_value("hosts", "a b c d", "4 items (write from 1 to 3");
	bad_value("hosts", ",", "0 items");
	/* a long value is not quoted whole */
	bad_value("verify", "0123456789012345678901234567890123456789012345678901234567890",
		  "'0123456789012345678901234567890123456...' is not a boolean");
}

static void test_good_values(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		bool b;
	} bools[] = {{"yes", true}, {"YES", true},    {"true", true}, {"On", true}, {"1", true},
		     {"no", false}, {"False", false}, {"off", false}, {"0", false}};
	static const struct {
		const char *text;
		int64_t s;
	} durations[] = {{"300", 300}, {"30s", 30},   {"5m", 300},
			 {"2h", 7200}, {"1d", 86400}, {"10", 10}};
	char text[128];

	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		struct ep_config *cfg;
		bool b = !bools[i].b;

		snprintf(text, sizeof(text), "[x]\nverify = %s\n", bools[i].text);
		cfg = load_ok(text);
		assert_int_equal(
			ep_config_get_bool(&cfg->sections[0], opts, "verify", &b, err, sizeof(err)),
			0);
		assert_int_equal(b, bools[i].b);
		ep_config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		struct ep_config *cfg;
		int64_t v = -1;

		snprintf(text, sizeof(text), "[x]\ninterval = %s ; comment\ntimeout = 7d\n",
			 durations[i].text);
		cfg = load_ok(text);
		assert_int_equal(ep_config_get_duration(&cfg->sections[0], opts, "interval", &v,
							err, sizeof(err)),
				 0);
		assert_int_equal(v, durations[i].s);
		assert_int_equal(ep_config_get_duration(&cfg->sections[0], opts, "timeout", &v, err,
							sizeof(err)),
				 0);
		assert_int_equal(v, 7 * 86400);
		ep_config_free(cfg);
	}
}

static const struct ep_option agent_opts[] = {
	{"collector", EP_OPT_STRING, NULL, 0, 0, "collector URL"},
	{"interval", EP_OPT_DURATION, "300", 10, 86400, "push interval"},
	{"state_dir", EP_OPT_STRING, "/var/lib/erpulse", 0, 0, "state directory"},
	{NULL, EP_OPT_STRING, NULL, 0, 0, NULL},
};

static void test_check(void **state)
{
	(void)state;
	static const struct ep_option none[] = {{NULL, EP_OPT_STRING, NULL, 0, 0, NULL}};
	struct ep_config *cfg = load_ok("[agent]\n"
					"collector = https://x\n"
					"intervall = 300\n"
					"[agent.two]\n"
					"collector = https://x\n"
					"zzz = 1\n"
					"[journal]\n"
					"[disk]\n"
					"x = 1\n");

	assert_int_equal(
		ep_config_check(ep_config_find(cfg, "agent"), agent_opts, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "t.conf:3: [agent] intervall: unknown key (did you mean "
				 "'interval'? known keys: collector, interval, state_dir)");
	assert_int_equal(
		ep_config_check(ep_config_find(cfg, "agent.two"), agent_opts, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "t.conf:6: [agent.two] zzz: unknown key (known keys: collector, "
				 "interval, state_dir)");
	assert_int_equal(ep_config_check(ep_config_find(cfg, "journal"), none, err, sizeof(err)),
			 0);
	assert_int_equal(ep_config_check(ep_config_find(cfg, "disk"), none, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.conf:9: [disk] x: unknown key (this section takes no keys; "
				 "remove the line)");
	assert_int_equal(ep_config_check(NULL, agent_opts, err, sizeof(err)), 0);
	/* err may be NULL */
	assert_int_equal(ep_config_check(ep_config_find(cfg, "disk"), none, NULL, 0), -EINVAL);
	ep_config_free(cfg);
}

static void test_small_err_buffer(void **state)
{
	(void)state;
	struct ep_config *cfg = NULL;
	char small[12];

	assert_int_equal(ep_config_load_string("[a\n", 3, "a-long-file-name.conf", &cfg, small,
					       sizeof(small)),
			 -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(ep_config_load_string("[a\n", 3, "x", &cfg, NULL, 0), -EINVAL);
	assert_null(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_crlf_bom),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_good_values),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_small_err_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
