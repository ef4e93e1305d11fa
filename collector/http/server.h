/* The collector's HTTP(S) server on libmicrohttpd (docs/collector.md):
 * enrollment, report ingest with group commit, /healthz, /metrics and the
 * read API, plus its helper threads (batcher, outbox worker, maintenance,
 * deadline reaper). */
#ifndef COLL_SERVER_H
#define COLL_SERVER_H

#include <stddef.h>

#include "collector/settings.h"

struct coll_server;

/* Migrates the store, opens its connections, starts every thread and
 * listens. cfg must outlive the server. 0 or -errno with err. */
int coll_server_start(const struct coll_settings *cfg, struct coll_server **ret, char *err,
		      size_t errlen);
/* The port actually bound (useful with listen = ...:0). */
int coll_server_port(const struct coll_server *srv);
/* Stops listening, answers or fails what is queued, joins threads, frees. */
void coll_server_stop(struct coll_server *srv);

#endif
