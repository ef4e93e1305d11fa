/* The incident, SLA and notify commands of erpulse-collector (cli.c).
 * Each returns the process exit status (0, 1 failure, 2 usage). */
#ifndef COLL_SERVICE_CLI_H
#define COLL_SERVICE_CLI_H

#include "collector/settings.h"
#include "collector/store/store.h"

int coll_cli_customer_tier(const struct coll_settings *cfg, struct coll_store *s,
			   const char *customer, const char *tier);
int coll_cli_incident(const struct coll_settings *cfg, struct coll_store *s, int argc, char **argv);
int coll_cli_sla(const struct coll_settings *cfg, struct coll_store *s, int argc, char **argv);
int coll_cli_maintenance(struct coll_store *s, int argc, char **argv);
int coll_cli_notify_test(const struct coll_settings *cfg, const char *channel);

#endif
