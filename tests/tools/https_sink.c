/* https_sink: a small HTTPS collector stand-in for the agent's integration
 * tests (libmicrohttpd, TLS). It implements docs/protocol.md's
 * POST /api/v1/enroll and POST /api/v1/reports for real: reports are checked
 * with ep_verify over the raw body and ep_report_parse, seq is tracked per
 * agent (as the collector does: a seq at or below the last accepted one is a
 * duplicate when the body stored under it is byte-identical, else 409
 * seq_conflict), and every accepted body is stored byte for byte, in arrival
 * order.
 *
 *   https_sink --port P --cert CERT --key KEY --dir DIR
 *
 * DIR/agents/ID.pub, ID.seq    enrolled agents (base64 key, last accepted seq)
 * DIR/agents/ID.SEQ.body       the body accepted under SEQ (duplicate check)
 * DIR/reports/NNNNNN-SEQ.json  accepted bodies, NNNNNN = arrival number
 * DIR/requests.log             "enroll|report STATUS SEQ RESULT" per request
 * DIR/control                  fault injection, read at every request:
 *     normal | 503 N | 429 N (Retry-After N) | 500 | 400 | 401 | 403 | 413
 *     | hang N (answer after N seconds) | drop (close without answering)
 *     | ackdelay MS (store an accepted report, then wait MS ms before answering:
 *       widens the window in which a killed agent misses the answer)
 * Enrollment tokens: "good..." is valid, "expired" / "usedup" give
 * token_expired / token_used_up, anything else token_invalid.
 * Writes DIR/ready when listening; stops on SIGTERM/SIGINT. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

#define MAX_BODY (2 * 1024 * 1024)

static const char *g_dir;
static int g_counter;
static volatile sig_atomic_t g_stop;
static int64_t g_ack_delay_ms;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

struct req {
	struct ep_buf body;
	bool too_large;
};

static void logline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logline(const char *fmt, ...)
{
	char path[4096];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/requests.log", g_dir);
	f = fopen(path, "a");
	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, json_t *doc,
			      int64_t retry_after)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_decref(doc);
	if (!text)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (retry_after >= 0) {
		char ra[32];
		snprintf(ra, sizeof(ra), "%lld", (long long)retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result error(struct MHD_Connection *c, unsigned status, const char *code,
			     const char *msg, int64_t retry_after)
{
	return answer(c, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg),
		      retry_after);
}

/* the fault currently injected: 0 = none */
static int control(int64_t *arg, char *word, size_t wsize)
{
	char path[4096], buf[128] = "";
	FILE *f;
	long long a = -1;

	snprintf(path, sizeof(path), "%s/control", g_dir);
	*arg = -1;
	word[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	if (sscanf(buf, "%31s %lld", word, &a) < 1)
		return 0;
	(void)wsize;
	*arg = a;
	return strcmp(word, "normal") == 0 ? 0 : 1;
}

static int read_small(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int write_small(const char *path, const char *text)
{
	return ep_atomic_write(path, text, strlen(text), 0644);
}

static enum MHD_Result do_enroll(struct MHD_Connection *c, struct req *q)
{
	json_t *o = json_loadb(q->body.data ? q->body.data : "", q->body.len, 0, NULL);
	const char *token = json_string_value(json_object_get(o, "token"));
	const char *pub = json_string_value(json_object_get(o, "public_key"));
	unsigned char key[64];
	size_t klen = 0;
	char id[33], path[4096];
	enum MHD_Result ret;

	if (!token || !pub || ep_base64_decode(pub, strlen(pub), key, sizeof(key), &klen) < 0 ||
	    klen != EP_PUBLIC_KEY_BYTES) {
		json_decref(o);
		logline("enroll 400 - bad_request");
		return error(c, 400, "bad_request", "token and public_key required", -1);
	}
	if (strncmp(token, "good", 4) != 0) {
		const char *code = strcmp(token, "expired") == 0  ? "token_expired"
				   : strcmp(token, "usedup") == 0 ? "token_used_up"
								  : "token_invalid";
		json_decref(o);
		logline("enroll 401 - %s", code);
		return error(c, 401, code, "enrollment token refused", -1);
	}
	ep_random_hex(16, id, sizeof(id));
	snprintf(path, sizeof(path), "%s/agents/%s.pub", g_dir, id);
	write_small(path, pub);
	snprintf(path, sizeof(path), "%s/agents/%s.seq", g_dir, id);
	write_small(path, "0");
	json_decref(o);
	logline("enroll 201 - %s", id);
	ret = answer(c, 201,
		     json_pack("{s:s, s:s, s:i}", "agent_id", id, "customer_id", "cust1",
			       "interval_s", 300),
		     -1);
	return ret;
}

static enum MHD_Result do_report(struct MHD_Connection *c, struct req *q)
{
	const char *aid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Erpulse-Agent");
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Erpulse-Signature");
	unsigned char pk[64], raw[EP_SIGNATURE_BYTES + 8];
	size_t pklen = 0, rawlen = 0;
	char path[4096], buf[256], err[512];
	json_t *doc = NULL;
	int64_t last = 0, seq;

	if (!aid || !sig || strlen(aid) > 64 || strchr(aid, '/') || strchr(aid, '.')) {
		logline("report 401 - unauthorized");
		return error(c, 401, "unauthorized", "missing agent or signature", -1);
	}
	snprintf(path, sizeof(path), "%s/agents/%s.pub", g_dir, aid);
	if (read_small(path, buf, sizeof(buf)) < 0 ||
	    ep_base64_decode(buf, strlen(buf), pk, sizeof(pk), &pklen) < 0 ||
	    pklen != EP_PUBLIC_KEY_BYTES ||
	    ep_base64_decode(sig, strlen(sig), raw, sizeof(raw), &rawlen) < 0 ||
	    rawlen != EP_SIGNATURE_BYTES ||
	    ep_verify(pk, q->body.data ? q->body.data : "", q->body.len, raw) < 0) {
		logline("report 401 - unauthorized");
		return error(c, 401, "unauthorized", "unknown agent or bad signature", -1);
	}
	if (ep_report_parse(q->body.data, q->body.len, MAX_BODY, &doc, err, sizeof(err)) < 0) {
		logline("report 400 - bad_request %s", err);
		return error(c, 400, "bad_request", err, -1);
	}
	seq = (int64_t)json_integer_value(json_object_get(doc, "seq"));
	if (strcmp(json_string_value(json_object_get(doc, "agent_id")), aid) != 0) {
		json_decref(doc);
		logline("report 400 %lld bad_request agent_id", (long long)seq);
		return error(c, 400, "bad_request", "agent_id differs from the header", -1);
	}
	json_decref(doc);
	snprintf(path, sizeof(path), "%s/agents/%s.seq", g_dir, aid);
	if (read_small(path, buf, sizeof(buf)) == 0)
		ep_parse_int64(buf, 0, INT64_MAX, &last);
	if (seq <= last) {
		char bpath[4200], *stored = NULL;
		size_t slen = 0;
		bool same;

		snprintf(bpath, sizeof(bpath), "%s/agents/%s.%lld.body", g_dir, aid,
			 (long long)seq);
		same = ep_read_file(bpath, MAX_BODY, &stored, &slen) == 0 && slen == q->body.len &&
		       memcmp(stored, q->body.data, slen) == 0;
		free(stored);
		if (!same) {
			logline("report 409 %lld seq_conflict %lld", (long long)seq,
				(long long)last);
			return answer(c, 409,
				      json_pack("{s:{s:s, s:s}, s:I, s:I}", "error", "code",
						"seq_conflict", "message",
						"seq was not stored with this body", "seq",
						(json_int_t)seq, "last_seq", (json_int_t)last),
				      -1);
		}
		logline("report 200 %lld duplicate %lld", (long long)seq, (long long)last);
		return answer(c, 200,
			      json_pack("{s:s, s:I, s:I}", "status", "duplicate", "seq",
					(json_int_t)seq, "last_seq", (json_int_t)last),
			      -1);
	}
	{
		char rpath[4096];
		snprintf(rpath, sizeof(rpath), "%s/reports/%06d-%lld.json", g_dir, ++g_counter,
			 (long long)seq);
		ep_atomic_write(rpath, q->body.data, q->body.len, 0644);
		snprintf(rpath, sizeof(rpath), "%s/agents/%s.%lld.body", g_dir, aid,
			 (long long)seq);
		ep_atomic_write(rpath, q->body.data, q->body.len, 0644);
		snprintf(buf, sizeof(buf), "%lld", (long long)seq);
		write_small(path, buf);
	}
	logline("report 200 %lld accepted", (long long)seq);
	if (g_ack_delay_ms > 0)
		usleep((useconds_t)(g_ack_delay_ms * 1000));
	return answer(c, 200, json_pack("{s:s, s:I}", "status", "accepted", "seq", (json_int_t)seq),
		      -1);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *size, void **con_cls)
{
	struct req *q = *con_cls;
	char word[32];
	int64_t arg;

	(void)cls;
	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		ep_buf_init(&q->body, MAX_BODY);
		*con_cls = q;
		return MHD_YES;
	}
	if (*size) {
		if (ep_buf_append(&q->body, data, *size) < 0)
			q->too_large = true;
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "POST") != 0)
		return error(c, 405, "method_not_allowed", "POST only", -1);
	g_ack_delay_ms = 0;
	if (control(&arg, word, sizeof(word))) {
		if (strcmp(word, "ackdelay") == 0)
			g_ack_delay_ms = arg;
		if (strcmp(word, "drop") == 0) {
			logline("%s drop - -", url);
			return MHD_NO;
		}
		if (strcmp(word, "hang") == 0) {
			logline("%s hang %lld -", url, (long long)arg);
			sleep(arg > 0 ? (unsigned)arg : 1);
		} else if (strcmp(word, "ackdelay") != 0) {
			unsigned st = (unsigned)strtoul(word, NULL, 10);
			if (st >= 400) {
				logline("%s %u - injected", url, st);
				return error(c, st,
					     st == 401   ? "unauthorized"
					     : st == 403 ? "revoked"
					     : st == 400 ? "bad_request"
					     : st == 413 ? "too_large"
					     : st == 429 ? "rate_limited"
							 : "unavailable",
					     "injected by the test",
					     st == 503 || st == 429 ? arg : -1);
			}
		}
	}
	if (q->too_large)
		return error(c, 413, "too_large", "body too large", -1);
	if (strcmp(url, "/api/v1/enroll") == 0)
		return do_enroll(c, q);
	if (strcmp(url, "/api/v1/reports") == 0)
		return do_report(c, q);
	return error(c, 404, "not_found", "no such endpoint", -1);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (q) {
		ep_buf_free(&q->body);
		free(q);
	}
	*con_cls = NULL;
}

static int count_reports(void)
{
	char path[4096];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/reports", g_dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL;
	char *certpem = NULL, *keypem = NULL, path[4096];
	size_t len;
	int64_t port = 0;
	struct MHD_Daemon *d;
	struct sockaddr_in sa;
	struct sigaction act;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			ep_parse_int64(argv[i + 1], 1, 65535, &port);
		else if (strcmp(argv[i], "--cert") == 0)
			cert = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			key = argv[i + 1];
		else if (strcmp(argv[i], "--dir") == 0)
			g_dir = argv[i + 1];
	}
	if (!port || !cert || !key || !g_dir) {
		fprintf(stderr, "usage: https_sink --port P --cert CERT --key KEY --dir DIR\n");
		return 2;
	}
	if (ep_crypto_init() < 0 || ep_read_file(cert, 1 << 20, &certpem, &len) < 0 ||
	    ep_read_file(key, 1 << 20, &keypem, &len) < 0) {
		fprintf(stderr, "https_sink: cannot read cert/key\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/agents", g_dir);
	ep_mkdir_p(path, 0755);
	snprintf(path, sizeof(path), "%s/reports", g_dir);
	ep_mkdir_p(path, 0755);
	g_counter = count_reports();

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL, handler,
			     NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
			     MHD_OPTION_HTTPS_MEM_KEY, keypem, MHD_OPTION_HTTPS_MEM_CERT, certpem,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "https_sink: cannot listen on 127.0.0.1:%lld\n", (long long)port);
		return 1;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	snprintf(path, sizeof(path), "%s/ready", g_dir);
	write_small(path, "ready\n");
	while (!g_stop)
		pause();
	unlink(path);
	MHD_stop_daemon(d);
	free(certpem);
	free(keypem);
	return 0;
}
