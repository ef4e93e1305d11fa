/* The log probe's user-visible texts, in one place so that translations
 * (zh-CN) can be added beside them. printf formats: each names its
 * arguments in the comment before it. */
#ifndef PROBE_LOG_TEXTS_H
#define PROBE_LOG_TEXTS_H

/* layout ("preset odoo"), lines fitting, lines read, percentage, sample line */
#define LOG_TXT_MISMATCH                                                                           \
	"%s does not fit this log: %" PRIu64 " of %" PRIu64 " lines (%.1f%%) look like its "       \
	"records, so its error count means nothing; a line: \"%s\""
/* preset name, its percentage, the section */
#define LOG_TXT_MISMATCH_FIX "Set preset = %s in [log.%s] (it fits %.0f%% of the lines)"
/* the section */
#define LOG_TXT_MISMATCH_HELP                                                                      \
	"Check preset, header and record_start of [log.%s] against the log (erpulse-agent "        \
	"check-config names a preset that fits, if one does)"
/* path, why */
#define LOG_TXT_UNREADABLE     "cannot read %s: %s"
#define LOG_TXT_UNREADABLE_FIX "Point paths at regular log files the erpulse user can read"
/* layout, path, lines fitting, lines sampled (check-config prefixes the section) */
#define LOG_TXT_CHECK_MISMATCH                                                                     \
	"%s does not fit %s (%" PRIu64 " of %" PRIu64 " sampled lines look like its "              \
	"records)"
/* preset, percentage */
#define LOG_TXT_CHECK_FITS    "; preset %s fits %.0f%% of lines"
#define LOG_TXT_CHECK_NO_FITS "; no built-in preset fits: write a header pattern"
/* path, preset, percentage, preset (no layout set: a hint after "ok") */
#define LOG_TXT_CHECK_HINT                                                                         \
	"no preset or header set, every line of %s counts as a record; preset %s fits %.0f%% of "  \
	"lines (preset = %s counts records by their level)"
/* path */
#define LOG_TXT_CHECK_NOT_REGULAR "%s is not a regular file"

#endif
