/* Generic webhook: {"source":"erpulse","version":1,...every field} (docs/alerts.md). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "collector/notify/channel.h"
#include "collector/notify/notify.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *coll_render_generic(const struct coll_notice *n, const char *title)
{
	json_t *o = json_object();
	char when[32];
	int r = 0;

	if (!o)
		return NULL;
	coll_notice_when(n, when, sizeof(when));
	r |= json_object_set_new(o, "source", json_string("erpulse"));
	r |= json_object_set_new(o, "version", json_integer(1));
	r |= json_object_set_new(o, "id", str_or_null(n->id));
	r |= json_object_set_new(o, "title", json_string(title));
	r |= json_object_set_new(o, "state", json_string(coll_notice_state_name(n->state)));
	r |= json_object_set_new(o, "customer", str_or_null(n->customer));
	r |= json_object_set_new(o, "host", str_or_null(n->host));
	r |= json_object_set_new(o, "rule", str_or_null(n->rule));
	r |= json_object_set_new(o, "object", str_or_null(n->object));
	r |= json_object_set_new(o, "severity", str_or_null(n->severity));
	r |= json_object_set_new(o, "value",
				 isfinite(n->value) ? json_real(n->value) : json_null());
	r |= json_object_set_new(o, "unit", str_or_null(n->unit));
	r |= json_object_set_new(o, "message", str_or_null(n->message));
	r |= json_object_set_new(o, "remediation", str_or_null(n->remediation));
	r |= json_object_set_new(o, "dashboard_url", str_or_null(n->dashboard_url));
	r |= json_object_set_new(o, "at", json_string(when));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}
