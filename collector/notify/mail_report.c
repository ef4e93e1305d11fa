/* The monthly report's mail (notify.h, coll_report_mail_render): MIME by
 * hand, as smtp.c does for notices: every body part in base64 (76-column
 * lines), so the message is 7-bit whatever the language; a non-ASCII
 * attachment name in RFC 2231 form (filename*=UTF-8''...). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "collector/notify/channel.h"
#include "collector/notify/notify.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

#define MAIL_MAX (64u << 20)

static bool has_crlf(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

/* data in base64, 57 input bytes (76 characters) per line. */
static int put_base64(struct ep_buf *b, const void *data, size_t len)
{
	const unsigned char *p = data;
	char line[80];
	int r = 0;
	for (size_t off = 0; off < len && r == 0; off += 57) {
		size_t n = len - off > 57 ? 57 : len - off;
		r = ep_base64_encode(p + off, n, line, sizeof(line));
		if (r == 0)
			r = ep_buf_printf(b, "%s\r\n", line);
	}
	return r;
}

/* A file name parameter safe in a quoted string: printable ASCII but '"'
 * and '\\'; anything else becomes '_'. */
static void ascii_fallback(const char *in, char *out, size_t size)
{
	size_t o = 0;
	for (; *in && o + 1 < size; in++) {
		unsigned char c = (unsigned char)*in;
		if ((c & 0xC0) == 0x80)
			continue; /* one '_' per non-ASCII character */
		out[o++] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '_' : (char)c;
	}
	out[o] = '\0';
}

static bool plain_name(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\')
			return false;
	return true;
}

/* RFC 2231 ext-value: attr-char as is, every other byte %XX (no charset). */
static int put_pct(struct ep_buf *b, const char *s)
{
	int r = 0;
	for (; *s && r == 0; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("!#$&+-.^_`|~", c))
			r = ep_buf_append(b, s, 1);
		else
			r = ep_buf_printf(b, "%%%02X", c);
	}
	return r;
}

/* attr="value" when value is plain ASCII, else attr*=UTF-8''%XX...; fold
 * (mail): a long encoded value in RFC 2231 continuations of at most 60
 * characters a line (attr*0*=UTF-8''...;CRLF attr*1*=...), never cutting a
 * %XX. */
static int put_param(struct ep_buf *b, const char *attr, const char *value, bool fold)
{
	if (plain_name(value))
		return ep_buf_printf(b, "%s=\"%s\"", attr, value);
	struct ep_buf enc;
	ep_buf_init(&enc, 16384);
	int r = put_pct(&enc, value);
	if (r == 0 && (!fold || enc.len <= 60))
		r = ep_buf_printf(b, "%s*=UTF-8''%s", attr, enc.data ? enc.data : "");
	else
		for (size_t pos = 0, k = 0; r == 0 && pos < enc.len; k++) {
			size_t n = enc.len - pos > 60 ? 60 : enc.len - pos;
			if (pos + n < enc.len && enc.data[pos + n - 1] == '%')
				n -= 1;
			else if (pos + n < enc.len && enc.data[pos + n - 2] == '%')
				n -= 2;
			r = ep_buf_printf(b, "%s%s*%zu*=%s%.*s", k ? ";\r\n " : "", attr, k,
					  k ? "" : "UTF-8''", (int)n, enc.data + pos);
			pos += n;
		}
	ep_buf_free(&enc);
	return r;
}

int coll_content_disposition(const char *filename, char **ret)
{
	char fallback[512];
	struct ep_buf b;
	if (!filename || has_crlf(filename))
		return -EINVAL;
	ascii_fallback(filename, fallback, sizeof(fallback));
	ep_buf_init(&b, 8192);
	/* RFC 6266: browsers that know filename* prefer it, whatever the order */
	int r = ep_buf_printf(&b, "attachment; filename=\"%s\"", fallback);
	if (r == 0 && !plain_name(filename)) {
		r = ep_buf_printf(&b, "; ");
		if (r == 0)
			r = put_param(&b, "filename", filename, false);
	}
	if (r) {
		ep_buf_free(&b);
		return r;
	}
	*ret = ep_buf_steal(&b);
	return 0;
}

int coll_report_mail_render(const struct coll_report_mail *m, char **ret_message)
{
	struct ep_buf b;
	char date[64], mixed[64], alt[64], hex[33];
	unsigned char rnd[16];
	int r = 0;

	if (!m || !m->from || !m->to || !m->pdf_filename || !ret_message || has_crlf(m->from) ||
	    has_crlf(m->to) || has_crlf(m->message_id) || has_crlf(m->pdf_filename))
		return -EINVAL;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		ep_random_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	/* "=_" cannot occur in base64 text: the boundaries never clash */
	snprintf(mixed, sizeof(mixed), "=_erpulse_mixed_%s", hex);
	snprintf(alt, sizeof(alt), "=_erpulse_alt_%s", hex);
	coll_mail_date(m->at, date, sizeof(date));
	char subj[1024];
	snprintf(subj, sizeof(subj), "%s", m->subject ? m->subject : "");
	for (char *p = subj; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';

	ep_buf_init(&b, MAIL_MAX);
	/* one address a line: a long list stays under the 998-octet limit */
	r |= ep_buf_printf(&b, "From: %s\r\nTo:", m->from);
	bool first = true;
	for (const char *p = m->to; *p && r == 0;) {
		size_t n = strcspn(p, ",");
		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		size_t k = n;
		while (k && (p[k - 1] == ' ' || p[k - 1] == '\t'))
			k--;
		if (k) {
			r |= ep_buf_printf(&b, "%s %.*s", first ? "" : ",\r\n", (int)k, p);
			first = false;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	r |= ep_buf_printf(&b, "\r\n");
	r |= coll_mail_put_subject(&b, subj);
	r |= ep_buf_printf(&b, "Date: %s\r\n", date);
	if (m->message_id)
		r |= ep_buf_printf(&b, "Message-ID: <%s>\r\n", m->message_id);
	r |= ep_buf_printf(&b,
			   "MIME-Version: 1.0\r\n"
			   "Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
			   "\r\nThis is a MIME message.\r\n",
			   mixed);
	/* the body: text, then the HTML report (the last part is preferred) */
	r |= ep_buf_printf(&b,
			   "--%s\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n",
			   mixed, alt);
	r |= ep_buf_printf(&b,
			   "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n",
			   alt);
	r |= put_base64(&b, m->text ? m->text : "", m->text ? strlen(m->text) : 0);
	if (m->html) {
		r |= ep_buf_printf(&b,
				   "--%s\r\nContent-Type: text/html; charset=UTF-8\r\n"
				   "Content-Transfer-Encoding: base64\r\n\r\n",
				   alt);
		r |= put_base64(&b, m->html, m->html_len);
	}
	r |= ep_buf_printf(&b, "--%s--\r\n", alt);
	/* the PDF */
	/* mail readers take the RFC 2231 form alone (a plain fallback beside it
	 * wins in some of them) */
	r |= ep_buf_printf(&b, "--%s\r\nContent-Type: application/pdf;\r\n ", mixed);
	r |= put_param(&b, "name", m->pdf_filename, true);
	r |= ep_buf_printf(&b, "\r\nContent-Disposition: attachment;\r\n ");
	r |= put_param(&b, "filename", m->pdf_filename, true);
	r |= ep_buf_printf(&b, "\r\n");
	r |= ep_buf_printf(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
	r |= put_base64(&b, m->pdf, m->pdf_len);
	r |= ep_buf_printf(&b, "--%s--\r\n", mixed);
	if (r) {
		ep_buf_free(&b);
		return r == -E2BIG ? -E2BIG : -ENOMEM;
	}
	*ret_message = ep_buf_steal(&b);
	return 0;
}
