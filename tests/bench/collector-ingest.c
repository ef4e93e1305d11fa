/* collector-ingest: load generator for erpulse-collector (issue item 11).
 * Enrolls N agents with real Ed25519 keys, pre-builds and signs ~4 KiB
 * erpulse.report.v1 bodies (lib/report.c, lib/crypto.c), then posts them
 * over loopback with libcurl multi (C connections, keep-alive), each agent's
 * reports in seq order and one at a time, as real agents do. Prints the
 * accepted reports/s and p50/p99 latency, libsodium's raw verify rate for
 * the same size measured in this run, and -- with --hook-port -- the latency
 * from a triggering report to its webhook notice (a built-in receiver).
 *
 *   collector-ingest --url URL[,URL2...] --token TOKEN [--agents 256]
 *                    [--reports 40] [--concurrency 64] [--hook-port PORT]
 *                    [--triggers 4] [--label sqlite] [--pid PID[,PID2...]]
 * --ids-file F --wait-file W: after enrollment, writes the agents' ids to F
 * (one a line) and waits until W exists (the caller gives them history).
 * --clock-file F --step S: the agents report in rounds S seconds apart on
 * the collector's clock: F (the collector's ERPULSE_TEST_INGEST_CLOCK_FILE)
 * holds the epoch second start + k * S while round k is sent, so that what
 * the collector does once per interval (history samples, forecast refits)
 * happens at its real rate and not once per run. Round k starts as soon as
 * every agent's report k-1 has been SENT (an agent still sends one report
 * at a time): a fleet's agents report spread over the interval, never all
 * waiting for the slowest answer, so there is no barrier draining the
 * collector's pipeline between rounds (session 4's rounds waited for every
 * answer: 1,167 reports/s against 2,353 on the wall clock). A report still
 * in flight when the clock moves is received up to S later; each report is
 * generated at start + k * S + S / 2, so the agent's clock is off by S / 2
 * either way (150 s at S = 300, under the clock-skew alert's 300 s).
 * --template FILE: every report is FILE (a real report, e.g. `erpulse-agent
 * once --print`: tests/bench/real-report.json is one of an Odoo host, 19 KB)
 * with the agent's id, seq, generated_at and host set, instead of the
 * built-in ~4 KiB body (--triggers then does nothing).
 * Several URLs: collectors over one store; agent i enrolls with and reports
 * to URL i mod n, over the connections of its URL's slots (slot s: URL s mod
 * n; --concurrency at least n), and the collector CPU is the sum over the
 * PIDs. The last line ("result LABEL rps=... cpu_us=...") is for the
 * calling script.
 * tests/bench/collector-ingest.sh starts the collectors and runs this. */
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

struct agent {
	char id[64];
	char host[32];
	struct ep_keypair kp;
	bool trigger;
	int next; /* index of the next report to send */
	bool busy;
	char **bodies;
	size_t *lens;
	char (*sigs)[EP_SIGNATURE_B64_SIZE];
	struct curl_slist **hdrs; /* each report's request headers, built before timing */
	int64_t *sent_us;         /* when each report's request started */
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define MAX_URLS 8

/* user + system CPU seconds of a process (all threads), or -1 */
static double proc_cpu(int pid)
{
	char path[64], buf[1024];
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	/* fields after the command: state(3) ... utime(14) stime(15) */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The sum of proc_cpu over pids, or -1 when one is unknown. */
static double procs_cpu(const int *pids, int n)
{
	double sum = 0;
	for (int i = 0; i < n; i++) {
		double c = proc_cpu(pids[i]);
		if (c < 0)
			return -1;
		sum += c;
	}
	return n ? sum : -1;
}

/* Splits a comma list into at most MAX_URLS pieces of s (modified). */
static int split_list(char *s, char **ret)
{
	int n = 0;
	for (char *save = NULL, *t = strtok_r(s, ",", &save); t && n < MAX_URLS;
	     t = strtok_r(NULL, ",", &save))
		ret[n++] = t;
	return n;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(int64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

/* ---- libsodium's own verify rate ----------------------------------------------------- */

static double verify_rate(size_t size)
{
	struct ep_keypair kp;
	unsigned char sig[EP_SIGNATURE_BYTES];
	char *msg = malloc(size);
	ep_key_generate(&kp);
	ep_random_bytes(msg, size);
	ep_sign(&kp, msg, size, sig);
	int64_t t0 = now_us(), n = 0;
	while (now_us() - t0 < 1000000) {
		for (int i = 0; i < 100; i++)
			if (ep_verify(kp.public_key, msg, size, sig) == 0)
				n++;
	}
	double rate = (double)n / ((double)(now_us() - t0) / 1e6);
	free(msg);
	return rate;
}

/* ---- report bodies --------------------------------------------------------------------- */

static json_t *findings_for(const struct agent *a, int k)
{
	json_t *arr = json_array();
	for (int i = 0; i < 7; i++) {
		char obj[128], rem[256];
		snprintf(obj, sizeof(obj), "odoo/public.bench_table_%d_partner_id_index", i);
		snprintf(rem, sizeof(rem), "REINDEX INDEX CONCURRENTLY \"public\".\"%s\";",
			 obj + 5);
		double v = 8.0 + i;
		if (a->trigger && i == 0)
			v = (k % 2 == 0) ? 60.0 : 10.0; /* raise, clear, raise, ... */
		struct ep_finding f = {
			"index_fragmentation",
			obj,
			v,
			"%",
			30,
			v > 50   ? EP_SEV_CRITICAL
			: v > 30 ? EP_SEV_WARNING
				 : EP_SEV_INFO,
			"pgstatindex",
			"Wasted leaf space 100*(1-avg_leaf_density/fillfactor) measured exactly "
			"with "
			"pgstatindex() on an index of at least min_index_pages pages.",
			rem,
			0,
			0,
			0,
			NULL,
			false};
		json_t *j = ep_finding_json(&f);
		json_object_set_new(j, "pages", json_integer(5000 + i));
		json_object_set_new(j, "leaf_fragmentation", json_real(12.5));
		json_array_append_new(arr, j);
	}
	return arr;
}

/* --clock-file: the collector's clock for report k (0: the wall clock) */
static int64_t clock_start, clock_step;
static json_t *template_report; /* --template */

/* Writes the collector's clock t to path (replaced at once: the collector
 * reads it per report). 0 or -1. */
static int clock_set(const char *path, int64_t t)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%lld\n", (long long)t) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* The agent's k-th report: the built-in body (r, its header made by
 * ep_report_new) with its probes, or --template's with r's header. */
static json_t *report_body(struct agent *a, int k, json_t *r)
{
	if (template_report) {
		json_t *t = json_deep_copy(template_report);
		static const char *const own[] = {"agent_id", "seq", "generated_at", "host"};
		for (size_t i = 0; t && i < sizeof(own) / sizeof(own[0]); i++)
			if (json_object_set(t, own[i], json_object_get(r, own[i])) < 0) {
				json_decref(t);
				t = NULL;
			}
		json_decref(r);
		return t;
	}
	json_t *m = json_pack("{s:I,s:I,s:I}", "indexes_checked", (json_int_t)140,
			      "exact_measurements", (json_int_t)7, "io_budget_mb", (json_int_t)512);
	ep_report_add_probe(r, "postgres", "odoo@/run/postgresql", EP_STATUS_OK, NULL, 812, m,
			    findings_for(a, k));
	struct ep_finding d = {.kind = "disk_usage",
			       .object = "/var/lib/postgresql",
			       .value = 41.0 + 0.01 * k,
			       .unit = "%",
			       .threshold = 90,
			       .severity = EP_SEV_INFO,
			       .method = "statvfs"};
	ep_report_add_probe(r, "disk", "/", EP_STATUS_OK, NULL, 3,
			    json_pack("{s:I,s:I}", "bytes_total", (json_int_t)100000000000,
				      "bytes_used", (json_int_t)41000000000),
			    json_pack("[o]", ep_finding_json(&d)));
	return r;
}

static int build(struct agent *a, int n)
{
	a->bodies = calloc((size_t)n, sizeof(*a->bodies));
	a->lens = calloc((size_t)n, sizeof(*a->lens));
	a->sigs = calloc((size_t)n, sizeof(*a->sigs));
	a->sent_us = calloc((size_t)n, sizeof(*a->sent_us));
	a->hdrs = calloc((size_t)n, sizeof(*a->hdrs));
	if (!a->bodies || !a->lens || !a->sigs || !a->sent_us || !a->hdrs)
		return -ENOMEM;
	for (int k = 0; k < n; k++) {
		json_t *host = json_pack("{s:s,s:s,s:s,s:I}", "hostname", a->host, "os",
					 "Debian GNU/Linux 12 (bookworm)", "kernel",
					 "6.1.0-26-amd64", "uptime_s", (json_int_t)123456);
		time_t gen = clock_step ? (time_t)(clock_start + k * clock_step + clock_step / 2)
					: time(NULL);
		json_t *r = report_body(a, k, ep_report_new(a->id, k + 1, gen, 300, host, 0));
		if (!r)
			return -ENOMEM;
		a->bodies[k] = ep_report_serialize(r, &a->lens[k]);
		json_decref(r);
		unsigned char sig[EP_SIGNATURE_BYTES];
		ep_sign(&a->kp, a->bodies[k], a->lens[k], sig);
		ep_base64_encode(sig, sizeof(sig), a->sigs[k], EP_SIGNATURE_B64_SIZE);
		char h1[128], h2[160];
		snprintf(h1, sizeof(h1), "X-Erpulse-Agent: %s", a->id);
		snprintf(h2, sizeof(h2), "X-Erpulse-Signature: %s", a->sigs[k]);
		struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
		h = h ? curl_slist_append(h, "Expect:") : NULL;
		h = h ? curl_slist_append(h, h1) : NULL;
		h = h ? curl_slist_append(h, h2) : NULL;
		if (!h)
			return -ENOMEM;
		a->hdrs[k] = h;
	}
	return 0;
}

/* ---- enrollment -------------------------------------------------------------------------- */

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	ep_buf_append(ud, p, size * n);
	return size * n;
}

static int enroll(const char *url, const char *token, struct agent *a)
{
	char b64[EP_PUBLIC_KEY_B64_SIZE], u[1024];
	ep_key_generate(&a->kp);
	ep_base64_encode(a->kp.public_key, 32, b64, sizeof(b64));
	json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "token", token, "hostname", a->host,
			      "public_key", b64, "agent_version", "bench");
	char *body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	snprintf(u, sizeof(u), "%s/api/v1/enroll", url);
	struct ep_buf out;
	ep_buf_init(&out, 1 << 16);
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, u);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	long code = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	free(body);
	int r = -EIO;
	if (code == 201) {
		json_t *ans = json_loads(out.data, 0, NULL);
		const char *id = json_string_value(json_object_get(ans, "agent_id"));
		if (id) {
			snprintf(a->id, sizeof(a->id), "%s", id);
			r = 0;
		}
		json_decref(ans);
	} else {
		fprintf(stderr, "enroll: HTTP %ld %s\n", code, out.data ? out.data : "");
	}
	ep_buf_free(&out);
	return r;
}

/* ---- webhook receiver ---------------------------------------------------------------------- */

struct hook {
	int fd;
	struct agent *agents;
	int n_agents;
	int64_t *lat; /* microseconds, one per notice */
	_Atomic size_t n_lat;
	size_t cap;
	int *seen; /* notices seen per agent */
	_Atomic bool stop;
};

static void hook_handle(struct hook *h, int c)
{
	char buf[65536];
	size_t len = 0;
	int64_t t_recv = 0;
	/* read headers + Content-Length body */
	for (;;) {
		ssize_t n = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *hdr_end = strstr(buf, "\r\n\r\n");
		if (!hdr_end)
			continue;
		char *cl = strcasestr(buf, "Content-Length:");
		int64_t want = 0;
		if (cl)
			want = strtoll(cl + 15, NULL, 10);
		if ((int64_t)(len - (size_t)(hdr_end + 4 - buf)) >= want) {
			t_recv = now_us();
			break;
		}
	}
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
	if (send(c, ok, sizeof(ok) - 1, MSG_NOSIGNAL) < 0)
		t_recv = t_recv ? t_recv : 0;
	close(c);
	if (!t_recv)
		return;
	for (int i = 0; i < h->n_agents; i++) {
		struct agent *a = &h->agents[i];
		char needle[64];
		if (!a->trigger)
			continue;
		snprintf(needle, sizeof(needle), "\"host\":\"%s\"", a->host);
		if (!strstr(buf, needle))
			continue;
		/* the k-th notice of a trigger agent answers its k-th report */
		int k = h->seen[i]++;
		if (k < a->next && a->sent_us[k]) {
			size_t at = atomic_fetch_add(&h->n_lat, 1);
			if (at < h->cap)
				h->lat[at] = t_recv - a->sent_us[k];
		}
		break;
	}
}

static void *hook_main(void *arg)
{
	struct hook *h = arg;
	while (!atomic_load(&h->stop)) {
		struct pollfd p = {.fd = h->fd, .events = POLLIN};
		if (poll(&p, 1, 200) <= 0)
			continue;
		int c = accept(h->fd, NULL, NULL);
		if (c >= 0)
			hook_handle(h, c);
	}
	return NULL;
}

static int hook_listen(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		perror("hook listen");
		return -1;
	}
	return fd;
}

/* ---- the load ------------------------------------------------------------------------------ */

struct slot {
	CURL *h;
	int agent, k;
	int64_t t0;
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

int main(int argc, char **argv)
{
	const char *token = NULL, *label = "collector";
	const char *url_opt = NULL, *pid_opt = NULL, *ids_file = NULL, *wait_file = NULL,
		   *clock_file = NULL, *template_path = NULL;
	char *url_arg = NULL, *pid_arg = NULL, *urls[MAX_URLS], *pid_s[MAX_URLS];
	int n_agents = 256, n_reports = 40, conc = 64, hook_port = 0, triggers = 4;
	int n_urls = 0, n_pids = 0, pids[MAX_URLS];
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			break;
		if (!strcmp(argv[i], "--url"))
			url_opt = v;
		else if (!strcmp(argv[i], "--token"))
			token = v;
		else if (!strcmp(argv[i], "--label"))
			label = v;
		else if (!strcmp(argv[i], "--agents"))
			n_agents = (int)strtol(v, NULL, 10);
		else if (!strcmp(argv[i], "--reports"))
			n_reports = (int)strtol(v, NULL, 10);
		else if (!strcmp(argv[i], "--concurrency"))
			conc = (int)strtol(v, NULL, 10);
		else if (!strcmp(argv[i], "--hook-port"))
			hook_port = (int)strtol(v, NULL, 10);
		else if (!strcmp(argv[i], "--triggers"))
			triggers = (int)strtol(v, NULL, 10);
		else if (!strcmp(argv[i], "--pid"))
			pid_opt = v;
		else if (!strcmp(argv[i], "--ids-file"))
			ids_file = v;
		else if (!strcmp(argv[i], "--wait-file"))
			wait_file = v;
		else if (!strcmp(argv[i], "--clock-file"))
			clock_file = v;
		else if (!strcmp(argv[i], "--step"))
			clock_step = strtol(v, NULL, 10);
		else if (!strcmp(argv[i], "--template"))
			template_path = v;
		else
			continue;
		i++;
	}
	if (url_opt && (url_arg = strdup(url_opt)))
		n_urls = split_list(url_arg, urls);
	if (pid_opt && (pid_arg = strdup(pid_opt)))
		n_pids = split_list(pid_arg, pid_s);
	for (int i = 0; i < n_pids; i++)
		pids[i] = (int)strtol(pid_s[i], NULL, 10);
	if (n_urls < 1 || !token || n_agents < 1 || n_reports < 1 || conc < n_urls ||
	    clock_step < 0 || (clock_step > 0) != (clock_file != NULL)) {
		fprintf(stderr, "usage: collector-ingest --url URL --token TOKEN [--agents N] "
				"[--reports M] [--concurrency C] [--hook-port P] [--triggers K] "
				"[--clock-file F --step S] [--template REPORT.json]\n");
		return 2;
	}
	if (hook_port == 0)
		triggers = 0;
	if (template_path) {
		char err[256];
		json_error_t jerr;
		template_report = json_load_file(template_path, 0, &jerr);
		if (!template_report) {
			fprintf(stderr, "%s: line %d: %s\n", template_path, jerr.line, jerr.text);
			return 2;
		}
		if (ep_report_validate(template_report, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: not a report: %s\n", template_path, err);
			return 2;
		}
		triggers = 0;
	}
	ep_crypto_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);

	struct agent *agents = calloc((size_t)n_agents, sizeof(*agents));
	for (int i = 0; i < n_agents; i++) {
		struct agent *a = &agents[i];
		a->trigger = i < triggers;
		snprintf(a->host, sizeof(a->host), a->trigger ? "bench-t%d" : "bench-%d", i);
		if (enroll(urls[i % n_urls], token, a) < 0)
			return 1;
	}
	if (ids_file) {
		FILE *f = fopen(ids_file, "w");
		if (!f) {
			perror(ids_file);
			return 1;
		}
		for (int i = 0; i < n_agents; i++)
			fprintf(f, "%s\n", agents[i].id);
		fclose(f);
		while (wait_file && access(wait_file, F_OK) != 0)
			usleep(100000);
	}
	/* after the history: the rounds' clock starts now */
	clock_start = time(NULL);
	if (clock_file && clock_set(clock_file, clock_start) < 0)
		return 1;
	for (int i = 0; i < n_agents; i++)
		if (build(&agents[i], n_reports) < 0)
			return 1;
	size_t total = (size_t)n_agents * (size_t)n_reports;
	double avg = 0;
	for (int i = 0; i < n_agents; i++)
		for (int k = 0; k < n_reports; k++)
			avg += (double)agents[i].lens[k];
	avg /= (double)total;

	struct hook hook = {.fd = -1};
	pthread_t hook_thread;
	if (hook_port) {
		hook.fd = hook_listen(hook_port);
		if (hook.fd < 0)
			return 1;
		hook.agents = agents;
		hook.n_agents = n_agents;
		hook.cap = (size_t)(triggers * n_reports);
		hook.lat = calloc(hook.cap + 1, sizeof(*hook.lat));
		hook.seen = calloc((size_t)n_agents, sizeof(int));
		pthread_create(&hook_thread, NULL, hook_main, &hook);
	}

	double vrate = verify_rate((size_t)avg);

	CURLM *multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conc);
	struct slot *slots = calloc((size_t)conc, sizeof(*slots));
	int64_t *lat = calloc(total, sizeof(*lat));
	size_t done = 0, accepted = 0, other = 0, n_lat = 0;
	char u[MAX_URLS][1024];
	for (int i = 0; i < n_urls; i++)
		snprintf(u[i], sizeof(u[i]), "%s/api/v1/reports", urls[i]);
	for (int s = 0; s < conc; s++) {
		slots[s].h = curl_easy_init();
		slots[s].agent = -1;
		curl_easy_setopt(slots[s].h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(slots[s].h, CURLOPT_PRIVATE, &slots[s]);
		curl_easy_setopt(slots[s].h, CURLOPT_TCP_NODELAY, 1L);
	}
	int rr = 0, round = 0;
	size_t sent = 0;
	double cpu0 = procs_cpu(pids, n_pids), self0 = proc_cpu(getpid());
	int64_t t_start = now_us();
	while (done < total) {
		bool none[MAX_URLS] = {false}; /* no agent of URL u can send now */
		int n_none = 0;
		for (int s = 0; s < conc && n_none < n_urls; s++) {
			if (slots[s].agent >= 0 || none[s % n_urls])
				continue;
			/* next agent with a report left and none in flight (with
			 * --clock-file: of this round) */
			int pick = -1, last = clock_step ? round + 1 : n_reports;
			for (int j = 0; j < n_agents; j++) {
				int i = (rr + j) % n_agents;
				/* a slot keeps to one collector (agent i reports to URL
				 * i mod n): its kept-alive connection is reused, as an
				 * agent's is, instead of closed for the other URL */
				if (i % n_urls != s % n_urls)
					continue;
				if (!agents[i].busy && agents[i].next < last &&
				    agents[i].next < n_reports) {
					pick = i;
					break;
				}
			}
			if (pick < 0) {
				none[s % n_urls] = true;
				n_none++;
				continue;
			}
			rr = (pick + 1) % n_agents;
			struct agent *a = &agents[pick];
			struct slot *sl = &slots[s];
			int k = a->next;
			curl_easy_setopt(sl->h, CURLOPT_URL, u[pick % n_urls]);
			curl_easy_setopt(sl->h, CURLOPT_HTTPHEADER, a->hdrs[k]);
			curl_easy_setopt(sl->h, CURLOPT_POSTFIELDS, a->bodies[k]);
			curl_easy_setopt(sl->h, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)a->lens[k]);
			sl->agent = pick;
			sl->k = k;
			sl->t0 = now_us();
			a->sent_us[k] = sl->t0;
			a->busy = true;
			a->next++;
			sent++;
			/* the round is over when every agent has sent its report
			 * (some may still be in flight): the collector's clock
			 * moves on */
			if (clock_step && sent == (size_t)n_agents * (size_t)(round + 1) &&
			    round + 1 < n_reports) {
				round++;
				if (clock_set(clock_file, clock_start + round * clock_step) < 0)
					return 1;
			}
			curl_multi_add_handle(multi, sl->h);
		}
		int running = 0;
		curl_multi_perform(multi, &running);
		curl_multi_poll(multi, NULL, 0, 100, NULL);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct slot *sl;
			long code = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			lat[n_lat++] = now_us() - sl->t0;
			if (code == 200)
				accepted++;
			else
				other++;
			agents[sl->agent].busy = false;
			sl->agent = -1;
			done++;
			curl_multi_remove_handle(multi, msg->easy_handle);
		}
	}
	double secs = (double)(now_us() - t_start) / 1e6;
	double cpu1 = procs_cpu(pids, n_pids), self1 = proc_cpu(getpid());
	printf("verify  libsodium Ed25519 verify of %.0f-byte messages: %.0f/s on one core\n", avg,
	       vrate);
	printf("ingest  %-10s agents=%d concurrency=%d reports=%zu ok=%zu other=%zu in %.2fs: "
	       "%.0f reports/s  p50=%.1fms p99=%.1fms\n",
	       label, n_agents, conc, total, accepted, other, secs, (double)accepted / secs,
	       pct(lat, n_lat, 0.50), pct(lat, n_lat, 0.99));
	/* the peer's figure beside ours: what fraction of one core's raw
	 * verify rate the whole service (HTTP, verify, parse, durable commit,
	 * analysis, and this client on the same cores) sustains */
	printf("ratio   %-10s %.0f accepted reports/s vs %.0f raw verifies/s per core: %.3f "
	       "(verify alone: %.0f us of each report)\n",
	       label, (double)accepted / secs, vrate,
	       vrate > 0 ? (double)accepted / secs / vrate : 0, vrate > 0 ? 1e6 / vrate : 0);
	double cpu_per = 0;
	if (cpu0 >= 0 && cpu1 >= 0 && accepted > 0) {
		cpu_per = (cpu1 - cpu0) / (double)accepted * 1e6;
		double per = (cpu1 - cpu0) / (double)accepted * 1e6;
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		printf("cpu     %-10s collector CPU per accepted report: %.0f us (%.2f cores busy "
		       "on average); %ld idle cores would carry about %.0f reports/s\n",
		       label, per, (cpu1 - cpu0) / secs, ncpu, (double)ncpu * 1e6 / per);
		printf("cpu     %-10s this client's CPU per report: %.0f us (%.2f cores)\n", label,
		       (self1 - self0) / (double)accepted * 1e6, (self1 - self0) / secs);
	}
	if (hook_port) {
		/* let the outbox drain */
		size_t want = (size_t)triggers * (size_t)n_reports;
		int64_t until = now_us() + 20 * 1000000;
		while (atomic_load(&hook.n_lat) < want && now_us() < until)
			usleep(50000);
		atomic_store(&hook.stop, true);
		pthread_join(hook_thread, NULL);
		size_t n = atomic_load(&hook.n_lat);
		if (n > hook.cap)
			n = hook.cap;
		printf("notice  %-10s triggering report -> webhook received: n=%zu of %zu  "
		       "p50=%.1fms p99=%.1fms\n",
		       label, n, want, pct(hook.lat, n, 0.50), pct(hook.lat, n, 0.99));
		close(hook.fd);
	}
	printf("result  %s rps=%.0f cpu_us=%.0f verify=%.0f\n", label, (double)accepted / secs,
	       cpu_per, vrate);
	for (int s = 0; s < conc; s++)
		curl_easy_cleanup(slots[s].h);
	for (int i = 0; i < n_agents; i++)
		for (int k = 0; k < n_reports; k++)
			curl_slist_free_all(agents[i].hdrs[k]);
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	free(url_arg);
	free(pid_arg);
	return other == 0 ? 0 : 1;
}
