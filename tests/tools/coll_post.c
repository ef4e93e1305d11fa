/* coll_post: a test client for erpulse-collector speaking the agent's side
 * of docs/protocol.md with the real crypto (lib/crypto.c) and report builder
 * (lib/report.c). Used by tests/integration/4x-*.sh.
 *
 *   coll_post keygen KEYFILE                  new key pair; prints the public key (base64)
 *   coll_post enroll URL TOKEN KEYFILE [HOSTNAME]  prints "STATUS BODY"
 *   coll_post report AGENT_ID SEQ [FINDINGS_JSON [HOSTNAME]]
 *                                             prints a valid report (compact, sorted keys)
 *   coll_post wrap AGENT_ID SEQ FILE          a valid report whose probe metrics hold
 *                                             {"v": <FILE's JSON>}, raw bytes spliced in
 *   coll_post sign KEYFILE FILE               prints the base64 signature of FILE's bytes
 *   coll_post send URL KEYFILE AGENT_ID FILE... signs and POSTs each file to URL/api/v1/reports;
 *                                             prints "STATUS FILE BODY" per file
 * Environment: COLL_POST_CA (CA file for https), COLL_POST_AGENT_HEADER
 * (override X-Erpulse-Agent), COLL_POST_SIG (use this signature as is). */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	struct ep_buf *b = ud;
	if (ep_buf_append(b, p, size * n) < 0)
		return 0;
	return size * n;
}

static long post(const char *url, const char *body, size_t len, struct curl_slist *hdrs,
		 struct ep_buf *out)
{
	CURL *c = curl_easy_init();
	long code = 0;
	if (!c)
		return -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (getenv("COLL_POST_CA"))
		curl_easy_setopt(c, CURLOPT_CAINFO, getenv("COLL_POST_CA"));
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code;
}

static int load_key(const char *path, struct ep_keypair *kp)
{
	char err[512];
	if (ep_key_load(path, kp, err, sizeof(err)) < 0) {
		fprintf(stderr, "coll_post: %s\n", err);
		return -1;
	}
	return 0;
}

static int read_all(const char *path, char **data, size_t *len)
{
	int r = ep_read_file(path, 64 << 20, data, len);
	if (r < 0)
		fprintf(stderr, "coll_post: %s: %s\n", path, strerror(-r));
	return r;
}

static json_t *make_report(const char *agent_id, int64_t seq, const char *findings_json,
			   const char *hostname)
{
	json_t *host = json_pack("{s:s,s:s,s:s,s:I}", "hostname", hostname ? hostname : "erp01",
				 "os", "Debian GNU/Linux 12 (bookworm)", "kernel", "6.1.0-26-amd64",
				 "uptime_s", (json_int_t)123456);
	json_t *r = ep_report_new(agent_id, seq, time(NULL), 300, host, 0);
	json_t *findings = findings_json ? json_loads(findings_json, 0, NULL) : json_array();
	if (!r || !findings) {
		fprintf(stderr, "coll_post: bad findings JSON\n");
		exit(2);
	}
	json_t *metrics = json_pack("{s:I}", "checked", (json_int_t)json_array_size(findings));
	ep_report_add_probe(r, "postgres", "odoo@/run/postgresql", EP_STATUS_OK, NULL, 12, metrics,
			    findings);
	return r;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	ep_crypto_init();
	const char *cmd = argv[1];
	if (strcmp(cmd, "keygen") == 0 && argc == 3) {
		struct ep_keypair kp;
		char b64[EP_PUBLIC_KEY_B64_SIZE];
		ep_key_generate(&kp);
		if (ep_key_save(argv[2], &kp) < 0)
			return 1;
		ep_base64_encode(kp.public_key, sizeof(kp.public_key), b64, sizeof(b64));
		printf("%s\n", b64);
		return 0;
	}
	if (strcmp(cmd, "enroll") == 0 && (argc == 5 || argc == 6)) {
		struct ep_keypair kp;
		char b64[EP_PUBLIC_KEY_B64_SIZE], url[2048];
		if (load_key(argv[4], &kp) < 0)
			return 1;
		ep_base64_encode(kp.public_key, sizeof(kp.public_key), b64, sizeof(b64));
		json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "token", argv[3], "hostname",
				      argc == 6 ? argv[5] : "erp01", "public_key", b64,
				      "agent_version", "0.1.0");
		char *body = json_dumps(j, JSON_COMPACT);
		snprintf(url, sizeof(url), "%s/api/v1/enroll", argv[2]);
		struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
		struct ep_buf out;
		ep_buf_init(&out, 1 << 20);
		long code = post(url, body, strlen(body), h, &out);
		printf("%ld %s\n", code, out.data ? out.data : "");
		curl_slist_free_all(h);
		ep_buf_free(&out);
		free(body);
		json_decref(j);
		return 0;
	}
	if (strcmp(cmd, "report") == 0 && argc >= 4 && argc <= 6) {
		int64_t seq;
		if (ep_parse_int64(argv[3], 0, INT64_MAX, &seq) < 0)
			goto usage;
		json_t *r = make_report(argv[2], seq, argc >= 5 ? argv[4] : NULL,
					argc == 6 ? argv[5] : NULL);
		size_t len;
		char *s = ep_report_serialize(r, &len);
		fwrite(s, 1, len, stdout);
		free(s);
		json_decref(r);
		return 0;
	}
	if (strcmp(cmd, "wrap") == 0 && argc == 5) {
		int64_t seq;
		char *data;
		size_t len, slen;
		if (ep_parse_int64(argv[3], 0, INT64_MAX, &seq) < 0 ||
		    read_all(argv[4], &data, &len))
			return 2;
		json_t *r = make_report(argv[2], seq, NULL, NULL);
		char *s = ep_report_serialize(r, &slen);
		/* splice the raw bytes in place of the metrics' "checked" value */
		const char *mark = "\"checked\":0";
		char *at = strstr(s, mark);
		if (!at)
			return 2;
		fwrite(s, 1, (size_t)(at - s), stdout);
		fputs("\"v\":", stdout);
		fwrite(data, 1, len, stdout);
		fputs(at + strlen(mark), stdout);
		free(s);
		free(data);
		json_decref(r);
		return 0;
	}
	if (strcmp(cmd, "sign") == 0 && argc == 4) {
		struct ep_keypair kp;
		char *data, b64[EP_SIGNATURE_B64_SIZE];
		size_t len;
		unsigned char sig[EP_SIGNATURE_BYTES];
		if (load_key(argv[2], &kp) < 0 || read_all(argv[3], &data, &len) < 0)
			return 1;
		ep_sign(&kp, data, len, sig);
		ep_base64_encode(sig, sizeof(sig), b64, sizeof(b64));
		printf("%s\n", b64);
		free(data);
		return 0;
	}
	if (strcmp(cmd, "send") == 0 && argc >= 6) {
		struct ep_keypair kp;
		char url[2048];
		if (load_key(argv[3], &kp) < 0)
			return 1;
		snprintf(url, sizeof(url), "%s/api/v1/reports", argv[2]);
		const char *agent = getenv("COLL_POST_AGENT_HEADER")
					    ? getenv("COLL_POST_AGENT_HEADER")
					    : argv[4];
		for (int i = 5; i < argc; i++) {
			char *data, b64[EP_SIGNATURE_B64_SIZE], hdr[256];
			size_t len;
			unsigned char sig[EP_SIGNATURE_BYTES];
			if (read_all(argv[i], &data, &len) < 0)
				return 1;
			ep_sign(&kp, data, len, sig);
			ep_base64_encode(sig, sizeof(sig), b64, sizeof(b64));
			struct curl_slist *h =
				curl_slist_append(NULL, "Content-Type: application/json");
			snprintf(hdr, sizeof(hdr), "X-Erpulse-Agent: %s", agent);
			h = curl_slist_append(h, hdr);
			snprintf(hdr, sizeof(hdr), "X-Erpulse-Signature: %s",
				 getenv("COLL_POST_SIG") ? getenv("COLL_POST_SIG") : b64);
			h = curl_slist_append(h, hdr);
			struct ep_buf out;
			ep_buf_init(&out, 1 << 20);
			long code = post(url, data, len, h, &out);
			printf("%ld %s %s\n", code, argv[i], out.data ? out.data : "");
			fflush(stdout);
			ep_buf_free(&out);
			curl_slist_free_all(h);
			free(data);
		}
		return 0;
	}
usage:
	fprintf(stderr, "usage: see the comment at the top of tests/tools/coll_post.c\n");
	return 2;
}
