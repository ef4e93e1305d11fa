/* The spool: signed reports waiting for the collector, one file each,
 * "<20-digit seq>.report" in state_dir/spool (docs/agent.md, "Spool").
 *
 *   ERPULSE-SPOOL-1 <base64 signature> <body length>\n<body bytes>
 *
 * Written with temp file + fsync + rename + directory fsync before any
 * network I/O, so after a crash a report is either whole or absent. The
 * directory is only ever streamed (readdir, keeping the N lowest seqs), never
 * loaded whole: 100k spooled reports cost a bounded amount of memory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"

#define SPOOL_MAGIC    "ERPULSE-SPOOL-1 "
#define SPOOL_SUFFIX   ".report"
#define TEMP_MAX_AGE_S 60

int agent_spool_dir(const char *state_dir, char *buf, size_t size)
{
	return ep_snprintf(buf, size, "%s/spool", state_dir);
}

int agent_spool_path(const char *spool_dir, int64_t seq, char *buf, size_t size)
{
	return ep_snprintf(buf, size, "%s/%020lld" SPOOL_SUFFIX, spool_dir, (long long)seq);
}

/* seq from a spool file name, or -1 */
static int64_t name_seq(const char *name)
{
	int64_t seq;
	char digits[21];

	if (strlen(name) != 20 + strlen(SPOOL_SUFFIX) || strcmp(name + 20, SPOOL_SUFFIX) != 0)
		return -1;
	memcpy(digits, name, 20);
	digits[20] = '\0';
	for (int i = 0; i < 20; i++)
		if (digits[i] < '0' || digits[i] > '9')
			return -1;
	if (ep_parse_int64(digits, 1, INT64_MAX, &seq) < 0)
		return -1;
	return seq;
}

int agent_spool_write(const char *spool_dir, int64_t seq, const char *sig_b64, const char *body,
		      size_t len)
{
	char path[4096];
	struct ep_buf b;
	int r;

	if (agent_spool_path(spool_dir, seq, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	r = ep_mkdir_p(spool_dir, 0700);
	if (r < 0)
		return r;
	ep_buf_init(&b, AGENT_SPOOL_MAX_FILE);
	r = ep_buf_printf(&b, SPOOL_MAGIC "%s %zu\n", sig_b64, len);
	if (r == 0)
		r = ep_buf_append(&b, body, len);
	if (r == 0)
		r = ep_atomic_write(path, b.data, b.len, 0600);
	ep_buf_free(&b);
	return r;
}

int agent_spool_read(const char *path, char sig_b64[EP_SIGNATURE_B64_SIZE], char **ret_body,
		     size_t *ret_len)
{
	char *data = NULL, *nl, *sp, *body;
	size_t len = 0, mlen = strlen(SPOOL_MAGIC), siglen;
	int64_t blen;
	int r;

	r = ep_read_file(path, AGENT_SPOOL_MAX_FILE, &data, &len);
	if (r == -EFBIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	r = -EBADMSG;
	if (len < mlen || memcmp(data, SPOOL_MAGIC, mlen) != 0)
		goto out;
	nl = memchr(data, '\n', len);
	if (!nl || memchr(data, '\0', (size_t)(nl - data)))
		goto out; /* no header line, or a NUL would hide part of it */
	*nl = '\0';
	sp = strchr(data + mlen, ' ');
	if (!sp)
		goto out;
	*sp = '\0';
	siglen = strlen(data + mlen);
	if (siglen + 1 != EP_SIGNATURE_B64_SIZE)
		goto out;
	if (ep_parse_int64(sp + 1, 1, EP_REPORT_MAX_BYTES, &blen) < 0)
		goto out;
	body = nl + 1;
	if ((size_t)(data + len - body) != (size_t)blen)
		goto out; /* truncated or with trailing bytes */
	memcpy(sig_b64, data + mlen, EP_SIGNATURE_B64_SIZE);
	memmove(data, body, (size_t)blen);
	data[blen] = '\0';
	*ret_body = data;
	*ret_len = (size_t)blen;
	data = NULL;
	r = 0;
out:
	free(data);
	return r;
}

static bool is_stale_temp(int dfd, const char *name, int64_t now)
{
	struct stat st;

	if (name[0] != '.' || !strstr(name, ".tmp-"))
		return false;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return false;
	return (int64_t)st.st_mtime < now - TEMP_MAX_AGE_S;
}

int agent_spool_oldest(const char *spool_dir, int64_t *seqs, size_t max, size_t *ret_n)
{
	DIR *d;
	struct dirent *de;
	size_t n = 0;
	int64_t now = ep_wall_ms() / 1000;

	*ret_n = 0;
	d = opendir(spool_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		int64_t seq = name_seq(de->d_name);
		size_t pos;

		if (seq < 0) {
			if (is_stale_temp(dirfd(d), de->d_name, now))
				unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (n == max && seq >= seqs[n - 1])
			continue;
		/* insertion into the sorted window of the max lowest seqs */
		pos = n < max ? n : max - 1;
		while (pos > 0 && seqs[pos - 1] > seq) {
			seqs[pos] = seqs[pos - 1];
			pos--;
		}
		seqs[pos] = seq;
		if (n < max)
			n++;
	}
	closedir(d);
	*ret_n = n;
	return 0;
}

int agent_spool_stats(const char *spool_dir, struct agent_spool_stats *ret)
{
	DIR *d;
	struct dirent *de;
	struct stat st;

	memset(ret, 0, sizeof(*ret));
	d = opendir(spool_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		int64_t seq = name_seq(de->d_name);

		if (seq < 0 || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		ret->count++;
		ret->bytes += (int64_t)st.st_size;
		if (ret->oldest_seq == 0 || seq < ret->oldest_seq)
			ret->oldest_seq = seq;
	}
	closedir(d);
	return 0;
}

int agent_spool_quarantine(const char *spool_dir, const char *path)
{
	char qdir[4096], dst[4096];
	const char *base = strrchr(path, '/');
	int r;

	base = base ? base + 1 : path;
	if (ep_snprintf(qdir, sizeof(qdir), "%s/quarantine", spool_dir) < 0 ||
	    ep_snprintf(dst, sizeof(dst), "%s/%s", qdir, base) < 0)
		return -ENAMETOOLONG;
	r = ep_mkdir_p(qdir, 0700);
	if (r < 0)
		return r;
	if (rename(path, dst) != 0)
		return -errno;
	return ep_fsync_dir(spool_dir);
}

int agent_spool_enforce(const char *spool_dir, int64_t max_bytes, int64_t max_age_s, int64_t now,
			int64_t *ret_dropped)
{
	struct agent_spool_stats s;
	int64_t dropped = 0;
	int r;

	*ret_dropped = 0;
	r = agent_spool_stats(spool_dir, &s);
	if (r < 0)
		return r;
	while (s.count > 0) {
		char path[4096];
		struct stat st;
		int64_t seq;
		size_t n;
		bool over_size = max_bytes > 0 && s.bytes > max_bytes;

		r = agent_spool_oldest(spool_dir, &seq, 1, &n);
		if (r < 0 || n == 0)
			break;
		if (agent_spool_path(spool_dir, seq, path, sizeof(path)) < 0 ||
		    stat(path, &st) != 0)
			break;
		if (!over_size && !(max_age_s > 0 && (int64_t)st.st_mtime < now - max_age_s))
			break;
		dropped++; /* the drops it announced are still counted in the state */
		if (unlink(path) != 0) {
			r = -errno;
			break;
		}
		s.count--;
		s.bytes -= (int64_t)st.st_size;
	}
	if (dropped)
		(void)ep_fsync_dir(spool_dir);
	*ret_dropped = dropped;
	return r < 0 ? r : 0;
}
