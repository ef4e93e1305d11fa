/* Built-in log layouts. Each header pattern is anchored at the line start,
 * so a line that does not look like the layout's first line (a traceback,
 * "\tat com.foo...", "Caused by: ...") continues the record before it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "probes/log/presets.h"
#include "probes/log/scan.h"

const struct probe_log_preset probe_log_presets[] = {
	{
		/* Odoo: "%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s: %(message)s"
		 * 2026-11-26 21:42:02,123 4242 ERROR erpdb odoo.http: Exception during ... */
		.name = "odoo",
		.summary = "Odoo server log (odoo-server.log / odoo.log)",
		.header = "^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} \\d+ (?<level>[A-Z]+) "
			  "\\S+ (?<message>.*)",
		.multiline = true,
	},
	{
		/* Frappe/ERPNext: frappe.log and scheduler.log "%(asctime)s %(levelname)s
		 * %(name)s %(message)s", gunicorn's web.error.log "[2026-11-26 21:42:02
		 * +0000] [42] [ERROR] ...", and the RQ workers' worker.log /
		 * worker.error.log "%(asctime)s %(message)s" with datefmt %H:%M:%S (no
		 * level: "21:42:02 [Job 3f1c]: exception raised while executing ...",
		 * "Work-horse terminated unexpectedly" are errors by error_pattern). */
		.name = "erpnext",
		.summary = "ERPNext / Frappe logs (frappe.log, scheduler.log, web.error.log, "
			   "worker.log, worker.error.log)",
		.header =
			"^(?|\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\\] \\[\\d+\\] "
			"\\[(?<level>[A-Z]+)\\]|\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} "
			"(?<level>[A-Z]+) \\S+|\\d\\d:\\d\\d:\\d\\d) (?<message>.*)",
		.error_pattern = "Traceback|Exception|exception raised while executing|Work-horse "
				 "terminated",
		.multiline = true,
	},
	{
		/* PostgreSQL, Debian's log_line_prefix '%m [%p] %q%u@%d ':
		 * 2026-11-26 21:42:02.123 UTC [4242] odoo@erpdb ERROR:  duplicate key ... */
		.name = "postgresql",
		.summary =
			"PostgreSQL server log (log_line_prefix starting with %m or %t and [%p])",
		.header =
			"^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)? \\S+ "
			"\\[\\d+\\][^:]*? "
			"(?<level>DEBUG[1-5]|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC|DETAIL|HINT|"
			"QUERY|CONTEXT|LOCATION|STATEMENT):  (?<message>.*)",
		.multiline = true,
	},
	{
		/* MariaDB/MySQL error log:
		 * 2026-11-26 21:42:02 0 [ERROR] InnoDB: ...   (MariaDB 10.x)
		 * 2026-11-26T21:42:02.123456Z 0 [ERROR] [MY-012345] [InnoDB] ...  (MySQL 8)
		 * 261126 21:42:02 [ERROR] ...  (old servers) */
		.name = "mariadb",
		.summary = "MariaDB / MySQL error log",
		.header = "^(?:\\d{4}-\\d\\d-\\d\\d[ T]|\\d{6}\\s+)\\d{1,2}:\\d\\d:\\d\\d\\S*(?: "
			  "\\d+)? "
			  "\\[(?<level>[A-Za-z]+)\\] (?<message>.*)",
		.multiline = true,
		.levels = "Note=info,Warning=warning,System=info",
	},
	{
		/* Log4j / Logback "%d %-5p [%t] %c - %m%n" and "%d [%t] %-5p %c - %m%n",
		 * java.util.logging's SEVERE/WARNING; stack traces continue the record. */
		.name = "java",
		.summary = "Java / Log4j / Logback layouts (iDempiere, Tomcat, ...)",
		.header =
			"^\\d{4}-\\d\\d-\\d\\d[ T]\\d\\d:\\d\\d:\\d\\d[,.]\\d{3}\\S*\\s+"
			"(?:\\[[^\\]]*\\]\\s+)?(?<level>TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|"
			"SEVERE)\\s+(?<message>.*)",
		.multiline = true,
	},
	{
		/* Tryton (trytond), Debian's /etc/tryton/trytond_log.conf:
		 * "%(asctime)s] %(levelname)s:%(name)s:%(message)s", datefmt
		 * "%a %b %d %H:%M:%S %Y":
		 * Sun Dec 06 14:00:28 2026] ERROR:trytond.protocols.dispatcher:<class ...
		 * and upstream's default (no --logconf, trytond/commandline.py):
		 * "%(process)s %(thread)s [%(asctime)s] %(levelname)s %(name)s %(message)s"
		 * 24525 140694912718528 [2026-12-06 14:00:41,037] ERROR trytond.protocols...
		 * Python tracebacks continue the record. */
		.name = "tryton",
		.summary = "Tryton server log (trytond.log: Debian's layout or upstream's default)",
		.header = "^(?|[A-Z][a-z]{2} [A-Z][a-z]{2} \\d\\d \\d\\d:\\d\\d:\\d\\d \\d{4}\\] "
			  "(?<level>[A-Z]+):[^:\\s]*:|\\d+ \\d+ \\[\\d{4}-\\d\\d-\\d\\d "
			  "\\d\\d:\\d\\d:\\d\\d,\\d{3}\\] (?<level>[A-Z]+) \\S+ )(?<message>.*)",
		.multiline = true,
	},
	{
		/* iDempiere / ADempiere CLogFormatter (idempiere.log, CLogFile):
		 * "21:42:02.123 MInvoice.prepareIt: ..." INFO (1 space), CONFIG 3, FINE
		 * 5, FINER 7, FINEST 9 spaces; "21:42:02.123-----------> ..." WARNING;
		 * "21:42:02.123===========> ..." SEVERE (no level token: error_pattern);
		 * exceptions ("...; State=40P01; ErrorCode=0", "\tat ...", "caused
		 * by: ...") continue the record. */
		.name = "idempiere",
		.summary = "iDempiere / ADempiere server log (CLogFormatter: idempiere.log)",
		.header = "^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(?|={11}> |(?<level>-)-{10}> |(?<level> "
			  "+))(?<message>.*)",
		.error_pattern = "===========> ",
		.multiline = true,
		.levels = " =info,   =info,     =debug,       =debug,         =debug,           "
			  "=debug,-=warning",
	},
	{
		/* Dolibarr dolibarr.log (syslog module, file handler):
		 * "2026-11-26 21:42:02 ERR     192.0.2.10      message" (levels EMERG ALERT
		 * CRIT ERR WARNING NOTICE INFO DEBUG, %-7s; older releases %-5s), with
		 * MAIN_SYSLOG_SHOW_DELAY " 0.123" after the time, and from Dolibarr 18
		 * the process id (%7s) and OS user (%6s) after the address. */
		.name = "dolibarr",
		.summary = "Dolibarr log (documents/dolibarr.log)",
		.header = "^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?: \\d+\\.\\d{3})? "
			  "(?<level>EMERG|ALERT|CRIT|ERR|WARNING|NOTICE|INFO|DEBUG) +\\S+ +(?:\\d+ "
			  "+\\S+ )?(?<message>.*)",
		.multiline = true,
	},
	{.name = NULL},
};

const struct probe_log_preset *probe_log_preset_find(const char *name)
{
	for (const struct probe_log_preset *p = probe_log_presets; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	if (strcmp(name, "frappe") == 0)
		return probe_log_preset_find("erpnext");
	if (strcmp(name, "log4j") == 0)
		return probe_log_preset_find("java");
	if (strcmp(name, "mysql") == 0)
		return probe_log_preset_find("mariadb");
	return NULL;
}

int probe_log_rules_from_preset(struct probe_log_rules *r, const struct probe_log_preset *p,
				const char *dflt_error, char *err, size_t errlen)
{
	const char *error = p->error_pattern ? p->error_pattern : dflt_error;

	if ((p->header && probe_log_regex_compile(&r->header, p->header, err, errlen) < 0) ||
	    (p->record_start &&
	     probe_log_regex_compile(&r->record_start, p->record_start, err, errlen) < 0) ||
	    (error && probe_log_regex_compile(&r->error, error, err, errlen) < 0))
		return -EINVAL;
	r->multiline = p->multiline;
	if (p->levels) {
		char spec[64];
		const char *s = p->levels;
		while (*s) {
			size_t k = strcspn(s, ",");
			snprintf(spec, sizeof(spec), "%.*s", (int)k, s);
			if (probe_log_rules_add_level(r, spec, err, errlen) < 0)
				return -EINVAL;
			s += k + (s[k] == ',');
		}
	}
	return probe_log_rules_finish(r, err, errlen);
}
