/* Logging: sd_journal_send() with structured fields when stderr is connected
 * to the journal (JOURNAL_STREAM) or forced, plain "erpulse-agent: level: msg"
 * lines on stderr otherwise. Library code does not log; main(), the
 * scheduler and request handlers do. Never pass a secret to these. */
#ifndef ERPULSE_LOG_H
#define ERPULSE_LOG_H

#include <stdbool.h>

enum ep_log_level {
	EP_LOG_ERR = 3,
	EP_LOG_WARNING = 4,
	EP_LOG_NOTICE = 5,
	EP_LOG_INFO = 6,
	EP_LOG_DEBUG = 7,
};

enum ep_log_target {
	EP_LOG_AUTO = 0, /* journal if JOURNAL_STREAM matches stderr, else stderr */
	EP_LOG_STDERR,
	EP_LOG_JOURNAL,
};

/* ident: "erpulse-agent" / "erpulse-collector"; messages above max_level are
 * dropped. Safe to call again (reload). */
void ep_log_init(const char *ident, enum ep_log_level max_level, enum ep_log_target target);
void ep_log_set_level(enum ep_log_level max_level);
/* "err", "warning", "notice", "info", "debug" -> level. 0 or -EINVAL. */
int ep_log_level_parse(const char *s, enum ep_log_level *ret);

/* probe may be NULL; it becomes the ERPULSE_PROBE= journal field. */
void ep_log(enum ep_log_level level, const char *probe, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define ep_log_err(...)     ep_log(EP_LOG_ERR, NULL, __VA_ARGS__)
#define ep_log_warning(...) ep_log(EP_LOG_WARNING, NULL, __VA_ARGS__)
#define ep_log_notice(...)  ep_log(EP_LOG_NOTICE, NULL, __VA_ARGS__)
#define ep_log_info(...)    ep_log(EP_LOG_INFO, NULL, __VA_ARGS__)
#define ep_log_debug(...)   ep_log(EP_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
