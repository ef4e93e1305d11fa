/* Alert results -> incidents (analysis.h, docs/incidents.md): the analysis
 * step hands each alert change of a report to the incident service, in the
 * ingest transaction. */
#include <math.h>
#include <stddef.h>

#include "collector/analysis/alerts.h"
#include "collector/analysis/analysis.h"
#include "collector/analysis/analysis_int.h"
#include "collector/service/service.h"

int coll_analysis_incident(const struct coll_analysis *an, struct coll_store *s,
			   const char *agent_id, const char *customer_id, int64_t seq,
			   const struct coll_alert_result *a)
{
	enum coll_alert_change change;
	if (!an || !an->service)
		return 0;
	switch (a->action) {
	case COLL_ACTION_RAISE:
		change = COLL_ALERT_RAISED;
		break;
	case COLL_ACTION_CLEAR:
		change = COLL_ALERT_CLEARED;
		break;
	case COLL_ACTION_ESCALATE:
	case COLL_ACTION_DEESCALATE:
		change = COLL_ALERT_UPDATED;
		break;
	default: /* an open alert's new value is the "before" of its fix */
		if (a->open == COLL_LEVEL_NONE || !isfinite(a->value))
			return 0;
		change = COLL_ALERT_UPDATED;
		break;
	}
	struct coll_alert_event e = {
		.change = change,
		.agent_id = agent_id,
		.customer_id = customer_id,
		.rule = coll_result_name(a),
		.object = a->object,
		.severity = coll_alert_level_name(a->level == COLL_LEVEL_NONE ? a->open : a->level),
		.unit = a->unit,
		.message = a->message,
		.value = a->value,
		.report_seq = seq,
		.now = coll_service_now(), /* SLA clocks run on the service clock */
	};
	return coll_service_on_alert(an->service, s, &e);
}

int coll_analysis_incidents(const struct coll_analysis *an, struct coll_store *s,
			    const char *agent_id, const char *customer_id, int64_t seq,
			    const struct coll_alert_results *ar)
{
	int r = 0;
	for (size_t i = 0; r == 0 && ar && i < ar->n; i++)
		r = coll_analysis_incident(an, s, agent_id, customer_id, seq, &ar->items[i]);
	return r;
}
