/* `erpulse-agent export -o FILE [--remove] [--max-mb N]`: the spooled,
 * signed reports into one bundle (include/erpulse/bundle.h, docs/protocol.md
 * "Bundles") for a host with no network path to the collector. The bundle
 * is written to a temporary file, fsync'd and renamed; only then, and only
 * with --remove, are the reports it holds deleted from the spool. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "erpulse/bundle.h"

#define BATCH 64

struct export
{
	const struct agent_conf *c;
	char spool[4096];
	FILE *f;
	int64_t max_bytes, bytes;
	int64_t *seqs; /* written, for --remove */
	size_t n, cap;
	int64_t skipped;
	bool limited;
	struct ep_keypair key;
};

static int put(struct export *x, const struct ep_buf *line)
{
	if (fwrite(line->data, 1, line->len, x->f) != line->len)
		return -errno ? -errno : -EIO;
	x->bytes += (int64_t)line->len;
	return 0;
}

static int remember(struct export *x, int64_t seq)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 256;
		int64_t *n = realloc(x->seqs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		x->seqs = n;
		x->cap = cap;
	}
	x->seqs[x->n++] = seq;
	return 0;
}

/* One spooled report into the bundle; a file gone meanwhile (delivered) or
 * damaged is skipped. 1 when the size limit stops the export. */
static int one(struct export *x, const char *agent_id, int64_t seq)
{
	char path[4096], sig[EP_SIGNATURE_B64_SIZE];
	unsigned char raw[EP_SIGNATURE_BYTES];
	struct ep_buf line;
	char *body = NULL;
	size_t len = 0, rawlen = 0;
	int r;

	agent_spool_path(x->spool, seq, path, sizeof(path));
	r = agent_spool_read(path, sig, &body, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0 || ep_base64_decode(sig, strlen(sig), raw, sizeof(raw), &rawlen) < 0 ||
	    rawlen != sizeof(raw) || ep_verify(x->key.public_key, body, len, raw) < 0) {
		fprintf(stderr,
			"erpulse-agent: export: skipped seq %lld: %s (the daemon quarantines it)\n",
			(long long)seq, r < 0 ? strerror(-r) : "signature does not match the body");
		x->skipped++;
		free(body);
		return 0;
	}
	ep_buf_init(&line, EP_BUNDLE_LINE_MAX);
	r = ep_bundle_report(&line, agent_id, seq, sig, body, len);
	free(body);
	if (r == 0 && x->max_bytes > 0 && x->bytes + (int64_t)line.len > x->max_bytes) {
		x->limited = true;
		r = 1;
	}
	if (r == 0)
		r = put(x, &line);
	if (r == 0)
		r = remember(x, seq);
	ep_buf_free(&line);
	return r;
}

static int write_all(struct export *x, const struct agent_state *st)
{
	struct ep_buf line;
	int64_t seqs[BATCH], after = 0;
	size_t n;
	int r;

	ep_buf_init(&line, 4096);
	r = ep_bundle_header(&line, st->agent_id, time(NULL));
	if (r == 0)
		r = put(x, &line);
	ep_buf_free(&line);
	while (r == 0) {
		r = agent_spool_after(x->spool, after, seqs, BATCH, &n);
		if (r < 0 || n == 0)
			break;
		for (size_t i = 0; i < n && r == 0; i++)
			r = one(x, st->agent_id, seqs[i]);
		after = seqs[n - 1];
	}
	if (r < 0)
		return r;
	ep_buf_init(&line, 256);
	r = ep_bundle_end(&line, (int64_t)x->n);
	if (r == 0)
		r = put(x, &line);
	ep_buf_free(&line);
	return r;
}

/* Temporary file beside path: ".NAME.tmp-XXXXXX". */
static FILE *open_temp(const char *path, char *tmp, size_t size)
{
	char copy[4096], copy2[4096];
	int fd;
	FILE *f;

	ep_snprintf(copy, sizeof(copy), "%s", path);
	ep_snprintf(copy2, sizeof(copy2), "%s", path);
	if (ep_snprintf(tmp, size, "%s/.%s.tmp-XXXXXX", dirname(copy), basename(copy2)) < 0) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		return NULL;
	fchmod(fd, 0640);
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
	}
	return f;
}

int agent_export(const struct agent_conf *c, const char *out_path, bool remove, int64_t max_bytes)
{
	struct export x = {.c = c, .max_bytes = max_bytes};
	struct agent_state st;
	char err[1024], keypath[4096], tmp[4200] = "";
	bool to_stdout = strcmp(out_path, "-") == 0;
	int rc = AGENT_EXIT_FAILURE, lockfd = -1, r;

	if (agent_drop_privileges(c, err, sizeof(err)) < 0) {
		fprintf(stderr, "erpulse-agent: %s\n", err);
		return AGENT_EXIT_FAILURE;
	}
	if (remove) {
		/* nobody else may send or drop a report while we delete them */
		lockfd = agent_lock_state(c->state_dir, err, sizeof(err));
		if (lockfd < 0) {
			fprintf(stderr,
				"erpulse-agent: export --remove: %s (stop the daemon first: "
				"systemctl stop erpulse-agent; or export without --remove)\n",
				err);
			return AGENT_EXIT_FAILURE;
		}
	}
	if (agent_state_load(c->state_dir, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "erpulse-agent: %s\n", err);
		goto out_lock;
	}
	if (!agent_state_enrolled(&st)) {
		fprintf(stderr,
			"erpulse-agent: export: not enrolled, so there is nothing signed to "
			"export (run erpulse-agent enroll --collector URL --token TOKEN)\n");
		rc = AGENT_EXIT_NOT_ENROLLED;
		goto out_state;
	}
	ep_snprintf(keypath, sizeof(keypath), "%s/agent.key", c->state_dir);
	if (ep_key_load(keypath, &x.key, err, sizeof(err)) < 0) {
		fprintf(stderr, "erpulse-agent: %s\n", err);
		goto out_state;
	}
	agent_spool_dir(c->state_dir, x.spool, sizeof(x.spool));
	x.f = to_stdout ? stdout : open_temp(out_path, tmp, sizeof(tmp));
	if (!x.f) {
		fprintf(stderr, "erpulse-agent: export: cannot create '%s': %s\n", out_path,
			strerror(errno));
		goto out_key;
	}
	r = write_all(&x, &st);
	if (r == 0 && fflush(x.f) != 0)
		r = -errno;
	if (r == 0 && !to_stdout && fsync(fileno(x.f)) != 0)
		r = -errno;
	if (!to_stdout && fclose(x.f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && !to_stdout && rename(tmp, out_path) != 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "erpulse-agent: export: cannot write '%s': %s (nothing removed)\n",
			out_path, strerror(-r));
		if (tmp[0])
			unlink(tmp);
		goto out_key;
	}
	if (!to_stdout) {
		char copy[4096];

		ep_snprintf(copy, sizeof(copy), "%s", out_path);
		ep_fsync_dir(dirname(copy));
	}
	fprintf(stderr, "erpulse-agent: exported %zu report(s)", x.n);
	if (x.n)
		fprintf(stderr, " (seq %lld to %lld)", (long long)x.seqs[0],
			(long long)x.seqs[x.n - 1]);
	fprintf(stderr, ", %lld bytes, to %s\n", (long long)x.bytes,
		to_stdout ? "standard output" : out_path);
	if (x.limited)
		fprintf(stderr,
			"erpulse-agent: stopped at --max-mb: newer reports are still in the "
			"spool; export them into another bundle (with --remove, run again)\n");
	if (remove) {
		size_t gone = 0;

		for (size_t i = 0; i < x.n; i++) {
			char path[4096];

			agent_spool_path(x.spool, x.seqs[i], path, sizeof(path));
			if (unlink(path) == 0)
				gone++;
			else if (errno != ENOENT)
				fprintf(stderr, "erpulse-agent: cannot remove '%s': %s\n", path,
					strerror(errno));
		}
		ep_fsync_dir(x.spool);
		fprintf(stderr, "erpulse-agent: removed %zu report(s) from the spool %s\n", gone,
			x.spool);
	} else if (x.n) {
		fprintf(stderr,
			"erpulse-agent: the reports stay in the spool %s (the agent still delivers "
			"them when it can; the collector answers duplicate for those already "
			"imported); export --remove deletes them once the bundle is written\n",
			x.spool);
	}
	rc = AGENT_EXIT_OK;
out_key:
	ep_key_wipe(&x.key);
out_state:
	agent_state_free(&st);
out_lock:
	free(x.seqs);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
