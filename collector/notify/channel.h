/* The notice interface's inside (collector/notify/README.md): what the
 * channel files share. Each channel renders one notice into its own body
 * (json_t *, NULL when out of memory); notify.c picks the renderer by
 * enum coll_webhook_format. Not for callers outside collector/notify/: they
 * use notify.h. */
#ifndef COLL_NOTIFY_CHANNEL_H
#define COLL_NOTIFY_CHANNEL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/notify/notify.h"
#include "erpulse/util.h"

/* ---- mail pieces (smtp.c) ---------------------------------------------- */

/* "Subject: ..." with CRLF: plain when printable ASCII, else RFC 2047
 * encoded words (UTF-8, base64), folded. 0 or ep_buf's error. */
int coll_mail_put_subject(struct ep_buf *b, const char *subject);
/* RFC 5322 date of at (now when at <= 0), in UTC. */
void coll_mail_date(int64_t at, char *buf, size_t size);

/* ---- text pieces (notify.c) -------------------------------------------- */

/* s, or def when s is NULL or empty. */
const char *coll_s_or(const char *s, const char *def);
/* "55.0 %", "n/a" (NAN), "never" (infinity). */
void coll_notice_value(const struct coll_notice *n, char *buf, size_t size);
/* n->at (or now) as RFC 3339, "?" when it cannot be formatted. */
void coll_notice_when(const struct coll_notice *n, char *buf, size_t size);
/* Cuts s at a UTF-8 character boundary no later than max bytes. */
void coll_utf8_truncate(char *s, size_t max);
/* key's catalog text in the notice's language (collector/web/i18n.h). */
const char *coll_notice_text(const struct coll_notice *n, const char *key);
/* The severity and the state as words of the notice's language. */
const char *coll_notice_level(const struct coll_notice *n);
const char *coll_notice_state_text(const struct coll_notice *n);
/* The labelled fields every channel lists, in order: customer, host, rule,
 * object, severity, state, value (as given), at (as given). */
#define COLL_NOTICE_FIELDS 8
struct coll_notice_field {
	const char *label, *value;
};
void coll_notice_fields(const struct coll_notice *n, const char *value, const char *when,
			struct coll_notice_field f[COLL_NOTICE_FIELDS]);
/* Markdown body shared by DingTalk and WeCom. malloc'd, NULL when out of memory. */
char *coll_notice_markdown(const struct coll_notice *n, const char *title);

/* ---- one renderer per channel ------------------------------------------ */

json_t *coll_render_generic(const struct coll_notice *n, const char *title);
json_t *coll_render_dingtalk(const struct coll_notice *n, const char *title);
json_t *coll_render_wecom(const struct coll_notice *n, const char *title);
json_t *coll_render_feishu(const struct coll_notice *n, const char *title);
json_t *coll_render_slack(const struct coll_notice *n, const char *title);

/* ---- sending (send.c) --------------------------------------------------- */

void coll_send_result_set(struct coll_send_result *r, enum coll_send_outcome o, const char *fmt,
			  ...) __attribute__((format(printf, 3, 4)));
/* Errors that will not go away by retrying (bad URL, TLS verification, ...). */
bool coll_curl_error_permanent(CURLcode c);
/* Timeouts, TLS verification, no proxy, no redirects: every transfer. */
void coll_send_apply_common(CURL *h, const struct coll_send_opts *o, char *errbuf);

#endif
