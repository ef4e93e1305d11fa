/* Migration 3 (docs/store.md): incidents, their pauses and SLA events, the
 * append-only audit trail, maintenance windows, the customer's tier and
 * language. Included by schema.c only. AUTO_ID as in SCHEMA_V1; GUARD is
 * the dialect's "audit rows never change" trigger. */
#ifndef COLL_STORE_SCHEMA_INCIDENTS_H
#define COLL_STORE_SCHEMA_INCIDENTS_H

#define SCHEMA_V3(AUTO_ID, GUARD)                                                                  \
	"ALTER TABLE customers ADD COLUMN tier TEXT NOT NULL DEFAULT 'standard';"                  \
	"ALTER TABLE customers ADD COLUMN language TEXT NOT NULL DEFAULT 'en';"                    \
	"CREATE TABLE incidents (id " AUTO_ID ","                                                  \
	" customer_id TEXT NOT NULL REFERENCES customers(id),"                                     \
	" agent_id TEXT NOT NULL REFERENCES agents(id), rule TEXT NOT NULL,"                       \
	" object TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL,"                      \
	" live INTEGER NOT NULL DEFAULT 1, tier TEXT NOT NULL, tier_rank INTEGER NOT NULL,"        \
	" unit TEXT, message TEXT, first_opened_at BIGINT NOT NULL, opened_at BIGINT NOT NULL,"    \
	" updated_at BIGINT NOT NULL, acknowledged_at BIGINT, acknowledged_by TEXT,"               \
	" assignee TEXT, responded_at BIGINT, resolved_at BIGINT, resolved_by TEXT,"               \
	" verified INTEGER NOT NULL DEFAULT 0, first_value DOUBLE PRECISION,"                      \
	" before_value DOUBLE PRECISION, after_value DOUBLE PRECISION, resolved_seq BIGINT,"       \
	" closed_at BIGINT, close_reason TEXT, accepted_until BIGINT, snoozed_until BIGINT,"       \
	" recurrences INTEGER NOT NULL DEFAULT 0, cycle INTEGER NOT NULL DEFAULT 0,"               \
	" level INTEGER NOT NULL DEFAULT 1, breach_at BIGINT, next_event_at BIGINT,"               \
	" triage_at BIGINT, held_event TEXT);"                                                     \
	"CREATE UNIQUE INDEX incidents_live ON incidents(agent_id, rule, object) WHERE live = 1;"  \
	"CREATE INDEX incidents_key ON incidents(agent_id, rule, object, id);"                     \
	"CREATE INDEX incidents_customer ON incidents(customer_id, opened_at);"                    \
	"CREATE INDEX incidents_opened ON incidents(opened_at);"                                   \
	"CREATE INDEX incidents_due ON incidents(next_event_at) WHERE next_event_at IS NOT NULL;"  \
	"CREATE INDEX incidents_triage ON incidents(triage_at) WHERE live = 1;"                    \
	"CREATE TABLE incident_pauses (incident_id BIGINT NOT NULL, kind TEXT NOT NULL,"           \
	" from_at BIGINT NOT NULL, to_at BIGINT, PRIMARY KEY (incident_id, kind, from_at));"       \
	"CREATE TABLE incident_events (incident_id BIGINT NOT NULL, cycle INTEGER NOT NULL,"       \
	" event TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (incident_id, cycle, event));"      \
	"CREATE TABLE audit (id " AUTO_ID ", at BIGINT NOT NULL, actor TEXT NOT NULL,"             \
	" role TEXT NOT NULL, address TEXT, action TEXT NOT NULL, incident_id BIGINT,"             \
	" customer_id TEXT, visibility TEXT NOT NULL DEFAULT 'internal', detail TEXT);"            \
	"CREATE INDEX audit_incident ON audit(incident_id, id);" GUARD                             \
	"CREATE TABLE maintenance_windows (id " AUTO_ID ","                                        \
	" customer_id TEXT NOT NULL REFERENCES customers(id), agent_id TEXT,"                      \
	" weekdays INTEGER NOT NULL DEFAULT 0, start_s INTEGER, duration_s BIGINT,"                \
	" once_from BIGINT, once_to BIGINT, time_zone TEXT, reason TEXT,"                          \
	" created_by TEXT NOT NULL, created_at BIGINT NOT NULL, approved_by TEXT,"                 \
	" approved_at BIGINT);"                                                                    \
	"CREATE INDEX maintenance_customer ON maintenance_windows(customer_id);"

#define SCHEMA_V3_LITE_GUARD                                                                       \
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"                                    \
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"                                 \
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"                                    \
	" BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
#define SCHEMA_V3_PG_GUARD                                                                         \
	"CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"                  \
	" $$ BEGIN RAISE EXCEPTION 'audit is append-only'; END $$;"                                \
	"CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit"                        \
	" FOR EACH ROW EXECUTE PROCEDURE audit_append_only();"

#endif
