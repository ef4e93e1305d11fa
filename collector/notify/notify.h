/* Alert notices: rendering (generic JSON, DingTalk, WeCom, Feishu, Slack,
 * RFC 5322 e-mail) and one delivery attempt (webhook over libcurl HTTP(S),
 * mail over libcurl SMTP). docs/alerts.md describes the formats.
 *
 * OWNER: analytics slice (collector/notify.[ch]). The outbox (collector
 * slice) stores the rendered body, claims rows, calls coll_webhook_send /
 * coll_mail_send once per attempt, and uses result.outcome to decide:
 * OK = done, RETRY = back off and try again, PERMANENT = give up (dead row).
 * Nothing here logs or sleeps; each call is bounded by its timeouts.
 * Call curl_global_init(CURL_GLOBAL_DEFAULT) once at start-up. */
#ifndef ERPULSE_COLL_NOTIFY_H
#define ERPULSE_COLL_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

enum coll_notice_state {
	COLL_NOTICE_RAISE,
	COLL_NOTICE_ESCALATE,
	COLL_NOTICE_DEESCALATE,
	COLL_NOTICE_CLEAR,
};
const char *coll_notice_state_name(enum coll_notice_state s); /* "raise"|"escalate"|... */
int coll_notice_state_parse(const char *s, enum coll_notice_state *ret);

/* What a notice says. Strings are borrowed; NULL means absent/empty. */
struct coll_notice {
	const char *host;
	const char *customer;
	const char *rule;     /* "index_fragmentation" */
	const char *object;   /* "odoo/public.sale_order_line_order_id_idx" */
	const char *severity; /* "warning" | "critical" (the level before a clear) */
	double value;         /* NAN = unknown */
	const char *unit;     /* "%", "days", ... */
	const char *message;
	const char *remediation;
	enum coll_notice_state state;
	const char *dashboard_url; /* link to the alert/host, may be NULL */
	int64_t at;                /* when it happened (epoch s) */
	const char *id;            /* stable notice id (outbox row), may be NULL */
	const char *lang;          /* the channel's language: "en" (NULL) | "zh-CN" */
	const char *summary;       /* the title after "[SEV] host: ", written by the analysis in
				      the one number format ("index_fragmentation cleared on x:
				      now 0.0% (was 56.1%) after rebuild"); NULL = from rule,
				      object and value */
};

enum coll_webhook_format {
	COLL_WEBHOOK_GENERIC,
	COLL_WEBHOOK_DINGTALK,
	COLL_WEBHOOK_WECOM,
	COLL_WEBHOOK_FEISHU,
	COLL_WEBHOOK_SLACK,
};
const char *coll_webhook_format_name(enum coll_webhook_format f);
/* "generic" | "dingtalk" | "wecom" | "feishu" | "slack" -> 0, else -EINVAL. */
int coll_webhook_format_parse(const char *s, enum coll_webhook_format *ret);

/* rule as people read it in n->lang: the finding kind's title in a
 * translated notice, the rule's name in English. */
const char *coll_notice_rule_text(const struct coll_notice *n, const char *rule);

/* One-line title, e.g. "[CRITICAL] erp01: index_fragmentation raised on
 * odoo/public.x_idx (55.0 %)". Written into buf; 0 or -ENOSPC (truncated). */
int coll_notice_title(const struct coll_notice *n, char *buf, size_t size);

/* The webhook body for format f (compact JSON, UTF-8). malloc'd, caller
 * frees; NULL on ENOMEM. Generic: {"source":"erpulse","state",...all fields}. */
char *coll_notice_render_webhook(const struct coll_notice *n, enum coll_webhook_format f);

/* A complete RFC 5322 message (CRLF line ends): From, To (comma-separated
 * list as given), Subject (RFC 2047 encoded when not ASCII), Date (from
 * n->at, or now when 0), Message-ID, MIME-Version, Content-Type text/plain
 * UTF-8, Content-Transfer-Encoding 8bit, then the body. malloc'd; caller
 * frees. 0, -EINVAL (header injection: CR/LF in from/to) or -ENOMEM. */
int coll_notice_render_mail(const struct coll_notice *n, const char *from, const char *to,
			    char **ret_message);

enum coll_send_outcome {
	COLL_SEND_OK,        /* delivered (2xx without a chat-API error code / SMTP accepted) */
	COLL_SEND_RETRY,     /* try again later: timeouts, network, HTTP 408/429/5xx, SMTP 4xx */
	COLL_SEND_PERMANENT, /* will never work as is: refused target, bad URL, HTTP 3xx
				(redirects are not followed) and other 4xx, SMTP 5xx */
};
const char *coll_send_outcome_name(enum coll_send_outcome o); /* "ok"|"retry"|"permanent" */

struct coll_send_opts {
	bool allow_private;        /* allow webhook targets in private/loopback/link-local */
	long timeout_ms;           /* whole transfer (default 10000 when 0) */
	long connect_timeout_ms;   /* connect (default 5000 when 0) */
	const char *ca_file;       /* CA bundle for TLS; NULL = system default */
	const char *smtp_user;     /* SMTP auth, may be NULL */
	const char *smtp_password; /* may be NULL */
};

struct coll_send_result {
	enum coll_send_outcome outcome;
	long status;         /* HTTP status, SMTP reply code, or 0 */
	char error[256];     /* what went wrong, empty when OK */
	char primary_ip[64]; /* the address actually connected to, if any */
};

/* POSTs body (Content-Type: application/json) to url (http:// or https://
 * only). The host name is resolved first; unless opts->allow_private, every
 * address must be public, and the connection is pinned to the checked
 * address (CURLOPT_RESOLVE) and checked again after connect
 * (CURLINFO_PRIMARY_IP), so DNS rebinding cannot bypass the check. TLS is
 * verified; redirects are not followed. opts NULL = defaults.
 * Returns 0 when *ret says what happened (including failures), -EINVAL for
 * NULL arguments. */
int coll_webhook_send(const char *url, const char *body, size_t len,
		      const struct coll_send_opts *opts, struct coll_send_result *ret);

/* Sends a rendered message (coll_notice_render_mail) over smtp:// or
 * smtps:// (smtp:// upgrades with STARTTLS when the server offers it,
 * and requires it when smtp_user is set). `to` is a comma-separated list of addresses. No private
 * range check: the SMTP relay is the operator's own. Same return convention
 * as coll_webhook_send. */
int coll_mail_send(const char *smtp_url, const char *from, const char *to, const char *message,
		   const struct coll_send_opts *opts, struct coll_send_result *ret);

/* The monthly report's mail (mail_report.c): multipart/mixed of a
 * multipart/alternative body (text, then the HTML report) and the PDF
 * attached. Strings are borrowed; subject, text and filename are UTF-8. */
struct coll_report_mail {
	const char *from, *to; /* to: comma-separated addresses */
	const char *subject;
	const char *text;
	const unsigned char *html;
	size_t html_len;
	const unsigned char *pdf;
	size_t pdf_len;
	const char *pdf_filename; /* RFC 2231 encoded when not plain ASCII */
	const char *message_id;   /* "id@domain" (stable: a resend is the same message) */
	int64_t at;
};
/* The RFC 5322 message (CRLF lines, 7-bit: bodies in base64) into
 * *ret_message (malloc'd). 0, -EINVAL (CR/LF in an address or the
 * id), -E2BIG (over 64 MiB) or -ENOMEM. */
int coll_report_mail_render(const struct coll_report_mail *m, char **ret_message);

/* An HTTP Content-Disposition value (RFC 6266): "attachment;
 * filename=\"ASCII\"" and, when filename is not plain ASCII, ";
 * filename*=UTF-8''%XX...". *ret malloc'd. 0, -EINVAL (CR/LF in the name)
 * or -ENOMEM. */
int coll_content_disposition(const char *filename, char **ret);

/* True when sa (AF_INET / AF_INET6) lies in a range webhooks must not reach
 * without allow_private: 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12,
 * 192.168/16, 224/4 and up, ::, ::1, fc00::/7, fe80::/10, ff00::/8, and the
 * IPv4-mapped / NAT64 forms of the IPv4 ranges. */
bool coll_addr_is_private(const struct sockaddr *sa);
/* Same for a numeric address text ("10.1.2.3", "::ffff:127.0.0.1").
 * -EINVAL when text is not a numeric address, else 1 (private) or 0. */
int coll_ip_text_is_private(const char *text);

#endif
