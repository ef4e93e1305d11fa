/* libFuzzer target for lib/config.c: any bytes -> ep_config_load_string(),
 * then ep_config_check() and every getter on every section. Besides the
 * sanitizers it checks the contract: success means every name and value is
 * NUL-terminated text within the caps; failure means a message that starts
 * with the file name and a line number. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ep_option fuzz_opts[] = {
	{"collector", EP_OPT_STRING, NULL, 0, 0, "a string without default"},
	{"name", EP_OPT_STRING, "x", 1, 16, "a bounded string"},
	{"interval", EP_OPT_DURATION, "300", 10, 86400, "a bounded duration"},
	{"timeout", EP_OPT_DURATION, NULL, 0, 0, "an unbounded duration"},
	{"spool_max_mb", EP_OPT_INT, "64", 1, 4096, "a bounded int"},
	{"offset", EP_OPT_INT, NULL, 0, 0, "an unbounded int"},
	{"verify", EP_OPT_BOOL, "yes", 0, 0, "a boolean"},
	{"paths", EP_OPT_LIST, "", 0, 0, "a list"},
	{"hosts", EP_OPT_LIST, NULL, 1, 3, "a bounded list"},
	{NULL, EP_OPT_STRING, NULL, 0, 0, NULL},
};

static void check_error(const char *err)
{
	/* "fuzz.conf:LINE: ..." or, for whole-file faults, "fuzz.conf: ..." */
	if (strncmp(err, "fuzz.conf:", 10) != 0 && strncmp(err, "built-in default", 16) != 0 &&
	    strncmp(err, "config:", 7) != 0)
		abort();
}

static void run_getters(const struct ep_config_section *s)
{
	char err[512];
	const char *str;
	int64_t i;
	bool b;
	char **list;
	int r;

	err[0] = '\0';
	if (ep_config_check(s, fuzz_opts, err, sizeof(err)) < 0)
		check_error(err);
	for (const struct ep_option *o = fuzz_opts; o->key; o++) {
		switch (o->type) {
		case EP_OPT_STRING:
			r = ep_config_get_string(s, fuzz_opts, o->key, &str, err, sizeof(err));
			if (r == 0 && strlen(str) > EP_CONFIG_MAX_VALUE)
				abort();
			break;
		case EP_OPT_INT:
			r = ep_config_get_int(s, fuzz_opts, o->key, &i, err, sizeof(err));
			if (r == 0 && !(o->min == 0 && o->max == 0) && (i < o->min || i > o->max))
				abort();
			break;
		case EP_OPT_BOOL:
			r = ep_config_get_bool(s, fuzz_opts, o->key, &b, err, sizeof(err));
			break;
		case EP_OPT_DURATION:
			r = ep_config_get_duration(s, fuzz_opts, o->key, &i, err, sizeof(err));
			if (r == 0 && i < 0)
				abort();
			break;
		case EP_OPT_LIST:
			r = ep_config_get_list(s, fuzz_opts, o->key, &list, err, sizeof(err));
			if (r == 0) {
				for (char **p = list; *p; p++)
					if (!**p || strpbrk(*p, " \t,"))
						abort();
				free(list);
			}
			break;
		default:
			r = 0;
		}
		if (r < 0)
			check_error(err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_config *cfg = NULL;
	char err[512];
	int r;

	err[0] = '\0';
	r = ep_config_load_string((const char *)data, size, "fuzz.conf", &cfg, err, sizeof(err));
	if (r < 0) {
		if (cfg || !err[0])
			abort();
		check_error(err);
		return 0;
	}
	if (!cfg || cfg->n_sections > EP_CONFIG_MAX_SECTIONS)
		abort();
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct ep_config_section *s = &cfg->sections[i];

		if (s->n_entries > EP_CONFIG_MAX_KEYS || ep_config_find(cfg, s->name) != s)
			abort();
		for (size_t j = 0; j < s->n_entries; j++)
			if (strlen(s->entries[j].value) > EP_CONFIG_MAX_VALUE ||
			    s->entries[j].line <= s->line)
				abort();
		run_getters(s);
	}
	run_getters(NULL);
	ep_config_free(cfg);
	return 0;
}
