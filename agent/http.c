/* HTTPS POST through libcurl for enrollment and report delivery: peer and
 * host verification always on, https only (also across redirects, which are
 * not followed), optional CA file and public-key pin, connect timeout 10 s,
 * total 60 s, abort below 100 bytes/s for 30 s, proxy from the environment
 * (curl's https_proxy / no_proxy) or the config. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/agent.h"

#define ANSWER_MAX (64 * 1024)

int agent_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

const char *agent_http_class_name(enum agent_http_class c)
{
	switch (c) {
	case AGENT_HTTP_OK:
		return "ok";
	case AGENT_HTTP_BAD_URL:
		return "bad URL";
	case AGENT_HTTP_DNS:
		return "DNS lookup failed";
	case AGENT_HTTP_REFUSED:
		return "connection refused";
	case AGENT_HTTP_TLS:
		return "TLS verification failed";
	case AGENT_HTTP_TIMEOUT:
		return "timed out";
	case AGENT_HTTP_NETWORK:
		return "network error";
	case AGENT_HTTP_ABORTED:
		return "aborted";
	}
	return "?";
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct ep_buf *b = userdata;
	size_t n = size * nmemb;

	if (ep_buf_append(b, ptr, n) < 0)
		return 0; /* too large: abort the transfer */
	return n;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct agent_http_opts *o = clientp;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (o->stop && *o->stop)
		return 1;
	if (o->tick && o->tick(o->userdata)) /* rate-limits itself */
		return 1;
	return 0;
}

/* Keeps the Date header of the answer (the collector's clock). */
static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct agent_http_result *res = userdata;
	size_t n = size * nitems;

	if (n > 5 && n < 128 && strncasecmp(buf, "Date:", 5) == 0) {
		char v[128];
		time_t t;

		memcpy(v, buf + 5, n - 5);
		v[n - 5] = '\0';
		t = curl_getdate(v, NULL);
		if (t > 0)
			res->date = (int64_t)t;
	}
	return n;
}

static enum agent_http_class classify(CURLcode c)
{
	switch (c) {
	case CURLE_OK:
		return AGENT_HTTP_OK;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return AGENT_HTTP_BAD_URL;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return AGENT_HTTP_DNS;
	case CURLE_COULDNT_CONNECT:
		return AGENT_HTTP_REFUSED;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
		return AGENT_HTTP_TLS;
	case CURLE_OPERATION_TIMEDOUT:
		return AGENT_HTTP_TIMEOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return AGENT_HTTP_ABORTED;
	default:
		return AGENT_HTTP_NETWORK;
	}
}

/* body NULL: a GET. */
static int perform(const char *url, const char *const *headers, const char *body, size_t len,
		   const struct agent_http_opts *opts, struct agent_http_result *res)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct agent_http_opts local = *opts;
	struct curl_slist *hl = NULL, *t;
	CURL *h = NULL;
	CURLcode c;
	int r = 0;

	memset(res, 0, sizeof(*res));
	res->retry_after_s = -1;
	res->date = -1;
	ep_buf_init(&res->body, ANSWER_MAX);
	if (!url || strncmp(url, "https://", 8) != 0) {
		res->cls = AGENT_HTTP_BAD_URL;
		ep_snprintf(res->error, sizeof(res->error), "'%s' is not an https:// URL",
			    url ? url : "");
		return 0;
	}
	h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	t = curl_slist_append(hl, "Content-Type: application/json");
	if (!t) {
		r = -ENOMEM;
		goto out;
	}
	hl = t;
	t = curl_slist_append(hl, "Expect:");
	if (!t) {
		r = -ENOMEM;
		goto out;
	}
	hl = t;
	for (size_t i = 0; headers && headers[i]; i++) {
		t = curl_slist_append(hl, headers[i]);
		if (!t) {
			r = -ENOMEM;
			goto out;
		}
		hl = t;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string form; the bitmask is deprecated */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (opts->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, opts->ca_file);
	if (opts->pinned_pubkey)
		curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, opts->pinned_pubkey);
	if (opts->proxy)
		curl_easy_setopt(h, CURLOPT_PROXY, opts->proxy);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 100L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "erpulse-agent/" EP_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, res);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &res->body);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &local);

	c = curl_easy_perform(h);
	res->cls = classify(c);
	if (c != CURLE_OK) {
		ep_snprintf(res->error, sizeof(res->error), "%s",
			    errbuf[0] ? errbuf : curl_easy_strerror(c));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
#if LIBCURL_VERSION_NUM >= 0x074200 /* 7.66 */
	{
		curl_off_t ra = -1;
		if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			res->retry_after_s = (int64_t)ra;
	}
#endif
out:
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	return r;
}

int agent_http_post(const char *url, const char *const *headers, const char *body, size_t len,
		    const struct agent_http_opts *opts, struct agent_http_result *res)
{
	return perform(url, headers, body ? body : "", len, opts, res);
}

int agent_http_get(const char *url, const struct agent_http_opts *opts,
		   struct agent_http_result *res)
{
	return perform(url, NULL, NULL, 0, opts, res);
}

int64_t agent_backoff_s(unsigned attempt, int64_t base_s, int64_t cap_s, int64_t retry_after_s)
{
	int64_t ceiling = base_s, d;

	for (unsigned i = 0; i < attempt && ceiling < cap_s; i++)
		ceiling *= 2;
	if (ceiling > cap_s)
		ceiling = cap_s;
	if (ceiling < 0)
		ceiling = 0;
	{
		uint64_t rnd;
		ep_random_bytes(&rnd, sizeof(rnd));
		d = ceiling > 0 ? (int64_t)(rnd % (uint64_t)(ceiling + 1)) : 0;
	}
	if (retry_after_s >= 0) {
		if (retry_after_s > 3600)
			retry_after_s = 3600;
		if (d < retry_after_s)
			d = retry_after_s;
	}
	return d;
}
