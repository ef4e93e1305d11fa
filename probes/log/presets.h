/* Built-in log layouts ("preset = odoo"). docs/probes-host.md shows how to
 * write one: a preset is only default values for the section's options. */
#ifndef PROBE_LOG_PRESETS_H
#define PROBE_LOG_PRESETS_H

#include <stdbool.h>
#include <stddef.h>

struct probe_log_preset {
	const char *name;
	const char *summary;
	const char *header;        /* PCRE2, named groups level and message */
	const char *record_start;  /* PCRE2 or NULL (the header starts records) */
	const char *error_pattern; /* PCRE2 for records without a level, or NULL */
	bool multiline;
	const char *levels; /* extra TOKEN=level mappings, comma-separated, or NULL */
};

/* NULL-terminated (name == NULL) table. */
extern const struct probe_log_preset probe_log_presets[];
const struct probe_log_preset *probe_log_preset_find(const char *name);

struct probe_log_rules;
/* Rules of a preset alone (tests, fuzzing, benchmarks): compiles its patterns
 * into r (initialised with probe_log_rules_init) and finishes it. A NULL
 * error_pattern falls back to dflt_error. 0 or -EINVAL with err. */
int probe_log_rules_from_preset(struct probe_log_rules *r, const struct probe_log_preset *p,
				const char *dflt_error, char *err, size_t errlen);
#endif
