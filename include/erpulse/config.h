/* INI configuration through inih. A file is a list of sections; a section's
 * name is "type" or "type.instance" ("postgres.erp"). Every section's keys are
 * checked against a table of options (which also documents them): unknown
 * sections and keys are errors, and every error reads
 * "FILE:LINE: [section] key: what is wrong (what to do)". */
#ifndef ERPULSE_CONFIG_H
#define ERPULSE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EP_CONFIG_MAX_BYTES    (1024 * 1024)
#define EP_CONFIG_MAX_SECTIONS 256
#define EP_CONFIG_MAX_KEYS     128 /* per section */
#define EP_CONFIG_MAX_VALUE    4096

enum ep_option_type {
	EP_OPT_STRING,
	EP_OPT_INT,      /* decimal integer within [min, max] */
	EP_OPT_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	EP_OPT_DURATION, /* "300", "30s", "5m", "2h", "7d" -> seconds in [min, max] */
	EP_OPT_LIST,     /* whitespace- or comma-separated words */
};

/* One documented option. Tables end with an entry whose key is NULL. */
struct ep_option {
	const char *key;
	enum ep_option_type type;
	const char *def; /* default as text; NULL = no default (optional, absent) */
	int64_t min, max;
	const char *doc;
};

struct ep_config_entry {
	char *key;
	char *value;
	int line;
};

struct ep_config_section {
	char *name;     /* "postgres.erp" */
	char *type;     /* "postgres" */
	char *instance; /* "erp", or NULL for "[postgres]" */
	int line;
	const char *file; /* points into the owning ep_config */
	size_t n_entries;
	struct ep_config_entry *entries;
};

struct ep_config {
	char *file;
	size_t n_sections;
	struct ep_config_section *sections;
};

/* Loads and parses path (at most EP_CONFIG_MAX_BYTES). Duplicate sections and
 * duplicate keys within a section are errors. On success *ret is the caller's
 * (ep_config_free). 0, -EINVAL (syntax; err says where) or -errno. */
int ep_config_load(const char *path, struct ep_config **ret, char *err, size_t errlen);
/* Same, from memory; name is used in messages in place of a file name. */
int ep_config_load_string(const char *text, size_t len, const char *name, struct ep_config **ret,
			  char *err, size_t errlen);
void ep_config_free(struct ep_config *cfg);

/* First section named exactly name, or NULL. */
const struct ep_config_section *ep_config_find(const struct ep_config *cfg, const char *name);

/* Checks every key of s against opts: unknown keys and values that do not
 * parse as their type or lie outside [min, max] are errors. 0 or -EINVAL. */
int ep_config_check(const struct ep_config_section *s, const struct ep_option *opts, char *err,
		    size_t errlen);

/* Typed getters. The option must be in opts; an absent key yields the
 * table's default (or, with no default, -ENOENT and ret untouched). Range and
 * type errors are -EINVAL with err filled in. s may be NULL (all defaults). */
int ep_config_get_string(const struct ep_config_section *s, const struct ep_option *opts,
			 const char *key, const char **ret, char *err, size_t errlen);
int ep_config_get_int(const struct ep_config_section *s, const struct ep_option *opts,
		      const char *key, int64_t *ret, char *err, size_t errlen);
int ep_config_get_bool(const struct ep_config_section *s, const struct ep_option *opts,
		       const char *key, bool *ret, char *err, size_t errlen);
int ep_config_get_duration(const struct ep_config_section *s, const struct ep_option *opts,
			   const char *key, int64_t *ret_seconds, char *err, size_t errlen);
/* List: *ret is a NULL-terminated array of strings in one allocation the
 * caller frees with free(). */
int ep_config_get_list(const struct ep_config_section *s, const struct ep_option *opts,
		       const char *key, char ***ret, char *err, size_t errlen);

/* Levenshtein distance between two short words (at most 64 bytes each, else
 * SIZE_MAX), for "did you mean" hints. */
size_t ep_edit_distance(const char *a, const char *b);

#endif
