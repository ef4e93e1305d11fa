/* One webhook delivery attempt over libcurl HTTP(S) (notify.h). Refuses
 * private targets by checking every resolved address, pinning the
 * connection to the checked one, and checking again in the socket-open
 * callback (the address curl really connects to), so neither a second DNS
 * answer nor a redirect can reach an internal service. */
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

#define BODY_KEEP 512 /* bytes of a webhook answer kept for error messages */

#ifndef EP_VERSION
#define EP_VERSION "0.0.0"
#endif

struct sink {
	char data[BODY_KEEP + 1];
	size_t len;
};

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb, room = BODY_KEEP - s->len;

	memcpy(s->data + s->len, ptr, n < room ? n : room);
	s->len += n < room ? n : room;
	s->data[s->len] = '\0';
	return n;
}

struct guard {
	bool allow_private;
	bool refused;
	char refused_ip[64];
};

static void sockaddr_text(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *addr =
		sa->sa_family == AF_INET6
			? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr
			: (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;

	if (!inet_ntop(sa->sa_family, addr, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

/* Last line of defence: the address curl is about to connect to. */
static curl_socket_t guard_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	struct guard *g = clientp;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!g->allow_private && coll_addr_is_private(&address->addr)) {
		g->refused = true;
		sockaddr_text(&address->addr, g->refused_ip, sizeof(g->refused_ip));
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

/* DingTalk, WeCom and Feishu answer HTTP 200 even when they drop the
 * message: the verdict is an error code in the JSON body. Rate limits are
 * worth retrying; anything else (bad keyword, bad token) is not. */
static void chat_api_verdict(struct coll_send_result *res, const char *body)
{
	static const long rate_limited[] = {
		130101, /* DingTalk: sending too fast */
		45009,  /* WeCom: API frequency limit */
		9499,   /* Feishu: too many requests */
		11232,  /* Feishu: frequency limited */
	};
	json_t *j = body && body[0] == '{' ? json_loads(body, 0, NULL) : NULL;
	const json_t *code = NULL, *text = NULL;
	long c;

	if (json_is_object(j)) {
		if (json_is_integer(json_object_get(j, "errcode"))) {
			code = json_object_get(j, "errcode");
			text = json_object_get(j, "errmsg");
		} else if (json_is_integer(json_object_get(j, "code")) &&
			   json_is_string(json_object_get(j, "msg"))) {
			code = json_object_get(j, "code");
			text = json_object_get(j, "msg");
		} else if (json_is_integer(json_object_get(j, "StatusCode"))) {
			code = json_object_get(j, "StatusCode");
			text = json_object_get(j, "StatusMessage");
		}
	}
	c = code ? (long)json_integer_value(code) : 0;
	if (c == 0) {
		coll_send_result_set(res, COLL_SEND_OK, "%s", "");
	} else {
		enum coll_send_outcome o = COLL_SEND_PERMANENT;
		for (size_t i = 0; i < EP_ARRAY_SIZE(rate_limited); i++)
			if (c == rate_limited[i])
				o = COLL_SEND_RETRY;
		coll_send_result_set(
			res, o, "HTTP %ld but the receiver refused the message: code %ld: %.150s",
			res->status, c, json_is_string(text) ? json_string_value(text) : "");
	}
	json_decref(j);
}

int coll_webhook_send(const char *url, const char *body, size_t len,
		      const struct coll_send_opts *opts, struct coll_send_result *ret)
{
	struct coll_send_result res = {0};
	struct guard guard = {.allow_private = opts && opts->allow_private};
	struct sink sink = {.len = 0};
	char errbuf[CURL_ERROR_SIZE] = "", pin[512], addrtext[64] = "";
	char *scheme = NULL, *host = NULL, *port = NULL, *ip = NULL;
	struct curl_slist *headers = NULL, *resolve = NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	CURLU *u = NULL;
	CURL *h = NULL;
	CURLcode cc;
	long status = 0;
	int gai;

	if (!url || (!body && len) || !ret)
		return -EINVAL;

	u = curl_url();
	if (!u) {
		coll_send_result_set(&res, COLL_SEND_RETRY, "out of memory");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		coll_send_result_set(&res, COLL_SEND_PERMANENT, "webhook URL is not a valid URL");
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		coll_send_result_set(&res, COLL_SEND_PERMANENT,
				     "webhook URL scheme %s: only http and https", scheme);
		goto out;
	}

	/* resolve once, check every answer, pin the connection to the checked one */
	{
		char bare[256];
		size_t hl = strlen(host);
		if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
			snprintf(bare, sizeof(bare), "%.*s", (int)(hl - 2), host + 1);
		} else {
			snprintf(bare, sizeof(bare), "%s", host);
		}
		gai = getaddrinfo(bare, port, &hints, &ai);
		if (gai != 0) {
			/* a DNS outage looks like a missing name: always retry */
			coll_send_result_set(&res, COLL_SEND_RETRY, "cannot resolve %s: %s", bare,
					     gai_strerror(gai));
			goto out;
		}
		for (struct addrinfo *p = ai; p; p = p->ai_next) {
			char t[64];
			if (p->ai_family != AF_INET && p->ai_family != AF_INET6)
				continue;
			sockaddr_text(p->ai_addr, t, sizeof(t));
			if (!guard.allow_private && coll_addr_is_private(p->ai_addr)) {
				coll_send_result_set(
					&res, COLL_SEND_PERMANENT,
					"refused: %s resolves to %s, a private, loopback or "
					"link-local address (set allow_private to permit)",
					bare, t);
				goto out;
			}
			if (!addrtext[0])
				snprintf(addrtext, sizeof(addrtext), "%s", t);
		}
		if (!addrtext[0]) {
			coll_send_result_set(&res, COLL_SEND_RETRY, "no usable address for %s",
					     bare);
			goto out;
		}
		if (host[0] != '[' && strchr(addrtext, ':'))
			snprintf(pin, sizeof(pin), "%s:%s:[%s]", host, port, addrtext);
		else
			snprintf(pin, sizeof(pin), "%s:%s:%s", host, port, addrtext);
		if (host[0] != '[') { /* an IPv6 literal needs no pin */
			resolve = curl_slist_append(NULL, pin);
			if (!resolve) {
				coll_send_result_set(&res, COLL_SEND_RETRY, "out of memory");
				goto out;
			}
		}
	}

	h = curl_easy_init();
	headers = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
	if (!h || !headers) {
		coll_send_result_set(&res, COLL_SEND_RETRY, "out of memory");
		goto out;
	}
	coll_send_apply_common(h, opts, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (resolve)
		curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, guard_open);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &guard);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "erpulse-collector/" EP_VERSION);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);

	cc = curl_easy_perform(h);
	if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
		snprintf(res.primary_ip, sizeof(res.primary_ip), "%s", ip);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	res.status = status;
	if (guard.refused) {
		coll_send_result_set(
			&res, COLL_SEND_PERMANENT,
			"refused: connection to %s, a private, loopback or link-local address",
			guard.refused_ip);
		goto out;
	}
	if (cc != CURLE_OK) {
		coll_send_result_set(
			&res, coll_curl_error_permanent(cc) ? COLL_SEND_PERMANENT : COLL_SEND_RETRY,
			"%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	if (!guard.allow_private && res.primary_ip[0] &&
	    coll_ip_text_is_private(res.primary_ip) != 0) {
		/* cannot happen past guard_open; kept as the documented second check */
		coll_send_result_set(&res, COLL_SEND_PERMANENT, "refused: connected to %s",
				     res.primary_ip);
		goto out;
	}
	if (status >= 200 && status < 300)
		chat_api_verdict(&res, sink.data);
	else if (status >= 300 && status < 400)
		coll_send_result_set(
			&res, COLL_SEND_PERMANENT,
			"HTTP %ld: redirects are not followed; configure the final URL", status);
	else if (status == 408 || status == 425 || status == 429 || status >= 500)
		coll_send_result_set(&res, COLL_SEND_RETRY, "HTTP %ld: %.200s", status, sink.data);
	else
		coll_send_result_set(&res, COLL_SEND_PERMANENT, "HTTP %ld: %.200s", status,
				     sink.data);
out:
	if (ai)
		freeaddrinfo(ai);
	curl_slist_free_all(headers);
	curl_slist_free_all(resolve);
	curl_easy_cleanup(h);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	*ret = res;
	return 0;
}
