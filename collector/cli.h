/* Collector commands that live outside main.c (docs/collector.md "Command
 * line"): each takes the loaded settings and an open, migrated store and
 * returns the process exit code (0 ok, 1 failed, 2 usage). */
#ifndef COLL_CLI_H
#define COLL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "collector/settings.h"
#include "collector/store/store.h"

/* import FILE: an agent's export bundle (docs/protocol.md "Bundles") through
 * the same verify -> parse -> commit path as POST /api/v1/reports. */
int coll_cli_import(const struct coll_settings *cfg, struct coll_store *s, int argc, char **argv);

/* user list|revoke|rotate, token list|revoke, customer rename, host
 * production, and the --json listings (customer/agent list).
 * -1 when cmd/argv is none of them (the caller goes on). */
int coll_cli_lifecycle(struct coll_store *s, const char *cmd, int argc, char **argv);

/* report CUSTOMER --month YYYY-MM [--lang L] [--format pdf|html]
 * [--time-zone TZ] [-o FILE]: the monthly report (docs/report.md). */
int coll_cli_report(const struct coll_settings *cfg, struct coll_store *s, int argc, char **argv);

/* scores [--limit N] [--customer C] [--band B] [--after CURSOR] [--json]
 * (cli_scores.c): the whole fleet streamed page by page, or with an option
 * the hosts that are not revoked, filtered, the first N and the next
 * page's cursor. 2 on a bad argument (an unknown customer, a foreign
 * cursor). */
int coll_cli_scores(struct coll_store *s, int argc, char **argv);

/* A listed row's string k (def when absent) and integer k as text ("-"). */
const char *coll_cli_jstr(const json_t *o, const char *k, const char *def);
void coll_cli_jint(const json_t *o, const char *k, char *buf, size_t size);

/* tls init --name HOST [--dir DIR]: a private CA and a server certificate
 * (GnuTLS), never overwriting; prints the agent's ca_file and pin. */
int coll_cli_tls(int argc, char **argv);

/* Run as root on a store owned by another user: refuses (1, with the
 * command to use) rather than creating root-owned files the service then
 * cannot write. 0: go ahead. */
int coll_cli_check_owner(const struct coll_settings *cfg, int argc, char **argv);

/* The monthly report's delivery (cli_report_delivery.c, docs/report.md
 * "Delivery"): cmd is one of
 *   customer report-settings CUSTOMER [timezone=TZ] [language=en|zh-CN]
 *                            [contacts=A,B] [account_manager=M]
 *   report-send CUSTOMER --month YYYY-MM [--again] [--now EPOCH]
 *   report-schedule [--now EPOCH]
 *   report-list CUSTOMER [--json] */
int coll_cli_report_delivery(const struct coll_settings *cfg, struct coll_store *s, const char *cmd,
			     int argc, char **argv);

#endif
