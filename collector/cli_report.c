/* report CUSTOMER --month YYYY-MM [--lang L] [--format pdf|html]
 * [--time-zone TZ] [-o FILE] (docs/report.md): one customer's monthly
 * report into a file ("-" = standard output), written whole or not at all. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/cli.h"
#include "collector/report/report.h"
#include "collector/service/service.h"
#include "erpulse/util.h"

#define USAGE                                                                                      \
	"erpulse-collector report CUSTOMER --month YYYY-MM [--lang zh-CN|en] [--format pdf|html]"  \
	" [--time-zone TZ] [-o FILE]\n"

/* "2026-11" -> year, month. 0 or -EINVAL. */
static int parse_month(const char *s, int *y, int *m)
{
	char *end = NULL;
	if (!s || strlen(s) != 7 || s[4] != '-')
		return -EINVAL;
	long yy = strtol(s, &end, 10);
	if (end != s + 4)
		return -EINVAL;
	long mm = strtol(s + 5, &end, 10);
	if (*end || s[5] < '0' || s[5] > '9' || yy < 1970 || mm < 1 || mm > 12)
		return -EINVAL;
	*y = (int)yy;
	*m = (int)mm;
	return 0;
}

/* Writes data to path through path.tmp and a rename. 0 or -errno. */
static int write_file(const char *path, const unsigned char *data, size_t len)
{
	if (strcmp(path, "-") == 0)
		return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -EIO;
	char tmp[4096];
	if (ep_snprintf(tmp, sizeof(tmp), "%s.tmp", path) < 0)
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	int r = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int coll_cli_report(const struct coll_settings *cfg, struct coll_store *s, int argc, char **argv)
{
	const char *customer = NULL, *month = NULL, *lang = "en", *format = "pdf", *out = NULL;
	const char *tz = "UTC";
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if (strcmp(a, "--month") == 0 && has)
			month = argv[++i];
		else if (strcmp(a, "--lang") == 0 && has)
			lang = argv[++i];
		else if (strcmp(a, "--format") == 0 && has)
			format = argv[++i];
		else if (strcmp(a, "--time-zone") == 0 && has)
			tz = argv[++i];
		else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && has)
			out = argv[++i];
		else if (a[0] != '-' && !customer)
			customer = a;
		else {
			fprintf(stderr, "erpulse-collector: report: unexpected '%s'\n" USAGE, a);
			return 2;
		}
	}
	int y, m;
	if (!customer || !month) {
		fprintf(stderr,
			"erpulse-collector: report: CUSTOMER and --month are required\n" USAGE);
		return 2;
	}
	if (parse_month(month, &y, &m) < 0) {
		fprintf(stderr,
			"erpulse-collector: report: --month '%s': expected YYYY-MM, e.g. "
			"2026-11\n",
			month);
		return 2;
	}
	if (strcmp(lang, "en") != 0 && strcmp(lang, "zh-CN") != 0) {
		fprintf(stderr, "erpulse-collector: report: --lang '%s': expected zh-CN or en\n",
			lang);
		return 2;
	}
	enum coll_report_format f;
	if (strcmp(format, "pdf") == 0)
		f = COLL_REPORT_PDF;
	else if (strcmp(format, "html") == 0)
		f = COLL_REPORT_HTML;
	else {
		fprintf(stderr, "erpulse-collector: report: --format '%s': expected pdf or html\n",
			format);
		return 2;
	}
	struct coll_report_request rq = {
		.customer = customer,
		.year = y,
		.month = m,
		.lang = lang,
		.time_zone = tz,
		.now = coll_service_now(),
		.incidents = &cfg->service.ctx,
	};
	unsigned char *data = NULL;
	size_t len = 0;
	char err[1024] = "";
	int64_t t0 = ep_mono_ms();
	if (coll_report_render(s, &rq, f, &data, &len, err, sizeof(err)) < 0) {
		fprintf(stderr, "erpulse-collector: report: %s\n", err);
		return 1;
	}
	int64_t took = ep_mono_ms() - t0;
	char name[512];
	if (!out) {
		if (coll_report_filename(customer, y, m, lang, f, name, sizeof(name)) < 0) {
			free(data);
			fprintf(stderr,
				"erpulse-collector: report: customer name too long: use -o\n");
			return 1;
		}
		out = name;
	}
	int r = write_file(out, data, len);
	free(data);
	if (r < 0) {
		fprintf(stderr, "erpulse-collector: report: cannot write '%s': %s\n", out,
			strerror(-r));
		return 1;
	}
	if (strcmp(out, "-") != 0)
		fprintf(stderr, "erpulse-collector: report: %s (%zu bytes, %lld ms)\n", out, len,
			(long long)took);
	return 0;
}
