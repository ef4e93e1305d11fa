/* The log probe's files (probes/log/files.h): found by glob, read
 * incrementally and rotation-safely (docs/probes-host.md).
 *
 * Per file the state keeps (dev, inode, offset) plus a hash of the file's
 * first bytes. Each cycle:
 *  - a tracked inode still matched by the globs is read on from its offset;
 *    if it shrank or its first bytes changed (copytruncate, or a file
 *    replaced in place) it is read from the start, after the tail of the
 *    copy (a sibling "NAME.1"-style file with the old first bytes) is read;
 *  - a tracked inode no longer matched (rename rotation) is looked up among
 *    the siblings of its old path ("NAME.1", "NAME-20261126", ...) and its
 *    unread tail is finished; it stays tracked one more cycle for writers
 *    that have not reopened yet;
 *  - a file not seen before is read from its start, except on the very first
 *    run (no state yet), where pre-existing files start at their end unless
 *    start_at = beginning;
 *  - only complete lines are consumed, so a line being written is counted
 *    once, when its newline arrives. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erpulse/probe.h"
#include "probes/log/files.h"
#include "probes/log/scan.h"

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Hash of the first len bytes of fd; false if the file is shorter. */
static bool head_hash(int fd, uint64_t len, uint64_t *ret)
{
	char head[LOG_HEAD_BYTES];
	ssize_t got;

	if (len > sizeof(head))
		len = sizeof(head);
	if (len == 0) {
		*ret = hash_bytes("", 0);
		return true;
	}
	got = pread(fd, head, len, 0);
	if (got != (ssize_t)len)
		return false;
	*ret = hash_bytes(head, len);
	return true;
}

static bool is_compressed(const char *path)
{
	static const char *const ext[] = {".gz", ".xz", ".bz2", ".zst", ".lz4", ".zip", ".Z"};
	size_t n = strlen(path);

	for (size_t i = 0; i < EP_ARRAY_SIZE(ext); i++) {
		size_t e = strlen(ext[i]);
		if (n > e && strcmp(path + n - e, ext[i]) == 0)
			return true;
	}
	return false;
}

static struct probe_log_file *cycle_add(struct probe_log_cycle *cy)
{
	if (cy->n == cy->cap) {
		size_t cap = cy->cap ? cy->cap * 2 : 16;
		struct probe_log_file *f = realloc(cy->files, cap * sizeof(*f));
		if (!f)
			return NULL;
		cy->files = f;
		cy->cap = cap;
	}
	memset(&cy->files[cy->n], 0, sizeof(cy->files[0]));
	return &cy->files[cy->n++];
}

static void note_error(struct probe_log_cycle *cy, const char *verb, const char *path, int errnum)
{
	/* -EMEDIUMTYPE: open_file's "not a regular file" */
	const char *why = errnum == EMEDIUMTYPE ? "not a regular file" : strerror(errnum);
	const char *hint = errnum == EACCES ? " (give the erpulse user read access, e.g. add it "
					      "to the group adm)"
					    : "";

	cy->n_errors++;
	if (!cy->first_error[0])
		ep_snprintf(cy->first_error, sizeof(cy->first_error), "cannot %s %s: %s%s", verb,
			    path, why, hint);
	if (cy->n_unreadable < PROBE_LOG_MAX_UNREADABLE) {
		struct probe_log_unreadable *u = &cy->unreadable[cy->n_unreadable++];
		ep_snprintf(u->path, sizeof(u->path), "%s", path);
		ep_snprintf(u->why, sizeof(u->why), "%s%s", why, hint);
	}
}

int probe_log_glob_errfunc(const char *epath, int eerrno)
{
	(void)epath;
	(void)eerrno;
	return 0; /* go on; a pattern with no readable match is reported below */
}

/* Reads from f->off to EOF (or budget/deadline) through the scanner. */
static void read_file(const struct probe_log_ctx *c, struct probe_log_cycle *cy,
		      struct probe_log_file *f, int fd)
{
	size_t have = 0; /* bytes of a partial line carried at the start of buf */
	uint64_t pos = f->off;

	cy->sc.skipping = f->skip;
	for (;;) {
		if (cy->budget_left <= 0)
			break;
		if (ep_deadline_left_ms(cy->deadline) < 100) {
			cy->cut = true;
			break;
		}
		size_t want = cy->bufsize - have;
		if ((int64_t)want > cy->budget_left)
			want = (size_t)cy->budget_left;
		ssize_t got = pread(fd, cy->buf + have, want, (off_t)(pos + have));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			snprintf(f->error, sizeof(f->error), "read: %s", strerror(errno));
			note_error(cy, "read", f->path, errno);
			break;
		}
		if (got == 0)
			break;
		cy->budget_left -= got;
		size_t len = have + (size_t)got;
		size_t used = probe_log_scan(&cy->sc, cy->buf, len);
		pos += used;
		f->read += used;
		have = len - used;
		if (have > 0 && used > 0)
			memmove(cy->buf, cy->buf + used, have);
		if (have >= cy->bufsize) /* cannot happen: bufsize > max_line */
			break;
	}
	f->off = pos;
	f->skip = cy->sc.skipping;
	probe_log_scanner_flush(&cy->sc); /* records do not run on into another file */
	(void)c;
}

/* Opens path, checks it is a regular file; fills dev/ino/size. */
static int open_file(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return S_ISDIR(st->st_mode) ? -EISDIR : -EMEDIUMTYPE;
	}
	return fd;
}

/* Looks for a rotated copy of f among the siblings of f->path whose name
 * starts with its base name: by inode (rename rotation) or, with by_head, by
 * the hash of its first bytes and a size of at least f->off (copytruncate).
 * Writes the found path into out. */
static bool find_sibling(const struct probe_log_file *f, bool by_head, char *out, size_t outsize)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(f->path, '/');
	const char *base;
	size_t blen;
	DIR *d;
	struct dirent *de;
	size_t seen = 0;
	bool found = false;

	if (!slash)
		return false;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - f->path) ? (int)(slash - f->path) : 1,
		 f->path);
	base = slash + 1;
	blen = strlen(base);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d)) && seen++ < LOG_MAX_SIBLINGS) {
		char p[PATH_MAX];
		struct stat st;

		if (strncmp(de->d_name, base, blen) != 0 || de->d_name[blen] == '\0' ||
		    is_compressed(de->d_name))
			continue;
		if (ep_snprintf(p, sizeof(p), "%s/%s", strcmp(dir, "/") ? dir : "", de->d_name) < 0)
			continue;
		if (!by_head) {
			if (stat(p, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino) {
				snprintf(out, outsize, "%s", p);
				found = true;
			}
			continue;
		}
		int fd = open_file(p, &st);
		uint64_t h;
		if (fd < 0)
			continue;
		if ((uint64_t)st.st_size >= f->off && head_hash(fd, f->head_len, &h) &&
		    h == f->head_hash && !(st.st_dev == f->dev && st.st_ino == f->ino)) {
			snprintf(out, outsize, "%s", p);
			found = true;
		}
		close(fd);
	}
	closedir(d);
	return found;
}

/* Finishes the unread tail [f->off, EOF) of the file at path. */
static void drain_tail(const struct probe_log_ctx *c, struct probe_log_cycle *cy,
		       struct probe_log_file *f, const char *path)
{
	struct stat st;
	int fd = open_file(path, &st);

	if (fd < 0) {
		cy->lost++;
		return;
	}
	if ((uint64_t)st.st_size > f->off)
		read_file(c, cy, f, fd);
	f->size = (uint64_t)st.st_size;
	close(fd);
}

static void update_head(struct probe_log_file *f, int fd)
{
	uint64_t want = f->off < LOG_HEAD_BYTES ? f->off : LOG_HEAD_BYTES;
	if (f->head_len < want && head_hash(fd, want, &f->head_hash))
		f->head_len = want;
}

static struct probe_log_file *find_tracked(struct probe_log_cycle *cy, size_t n_old, dev_t dev,
					   ino_t ino)
{
	for (size_t i = 0; i < n_old; i++)
		if (cy->files[i].dev == dev && cy->files[i].ino == ino)
			return &cy->files[i];
	return NULL;
}

static json_int_t jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

void probe_log_state_load(struct probe_log_cycle *cy, const json_t *state)
{
	const json_t *files = json_object_get(state, "files");
	size_t i;
	const json_t *e;

	json_array_foreach(files, i, e)
	{
		const char *p = json_string_value(json_object_get(e, "path"));
		if (!p || cy->n >= LOG_MAX_FILES)
			continue;
		struct probe_log_file *f = cycle_add(cy);
		if (!f)
			return;
		ep_snprintf(f->path, sizeof(f->path), "%s", p);
		f->dev = (dev_t)jint(e, "dev");
		f->ino = (ino_t)jint(e, "ino");
		f->off = (uint64_t)jint(e, "off");
		f->head_len = (uint64_t)jint(e, "hl");
		const char *hh = json_string_value(json_object_get(e, "hh"));
		f->head_hash = hh ? strtoull(hh, NULL, 16) : 0;
		f->skip = json_is_true(json_object_get(e, "skip"));
		f->was_rotated = json_is_true(json_object_get(e, "rot"));
	}
}

int probe_log_state_save(const struct probe_log_cycle *cy, json_t *state)
{
	json_t *files = json_array();
	char hh[32];

	if (!files)
		return -ENOMEM;
	for (size_t i = 0; i < cy->n; i++) {
		const struct probe_log_file *f = &cy->files[i];
		if (!f->keep)
			continue;
		snprintf(hh, sizeof(hh), "%016" PRIx64, f->head_hash);
		json_t *e = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:b, s:b}", "path", f->path,
				      "dev", (json_int_t)f->dev, "ino", (json_int_t)f->ino, "off",
				      (json_int_t)f->off, "hl", (json_int_t)f->head_len, "hh", hh,
				      "skip", f->skip, "rot", f->rotated);
		if (!e || json_array_append_new(files, e) < 0) {
			json_decref(files);
			return -ENOMEM;
		}
	}
	if (json_object_set_new(state, "files", files) < 0 ||
	    json_object_set_new(state, "v", json_integer(1)) < 0 ||
	    json_object_set_new(state, "last_run_ms", json_integer(ep_wall_ms())) < 0)
		return -ENOMEM;
	return 0;
}

/* Path as a JSON string (invalid UTF-8 bytes become '?'). */
json_t *probe_log_json_path(const char *p)
{
	if (ep_utf8_valid(p, strlen(p)))
		return json_string(p);
	char tmp[PATH_MAX];
	size_t i;
	for (i = 0; p[i] && i + 1 < sizeof(tmp); i++)
		tmp[i] = (unsigned char)p[i] >= 0x80 ? '?' : p[i];
	tmp[i] = '\0';
	return json_string(tmp);
}

/* One tracked or new file that the globs matched this cycle. */
void probe_log_process_current(const struct probe_log_ctx *c, struct probe_log_cycle *cy,
			       struct probe_log_file *f, int fd, const struct stat *st, bool is_new,
			       bool first_run)
{
	f->keep = true;
	f->rotated = false;
	f->size = (uint64_t)st->st_size;
	if (is_new) {
		f->off = (first_run && c->start_at_end) ? (uint64_t)st->st_size : 0;
		f->skip = false;
		f->head_len = 0;
		if (first_run && c->start_at_end && st->st_size > 0) {
			/* start after the last complete line: a partial one is counted when done */
			char tail[4096];
			uint64_t from = f->off > sizeof(tail) ? f->off - sizeof(tail) : 0;
			ssize_t got = pread(fd, tail, (size_t)(f->off - from), (off_t)from);
			if (got > 0) {
				ssize_t k = got;
				while (k > 0 && tail[k - 1] != '\n')
					k--;
				if (k > 0)
					f->off = from + (uint64_t)k;
				else if (got == (ssize_t)(f->off - from) && from == 0)
					f->off = 0;
				/* else: the last line is longer than 4 KiB; start at the end */
			}
		}
	} else {
		uint64_t h;
		bool same_head = head_hash(fd, f->head_len, &h) && h == f->head_hash;
		if ((uint64_t)st->st_size < f->off || !same_head) {
			/* truncated or replaced in place: finish the copy's tail, then restart */
			char copy[PATH_MAX];
			if (f->off > 0 && find_sibling(f, true, copy, sizeof(copy))) {
				struct probe_log_file tmp = *f;
				drain_tail(c, cy, &tmp, copy);
				f->read += tmp.read;
			}
			f->off = 0;
			f->skip = false;
			f->head_len = 0;
		}
	}
	if ((uint64_t)st->st_size > f->off)
		read_file(c, cy, f, fd);
	update_head(f, fd);
	if (f->size > f->off)
		cy->backlog += f->size - f->off;
}

/* Expands the globs: every readable regular file is opened and tied to its
 * tracked entry (by inode) or to a new one. Errors go into cy. */
size_t probe_log_expand_globs(const struct probe_log_ctx *c, struct probe_log_cycle *cy,
			      size_t n_old, struct probe_log_match *ms, size_t max,
			      json_t *patterns_out)
{
	size_t nm = 0;

	for (size_t p = 0; c->paths[p]; p++) {
		char pat[PATH_MAX];
		glob_t g;
		size_t matched = 0;

		if (ep_snprintf(pat, sizeof(pat), "%s%s", c->root, c->paths[p]) < 0)
			continue;
		int gr = glob(pat, 0, probe_log_glob_errfunc, &g);
		for (size_t i = 0; gr == 0 && i < g.gl_pathc; i++) {
			const char *path = g.gl_pathv[i];
			struct stat st;
			if (is_compressed(path))
				continue;
			matched++;
			int fd = open_file(path, &st);
			if (fd == -EISDIR && strpbrk(c->paths[p], "*?["))
				continue; /* a glob may match directories: not sources */
			if (fd < 0) {
				struct probe_log_file *f = cy->n < cy->cap ? cycle_add(cy) : NULL;
				if (f) {
					ep_snprintf(f->path, sizeof(f->path), "%s", path);
					ep_snprintf(f->error, sizeof(f->error), "%s",
						    fd == -EMEDIUMTYPE ? "not a regular file"
								       : strerror(-fd));
				}
				note_error(cy, "open", path, -fd);
				continue;
			}
			struct probe_log_file *f = find_tracked(cy, n_old, st.st_dev, st.st_ino);
			bool is_new = false, dup = false;
			for (size_t k = 0; k < nm; k++)
				if (ms[k].st.st_dev == st.st_dev && ms[k].st.st_ino == st.st_ino)
					dup = true; /* matched by two patterns, or a hard link */
			if (dup || nm >= max) {
				close(fd);
				continue;
			}
			if (!f) {
				f = cy->n < cy->cap ? cycle_add(cy) : NULL;
				if (!f) {
					close(fd);
					continue;
				}
				f->dev = st.st_dev;
				f->ino = st.st_ino;
				is_new = true;
			}
			ep_snprintf(f->path, sizeof(f->path), "%s", path);
			f->keep = true; /* matched: not a rotated file */
			ms[nm++] = (struct probe_log_match){
				.fd = fd, .st = st, .f = f, .is_new = is_new};
		}
		if (gr == 0)
			globfree(&g);
		json_t *pe = json_object();
		if (pe) {
			json_object_set_new(pe, "pattern", probe_log_json_path(c->paths[p]));
			json_object_set_new(pe, "matched", json_integer((json_int_t)matched));
			json_array_append_new(patterns_out, pe);
		}
		if (matched == 0) {
			struct stat st;
			int e = (stat(pat, &st) < 0) ? errno : ENOENT;
			if (!strpbrk(c->paths[p], "*?[") || e == EACCES)
				note_error(cy, "read", pat, e);
		}
	}
	return nm;
}

/* Tracked files that the globs no longer match: rotated (finish the tail)
 * or gone. */
void probe_log_finish_rotated(const struct probe_log_ctx *c, struct probe_log_cycle *cy,
			      size_t n_old)
{
	for (size_t i = 0; i < n_old; i++) {
		struct probe_log_file *f = &cy->files[i];
		char where[PATH_MAX];
		struct stat st;

		if (f->keep)
			continue;
		if (stat(f->path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino)
			ep_snprintf(where, sizeof(where), "%s", f->path);
		else if (!find_sibling(f, false, where, sizeof(where))) {
			if (!f->was_rotated)
				cy->lost++; /* rotated and already compressed or deleted */
			continue;
		}
		uint64_t before = f->read;
		ep_snprintf(f->path, sizeof(f->path), "%s", where);
		drain_tail(c, cy, f, where);
		/* keep it one more cycle unless it was already drained last cycle
		 * and nothing arrived since */
		f->keep = !(f->was_rotated && f->read == before && f->size <= f->off);
		f->rotated = true;
		if (f->size > f->off)
			cy->backlog += f->size - f->off;
	}
}
