/* The monthly report's delivery in the store (migration 7, docs/report.md
 * "Delivery"): per-customer report settings, the stored reports and the
 * send claims. Customer scope is enforced in the queries (store.h). */
#ifndef COLL_STORE_REPORTS_MONTHLY_H
#define COLL_STORE_REPORTS_MONTHLY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/store/store.h"

#define COLL_REPORT_CONTACTS_MAX 2048 /* bytes of the comma-separated list */

/* A customer's report settings; NULL / "" = not set (defaults: UTC, the
 * customer's language, nobody). */
struct coll_report_settings {
	char time_zone[64];
	char language[8];
	char contacts[COLL_REPORT_CONTACTS_MAX];
	char account_manager[256];
};

/* Replaces the fields of settings whose `set` flag is on (bit 0 time_zone,
 * 1 language, 2 contacts, 3 account_manager); "" clears one. -ENOENT when
 * the customer is unknown. */
int coll_store_report_settings_set(struct coll_store *s, const char *customer_id,
				   const struct coll_report_settings *settings, unsigned set,
				   int64_t now);
/* The customer's settings as stored ("" for what is not set). */
int coll_store_report_settings_get(struct coll_store *s, const char *customer_id,
				   struct coll_report_settings *ret);

/* One customer as the scheduler sees it: its settings with the defaults
 * applied (time zone "UTC", language the customer's or "en"). */
struct coll_report_target {
	char id[COLL_ID_SIZE];
	char name[256];
	int64_t created_at;
	struct coll_report_settings settings;
};
/* Every customer that is not archived, by id. *ret malloc'd (free()). */
int coll_store_report_targets(struct coll_store *s, struct coll_report_target **ret, size_t *ret_n);
/* One customer (name or id), as coll_store_report_targets. -ENOENT. */
int coll_store_report_target(struct coll_store *s, const char *name_or_id,
			     struct coll_report_target *ret);

/* Stores (or replaces) one rendered report; format "pdf" | "html". */
int coll_store_report_put(struct coll_store *s, const char *customer_id, const char *month,
			  const char *lang, const char *format, const unsigned char *data,
			  size_t len, int64_t now);
/* [{month, lang, formats: [{format, bytes, sha256, created_at}], created_at,
 *   sent_at, recipients}] of the customer, newest month first; -ENOENT when
 * the customer is out of scope or unknown. */
int coll_store_report_list(struct coll_store *s, const struct coll_scope *scope,
			   const char *customer_id, json_t **ret);
/* One stored report's bytes (malloc'd, the caller frees); lang NULL: the
 * customer's report language, else any stored one. -ENOENT when missing or
 * out of scope. ret_lang (8 bytes) gets the language found. */
int coll_store_report_get(struct coll_store *s, const struct coll_scope *scope,
			  const char *customer_id, const char *month, const char *lang,
			  const char *format, unsigned char **ret, size_t *ret_len,
			  char ret_lang[8]);

/* Deletes the stored reports (and runs) of months before `month`
 * ("YYYY-MM"). *ret_deleted: reports deleted. */
int coll_store_report_expire(struct coll_store *s, const char *month, int64_t *ret_deleted);

/* The send claim of (customer, month): the attempt number (1, 2, ...) when
 * worker now holds it (a new run, or one whose lease ran out and whose retry
 * is due, not sent and not given up), 0 when another holds it or it is
 * done, or -errno. The lease lasts lease_s seconds. */
int coll_store_report_claim(struct coll_store *s, const char *customer_id, const char *month,
			    const char *worker, int64_t now, int64_t lease_s);
/* The claimed run was mailed (recipients "" = nobody to mail: stored only). */
int coll_store_report_sent(struct coll_store *s, const char *customer_id, const char *month,
			   const char *worker, int64_t now, const char *recipients);
/* The claimed run failed: retry at next_at, or give up (dead). */
int coll_store_report_failed(struct coll_store *s, const char *customer_id, const char *month,
			     const char *worker, int64_t next_at, bool dead, const char *error);
/* Forgets the run of (customer, month) so that it may be sent again. */
int coll_store_report_run_reset(struct coll_store *s, const char *customer_id, const char *month);
/* The run's state: "none", "claimed", "sent", "retry" or "dead"; sent_at. */
int coll_store_report_run_state(struct coll_store *s, const char *customer_id, const char *month,
				char ret_state[16], int64_t *ret_sent_at);

#endif
