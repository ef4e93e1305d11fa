/* E-mail: the RFC 5322 message (coll_notice_render_mail) and one delivery
 * attempt over libcurl SMTP (coll_mail_send). */
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

#define MAIL_LINE_MAX 900 /* RFC 5322: lines at most 998 octets */

#ifndef EP_VERSION
#define EP_VERSION "0.0.0"
#endif

/* ---- e-mail ----------------------------------------------------------------- */

static bool has_crlf(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

static bool is_ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Subject header value: plain when printable ASCII, else RFC 2047 encoded
 * words of at most 45 input bytes (cut at UTF-8 boundaries), folded. */
int coll_mail_put_subject(struct ep_buf *b, const char *subject)
{
	size_t len = strlen(subject), pos = 0;
	int r = 0;

	if (is_ascii_printable(subject))
		return ep_buf_printf(b, "Subject: %s\r\n", subject);
	r |= ep_buf_printf(b, "Subject:");
	while (pos < len && r == 0) {
		size_t chunk = len - pos > 45 ? 45 : len - pos;
		char enc[80];
		while (pos + chunk < len && chunk > 0 &&
		       ((unsigned char)subject[pos + chunk] & 0xC0) == 0x80)
			chunk--;
		if (chunk == 0)
			chunk = 1;
		if (ep_base64_encode(subject + pos, chunk, enc, sizeof(enc)) < 0)
			return -ENOSPC;
		r |= ep_buf_printf(b, "%s=?UTF-8?B?%s?=", pos ? "\r\n " : " ", enc);
		pos += chunk;
	}
	r |= ep_buf_printf(b, "\r\n");
	return r;
}

/* Appends text with CRLF line ends, control characters (but tab) dropped and
 * lines wrapped at MAIL_LINE_MAX bytes on UTF-8 boundaries. */
static int put_body_text(struct ep_buf *b, const char *s)
{
	size_t col = 0;
	int r = 0;

	for (; *s && r == 0; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n') {
			r = ep_buf_append(b, "\r\n", 2);
			col = 0;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			continue;
		if (col >= MAIL_LINE_MAX && (c & 0xC0) != 0x80) {
			r = ep_buf_append(b, "\r\n", 2);
			col = 0;
		}
		if (r == 0)
			r = ep_buf_append(b, s, 1);
		col++;
	}
	return r;
}

void coll_mail_date(int64_t at, char *buf, size_t size)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = at > 0 ? (time_t)at : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int coll_notice_render_mail(const struct coll_notice *n, const char *from, const char *to,
			    char **ret_message)
{
	struct ep_buf b;
	char title[1024], date[64], val[64], when[32], idhex[33], subj[1024];
	unsigned char rnd[16];
	const char *domain;
	int r = 0;

	if (!n || !from || !to || !ret_message || has_crlf(from) || has_crlf(to))
		return -EINVAL;
	coll_notice_title(n, title, sizeof(title));
	/* the subject must not carry control characters from the data */
	snprintf(subj, sizeof(subj), "%s", title);
	for (char *p = subj; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	coll_mail_date(n->at, date, sizeof(date));
	coll_notice_value(n, val, sizeof(val));
	coll_notice_when(n, when, sizeof(when));
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		ep_random_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(idhex + 2 * i, 3, "%02x", rnd[i]);
	domain = strrchr(from, '@');
	domain = domain && domain[1] ? domain + 1 : "erpulse.invalid";

	ep_buf_init(&b, 256 * 1024);
	r |= ep_buf_printf(&b, "From: %s\r\n", from);
	r |= ep_buf_printf(&b, "To: %s\r\n", to);
	r |= coll_mail_put_subject(&b, subj);
	r |= ep_buf_printf(&b, "Date: %s\r\n", date);
	/* the domain may end in '>' when from is "Name <addr>" */
	r |= ep_buf_printf(&b, "Message-ID: <%s.erpulse@%.*s>\r\n", idhex,
			   (int)strcspn(domain, ">"), domain);
	r |= ep_buf_printf(&b, "MIME-Version: 1.0\r\n");
	r |= ep_buf_printf(&b, "Content-Type: text/plain; charset=UTF-8\r\n");
	r |= ep_buf_printf(&b, "Content-Transfer-Encoding: 8bit\r\n");
	r |= ep_buf_printf(&b, "X-Erpulse-Rule: %s\r\n",
			   has_crlf(n->rule) ? "-" : coll_s_or(n->rule, "-"));
	r |= ep_buf_printf(&b, "X-Erpulse-State: %s\r\n", coll_notice_state_name(n->state));
	r |= ep_buf_printf(&b, "\r\n");
	r |= put_body_text(&b, title);
	r |= ep_buf_printf(&b, "\r\n\r\n");
	{
		static const size_t order[] = {5, 4, 0, 1, 2, 3, 6, 7}; /* state, severity, ... */
		struct coll_notice_field f[COLL_NOTICE_FIELDS];
		coll_notice_fields(n, val, when, f);
		for (size_t i = 0; i < EP_ARRAY_SIZE(order); i++) {
			size_t len = ep_text_width(f[order[i]].label); /* CJK: 2 columns */
			r |= ep_buf_printf(&b, "%s:%*s", f[order[i]].label,
					   len < 9 ? (int)(9 - len) : 1, "");
			r |= put_body_text(&b, f[order[i]].value);
			r |= ep_buf_printf(&b, "\r\n");
		}
	}
	if (n->message) {
		r |= ep_buf_printf(&b, "\r\n");
		r |= put_body_text(&b, n->message);
		r |= ep_buf_printf(&b, "\r\n");
	}
	if (n->remediation) {
		r |= ep_buf_printf(&b, "\r\n%s:\r\n", coll_notice_text(n, "notice.remediation"));
		r |= put_body_text(&b, n->remediation);
		r |= ep_buf_printf(&b, "\r\n");
	}
	if (n->dashboard_url) {
		r |= ep_buf_printf(&b, "\r\n%s: ", coll_notice_text(n, "notice.field.dashboard"));
		r |= put_body_text(&b, n->dashboard_url);
		r |= ep_buf_printf(&b, "\r\n");
	}
	if (r) {
		ep_buf_free(&b);
		return r == -E2BIG ? -E2BIG : -ENOMEM;
	}
	*ret_message = ep_buf_steal(&b);
	return 0;
}

struct upload {
	const char *data;
	size_t len, pos;
};

static size_t upload_read(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct upload *u = userdata;
	size_t room = size * nmemb, n = u->len - u->pos;

	if (n > room)
		n = room;
	memcpy(ptr, u->data + u->pos, n);
	u->pos += n;
	return n;
}

/* Splits "a@x, B <b@y>" into "<a@x>", "<b@y>" recipients. */
static int build_rcpts(const char *to, struct curl_slist **ret)
{
	struct curl_slist *list = NULL, *tmp;
	const char *p = to;

	while (*p) {
		size_t n = strcspn(p, ",");
		char item[512], addr[520];
		char *s = item, *e, *lt, *gt;
		snprintf(item, sizeof(item), "%.*s", (int)(n < 511 ? n : 511), p);
		p += n;
		if (*p == ',')
			p++;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*s)
			continue;
		lt = strchr(s, '<');
		gt = lt ? strchr(lt, '>') : NULL;
		if (lt && gt)
			snprintf(addr, sizeof(addr), "%.*s", (int)(gt - lt + 1), lt);
		else
			snprintf(addr, sizeof(addr), "<%s>", s);
		tmp = curl_slist_append(list, addr);
		if (!tmp) {
			curl_slist_free_all(list);
			return -ENOMEM;
		}
		list = tmp;
	}
	if (!list)
		return -EINVAL;
	*ret = list;
	return 0;
}

int coll_mail_send(const char *smtp_url, const char *from, const char *to, const char *message,
		   const struct coll_send_opts *opts, struct coll_send_result *ret)
{
	struct coll_send_result res = {0};
	struct curl_slist *rcpts = NULL;
	struct upload up = {.data = message, .len = message ? strlen(message) : 0};
	char errbuf[CURL_ERROR_SIZE] = "", mail_from[512];
	const char *lt, *gt;
	CURL *h = NULL;
	CURLcode cc;
	long code = 0;
	char *ip = NULL;

	if (!smtp_url || !from || !to || !message || !ret)
		return -EINVAL;
	if (strncmp(smtp_url, "smtp://", 7) != 0 && strncmp(smtp_url, "smtps://", 8) != 0) {
		coll_send_result_set(&res, COLL_SEND_PERMANENT,
				     "SMTP URL must start with smtp:// or smtps://");
		goto out;
	}
	if (has_crlf(from) || has_crlf(to) || build_rcpts(to, &rcpts) < 0) {
		coll_send_result_set(&res, COLL_SEND_PERMANENT, "no valid recipient in \"%.100s\"",
				     to);
		goto out;
	}
	lt = strchr(from, '<');
	gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		snprintf(mail_from, sizeof(mail_from), "%.*s", (int)(gt - lt + 1), lt);
	else
		snprintf(mail_from, sizeof(mail_from), "<%s>", from);

	h = curl_easy_init();
	if (!h) {
		coll_send_result_set(&res, COLL_SEND_RETRY, "out of memory");
		goto out;
	}
	coll_send_apply_common(h, opts, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, smtp_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	/* never send a password over a connection that did not upgrade to TLS */
	curl_easy_setopt(h, CURLOPT_USE_SSL,
			 opts && opts->smtp_user ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	if (opts && opts->smtp_user)
		curl_easy_setopt(h, CURLOPT_USERNAME, opts->smtp_user);
	if (opts && opts->smtp_password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, opts->smtp_password);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
		snprintf(res.primary_ip, sizeof(res.primary_ip), "%s", ip);
	res.status = code;
	if (cc == CURLE_OK)
		coll_send_result_set(&res, COLL_SEND_OK, "%s", "");
	else if (code >= 500 && code < 600)
		coll_send_result_set(&res, COLL_SEND_PERMANENT, "SMTP %ld: %s", code,
				     errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (code >= 400 && code < 500)
		coll_send_result_set(&res, COLL_SEND_RETRY, "SMTP %ld: %s", code,
				     errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else
		coll_send_result_set(
			&res, coll_curl_error_permanent(cc) ? COLL_SEND_PERMANENT : COLL_SEND_RETRY,
			"%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
out:
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(h);
	*ret = res;
	return 0;
}
