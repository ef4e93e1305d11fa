/* The seam between erpulse-agentd (the small resident supervisor,
 * agent/supervisor/agentd.c) and erpulse-agent (the full binary,
 * agent/daemon.c). docs/agent.md, "Daemon: supervisor and cycle processes".
 *
 * `erpulse-agent run` loads and checks everything, drops root, takes the
 * state lock, then execs erpulse-agentd (same PID: systemd's main process):
 *   erpulse-agentd --agent PATH --config PATH --config-fd N --lock-fd N
 *                  --interval S --jitter S --cap S [--status TEXT] [--deliver-now]
 * For each cycle the supervisor forks and execs the full binary:
 *   erpulse-agent --config PATH _cycle  --config-fd N --status-fd N [--deliver-only]
 *   erpulse-agent --config PATH _reload --config-fd N --status-fd N --new-fd N
 * --config-fd is a memfd holding the configuration as last validated (a
 * broken file on disk never reaches a cycle); the child reads it through
 * /proc/self/fd/N. The child writes lines to --status-fd:
 *   STATUS=last push: ...; spool: N report(s)   (forwarded to sd_notify)
 *   NEXT=MS                                     (next delivery in MS ms; -1 none)
 *   CONF INTERVAL JITTER CAP                    (_reload: the new file is valid
 *                                                and was copied into --new-fd)
 * This header is included by both sides: it pulls in no library. */
#ifndef ERPULSE_AGENT_SUPERVISOR_PROTOCOL_H
#define ERPULSE_AGENT_SUPERVISOR_PROTOCOL_H

#define AGENTD_NAME       "erpulse-agentd"
#define AGENTD_CMD_CYCLE  "_cycle"
#define AGENTD_CMD_RELOAD "_reload"
#define AGENTD_DELIVERY_S 60 /* delivery budget of one cycle process */
/* a cycle process is killed after probe_timeout + this: the delivery budget,
 * one more HTTP request (60 s total timeout) and a margin */
#define AGENTD_CAP_EXTRA_S   (AGENTD_DELIVERY_S + 60 + 30)
#define AGENTD_RELOAD_CAP_S  30
#define AGENTD_TERM_GRACE_MS 3000 /* SIGTERM to a cycle process, then SIGKILL */

/* The heavy side (agent/daemon.c): the hidden _cycle and _reload commands.
 * argv holds the options after the command. Returns an agent_exit code. */
int agent_daemon_child(const char *config_path, const char *cmd, int argc, char **argv);

#endif
