/* libFuzzer target for the monthly report's delivery: any bytes as a URL of
 * the reports API (coll_custreports_url), as a month ("YYYY-MM") and as the
 * attachment's file name of the report mail and the download. Besides the
 * sanitizers it checks the contract: a parsed month is 1..12 and formats
 * back to its text; the mail is 7-bit with CRLF lines of at most 998 octets
 * (no header injection whatever the name); the Content-Disposition value
 * holds no CR, LF or NUL; a report's file name made of any customer name
 * (coll_report_filename) is valid UTF-8 without '/', controls or
 * bidirectional controls. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/http/http.h"
#include "collector/notify/notify.h"
#include "collector/report/report.h"
#include "collector/report/schedule.h"
#include "erpulse/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[512];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, n);
	text[n] = '\0';
	(void)coll_custreports_url(text);
	struct coll_month m;
	if (coll_month_parse(text, &m) == 0) {
		char back[16];
		if (m.month < 1 || m.month > 12)
			abort();
		coll_month_format(m, back, sizeof(back));
		if (strcmp(back, text) != 0)
			abort();
	}
	char *cd = NULL;
	if (coll_content_disposition(text, &cd) == 0) {
		if (strpbrk(cd, "\r\n"))
			abort();
		free(cd);
	}
	char file[300];
	if (coll_report_filename(text, 2026, 11, "zh-CN", COLL_REPORT_PDF, file, sizeof(file)) ==
	    0) {
		if (!ep_utf8_valid(file, strlen(file)) || strchr(file, '/') ||
		    strstr(file, "\xe2\x80\xae") || strstr(file, "\xe2\x81\xa6"))
			abort();
		for (const unsigned char *p = (const unsigned char *)file; *p; p++)
			if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0))
				abort();
	}
	static const unsigned char pdf[] = "%PDF-1.4\n%%EOF\n";
	struct coll_report_mail mail = {
		.from = "reports@vendor.example",
		.to = "a@b.example",
		.subject = text,
		.text = text,
		.html = data,
		.html_len = size,
		.pdf = pdf,
		.pdf_len = sizeof(pdf) - 1,
		.pdf_filename = text,
		.message_id = "report.x.2026-11.en@vendor.example",
		.at = 1796083200,
	};
	char *msg = NULL;
	if (coll_report_mail_render(&mail, &msg) == 0) {
		size_t col = 0;
		for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
			if (*p >= 0x80 ||
			    (*p == '\n' && (p == (const unsigned char *)msg || p[-1] != '\r')) ||
			    (*p == '\r' && p[1] != '\n'))
				abort();
			col = *p == '\n' ? 0 : col + 1;
			if (col > 999)
				abort();
		}
		free(msg);
	}
	return 0;
}
