/* The log probe: error records in log files found by glob, read
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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erpulse/probe.h"
#include "probes/log/presets.h"
#include "probes/log/scan.h"

#define LOG_HEAD_BYTES     1024      /* bytes of a file's start that identify its content */
#define LOG_READ_CHUNK     (1 << 20) /* read(2) size */
#define LOG_MAX_FILES      256       /* files per instance */
#define LOG_MAX_SIBLINGS   4096      /* directory entries looked at for a rotated file */
#define LOG_TOP_SIGNATURES 10

static const struct ep_option log_options[] = {
	{"paths", EP_OPT_LIST, NULL, 0, 0,
	 "Files to read: absolute paths or globs (several allowed, separated by spaces or commas). "
	 "Compressed files (.gz, .xz, .bz2, .zst) are skipped."},
	{"preset", EP_OPT_STRING, NULL, 0, 0,
	 "A built-in layout: odoo, erpnext (frappe), postgresql, mariadb (mysql), java (log4j). "
	 "Its patterns are defaults that the options below override."},
	{"header", EP_OPT_STRING, NULL, 0, 0,
	 "PCRE2 matching a record's first line, with named groups (?<level>...) and optionally "
	 "(?<message>...), the part that is signed."},
	{"record_start", EP_OPT_STRING, NULL, 0, 0,
	 "PCRE2 a line must match to start a record (default: the header)."},
	{"multiline", EP_OPT_BOOL, NULL, 0, 0,
	 "Lines that do not start a record (stack traces) belong to the record before them and "
	 "are not counted on their own. Default: the preset's, else no."},
	{"error_pattern", EP_OPT_STRING, NULL, 0, 0,
	 "PCRE2: a record with no level (no header match or an unknown level word) matching this "
	 "is an error record. Default: the preset's, else ERROR|FATAL|CRITICAL|Exception."},
	{"levels", EP_OPT_LIST, NULL, 0, 0,
	 "Extra level words: TOKEN=debug|info|warning|error|critical|continuation, e.g. "
	 "\"E=error W=warning\"."},
	{"start_at", EP_OPT_STRING, "end", 0, 0,
	 "First run only (no saved state): read files that already exist from their 'end' or "
	 "'beginning'. Files created later are always read from the beginning."},
	{"budget_mb", EP_OPT_INT, "256", 1, 1048576,
	 "At most this many MiB read per cycle; the rest waits for the next cycle "
	 "(backlog_bytes)."},
	{"max_line_kb", EP_OPT_INT, "64", 1, 16384,
	 "Longer lines are classified on this prefix and skipped to their end."},
	{"signatures", EP_OPT_BOOL, "yes", 0, 0, "Collect the top 10 error signatures."},
	{"error_rate_warning", EP_OPT_INT, "1", 0, 1000000,
	 "log_errors finding is a warning from this many error records per minute."},
	{"error_rate_critical", EP_OPT_INT, "10", 0, 1000000, "... and critical from this many."},
	{.key = NULL},
};

struct log_ctx {
	char name[128];
	char root[PATH_MAX];
	char **paths;
	struct probe_log_rules rules;
	bool start_at_end;
	int64_t budget;
	int64_t rate_warning, rate_critical;
};

/* One file of this cycle. */
struct log_file {
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
	uint64_t off;  /* next byte to read */
	uint64_t size; /* at the last fstat */
	uint64_t head_hash;
	uint64_t head_len;
	bool skip;    /* inside an over-long line */
	bool rotated; /* no longer matched by the globs: finishing its tail */
	bool was_rotated;
	bool keep;       /* goes back into the state */
	uint64_t read;   /* bytes consumed this cycle */
	char error[256]; /* why it could not be read */
};

struct log_cycle {
	struct log_file *files;
	size_t n, cap;
	char *buf;
	size_t bufsize;
	int64_t budget_left;
	uint64_t backlog;
	uint64_t lost;
	size_t n_errors;
	char first_error[512];
	struct probe_log_scanner sc;
	const struct ep_deadline *deadline;
	bool cut; /* stopped by the deadline */
};

static void log_free_ctx(struct log_ctx *c)
{
	if (!c)
		return;
	free(c->paths);
	probe_log_rules_free(&c->rules);
	free(c);
}

static int get_opt_string(const struct ep_config_section *s, const char *key, const char *dflt,
			  const char **ret, char *err, size_t errlen)
{
	int r = ep_config_get_string(s, log_options, key, ret, err, errlen);
	if (r == -ENOENT) {
		*ret = dflt;
		return 0;
	}
	return r;
}

static int log_init(const struct ep_config_section *section, const struct ep_probe_env *env,
		    void **ret_ctx, char *err, size_t errlen)
{
	struct log_ctx *c = calloc(1, sizeof(*c));
	const struct probe_log_preset *preset = NULL;
	const char *v, *header, *record_start, *error_pattern, *start_at;
	char **levels = NULL;
	int64_t n;
	bool b;
	int r;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	probe_log_rules_init(&c->rules);
	ep_snprintf(c->name, sizeof(c->name), "%s", env && env->instance ? env->instance : "log");
	snprintf(c->root, sizeof(c->root), "%s",
		 env && env->root && strcmp(env->root, "/") != 0 ? env->root : "");
	if (!section) {
		snprintf(err, errlen, "[log] needs a section with paths = ...");
		r = -EINVAL;
		goto fail;
	}
	r = ep_config_get_list(section, log_options, "paths", &c->paths, err, errlen);
	if (r == -ENOENT || (r == 0 && !c->paths[0])) {
		snprintf(err, errlen,
			 "%s:%d: [%s] paths: required (the log files or globs to read)",
			 section->file ? section->file : "config", section->line, section->name);
		r = -EINVAL;
		goto fail;
	}
	if (r < 0)
		goto fail;
	for (size_t i = 0; c->paths[i]; i++)
		if (c->paths[i][0] != '/') {
			snprintf(err, errlen, "[%s] paths: '%s' is not an absolute path",
				 section->name, c->paths[i]);
			r = -EINVAL;
			goto fail;
		}
	if ((r = get_opt_string(section, "preset", NULL, &v, err, errlen)) < 0)
		goto fail;
	if (v && !(preset = probe_log_preset_find(v))) {
		snprintf(err, errlen,
			 "[%s] preset: unknown preset '%s' (odoo, erpnext, postgresql, mariadb, "
			 "java)",
			 section->name, v);
		r = -EINVAL;
		goto fail;
	}
	if ((r = get_opt_string(section, "header", preset ? preset->header : NULL, &header, err,
				errlen)) < 0 ||
	    (r = get_opt_string(section, "record_start", preset ? preset->record_start : NULL,
				&record_start, err, errlen)) < 0 ||
	    (r = get_opt_string(section, "error_pattern",
				preset ? preset->error_pattern : "ERROR|FATAL|CRITICAL|Exception",
				&error_pattern, err, errlen)) < 0 ||
	    (r = get_opt_string(section, "start_at", "end", &start_at, err, errlen)) < 0)
		goto fail;
	if (strcmp(start_at, "end") == 0)
		c->start_at_end = true;
	else if (strcmp(start_at, "beginning") != 0) {
		snprintf(err, errlen, "[%s] start_at: expected 'end' or 'beginning', not '%s'",
			 section->name, start_at);
		r = -EINVAL;
		goto fail;
	}
	char rxerr[512];
	if ((header &&
	     probe_log_regex_compile(&c->rules.header, header, rxerr, sizeof(rxerr)) < 0) ||
	    (record_start && probe_log_regex_compile(&c->rules.record_start, record_start, rxerr,
						     sizeof(rxerr)) < 0) ||
	    (error_pattern && error_pattern[0] &&
	     probe_log_regex_compile(&c->rules.error, error_pattern, rxerr, sizeof(rxerr)) < 0)) {
		snprintf(err, errlen, "[%s] %s", section->name, rxerr);
		r = -EINVAL;
		goto fail;
	}
	r = ep_config_get_bool(section, log_options, "multiline", &b, err, errlen);
	if (r == -ENOENT)
		b = preset ? preset->multiline : false;
	else if (r < 0)
		goto fail;
	c->rules.multiline = b;
	if (preset && preset->levels) {
		char spec[64];
		const char *p = preset->levels;
		while (*p) {
			size_t k = strcspn(p, ",");
			snprintf(spec, sizeof(spec), "%.*s", (int)k, p);
			if ((r = probe_log_rules_add_level(&c->rules, spec, err, errlen)) < 0)
				goto fail;
			p += k + (p[k] == ',');
		}
	}
	r = ep_config_get_list(section, log_options, "levels", &levels, err, errlen);
	if (r == 0) {
		for (size_t i = 0; levels[i]; i++)
			if ((r = probe_log_rules_add_level(&c->rules, levels[i], err, errlen)) < 0)
				break;
		free(levels);
		if (r < 0)
			goto fail;
	} else if (r != -ENOENT) {
		goto fail;
	}
	if ((r = ep_config_get_int(section, log_options, "budget_mb", &n, err, errlen)) < 0)
		goto fail;
	c->budget = n * 1024 * 1024;
	if ((r = ep_config_get_int(section, log_options, "max_line_kb", &n, err, errlen)) < 0)
		goto fail;
	c->rules.max_line = (size_t)n * 1024;
	if ((r = ep_config_get_bool(section, log_options, "signatures", &b, err, errlen)) < 0)
		goto fail;
	c->rules.signatures = b;
	if ((r = ep_config_get_int(section, log_options, "error_rate_warning", &c->rate_warning,
				   err, errlen)) < 0 ||
	    (r = ep_config_get_int(section, log_options, "error_rate_critical", &c->rate_critical,
				   err, errlen)) < 0)
		goto fail;
	if ((r = probe_log_rules_finish(&c->rules, err, errlen)) < 0)
		goto fail;
	*ret_ctx = c;
	return 0;
fail:
	log_free_ctx(c);
	return r < 0 ? r : -EINVAL;
}

static void log_fini(void *ctx)
{
	log_free_ctx(ctx);
}

/* ---- files ---------------------------------------------------------------- */

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

static struct log_file *cycle_add(struct log_cycle *cy)
{
	if (cy->n == cy->cap) {
		size_t cap = cy->cap ? cy->cap * 2 : 16;
		struct log_file *f = realloc(cy->files, cap * sizeof(*f));
		if (!f)
			return NULL;
		cy->files = f;
		cy->cap = cap;
	}
	memset(&cy->files[cy->n], 0, sizeof(cy->files[0]));
	return &cy->files[cy->n++];
}

static void note_error(struct log_cycle *cy, const char *verb, const char *path, int errnum)
{
	cy->n_errors++;
	if (!cy->first_error[0])
		ep_snprintf(cy->first_error, sizeof(cy->first_error), "cannot %s %s: %s%s", verb,
			    path, strerror(errnum),
			    errnum == EACCES ? " (give the erpulse user read access, e.g. add it "
					       "to the group adm)"
					     : "");
}

static int glob_errfunc(const char *epath, int eerrno)
{
	(void)epath;
	(void)eerrno;
	return 0; /* go on; a pattern with no readable match is reported below */
}

/* Reads from f->off to EOF (or budget/deadline) through the scanner. */
static void read_file(const struct log_ctx *c, struct log_cycle *cy, struct log_file *f, int fd)
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
		return -EISDIR;
	}
	return fd;
}

/* Looks for a rotated copy of f among the siblings of f->path whose name
 * starts with its base name: by inode (rename rotation) or, with by_head, by
 * the hash of its first bytes and a size of at least f->off (copytruncate).
 * Writes the found path into out. */
static bool find_sibling(const struct log_file *f, bool by_head, char *out, size_t outsize)
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
static void drain_tail(const struct log_ctx *c, struct log_cycle *cy, struct log_file *f,
		       const char *path)
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

static void update_head(struct log_file *f, int fd)
{
	uint64_t want = f->off < LOG_HEAD_BYTES ? f->off : LOG_HEAD_BYTES;
	if (f->head_len < want && head_hash(fd, want, &f->head_hash))
		f->head_len = want;
}

static struct log_file *find_tracked(struct log_cycle *cy, size_t n_old, dev_t dev, ino_t ino)
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

static void load_state(struct log_cycle *cy, const json_t *state)
{
	const json_t *files = json_object_get(state, "files");
	size_t i;
	const json_t *e;

	json_array_foreach(files, i, e)
	{
		const char *p = json_string_value(json_object_get(e, "path"));
		if (!p || cy->n >= LOG_MAX_FILES)
			continue;
		struct log_file *f = cycle_add(cy);
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

static int save_state(const struct log_cycle *cy, json_t *state)
{
	json_t *files = json_array();
	char hh[32];

	if (!files)
		return -ENOMEM;
	for (size_t i = 0; i < cy->n; i++) {
		const struct log_file *f = &cy->files[i];
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
static json_t *json_path(const char *p)
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
static void process_current(const struct log_ctx *c, struct log_cycle *cy, struct log_file *f,
			    int fd, const struct stat *st, bool is_new, bool first_run)
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
				struct log_file tmp = *f;
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

/* A file the globs matched this cycle, opened. */
struct log_match {
	int fd;
	struct stat st;
	struct log_file *f; /* tracked entry or a new one */
	bool is_new;
};

/* Expands the globs: every readable regular file is opened and tied to its
 * tracked entry (by inode) or to a new one. Errors go into cy. */
static size_t expand_globs(const struct log_ctx *c, struct log_cycle *cy, size_t n_old,
			   struct log_match *ms, size_t max, json_t *patterns_out)
{
	size_t nm = 0;

	for (size_t p = 0; c->paths[p]; p++) {
		char pat[PATH_MAX];
		glob_t g;
		size_t matched = 0;

		if (ep_snprintf(pat, sizeof(pat), "%s%s", c->root, c->paths[p]) < 0)
			continue;
		int gr = glob(pat, 0, glob_errfunc, &g);
		for (size_t i = 0; gr == 0 && i < g.gl_pathc; i++) {
			const char *path = g.gl_pathv[i];
			struct stat st;
			if (is_compressed(path))
				continue;
			matched++;
			int fd = open_file(path, &st);
			if (fd == -EISDIR)
				continue;
			if (fd < 0) {
				struct log_file *f = cy->n < cy->cap ? cycle_add(cy) : NULL;
				if (f) {
					ep_snprintf(f->path, sizeof(f->path), "%s", path);
					ep_snprintf(f->error, sizeof(f->error), "%s",
						    strerror(-fd));
				}
				note_error(cy, "open", path, -fd);
				continue;
			}
			struct log_file *f = find_tracked(cy, n_old, st.st_dev, st.st_ino);
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
			ms[nm++] = (struct log_match){.fd = fd, .st = st, .f = f, .is_new = is_new};
		}
		if (gr == 0)
			globfree(&g);
		json_t *pe = json_object();
		if (pe) {
			json_object_set_new(pe, "pattern", json_path(c->paths[p]));
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
static void finish_rotated(const struct log_ctx *c, struct log_cycle *cy, size_t n_old)
{
	for (size_t i = 0; i < n_old; i++) {
		struct log_file *f = &cy->files[i];
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

static const char *sev_of(double rate, const struct log_ctx *c, enum ep_severity *ret)
{
	if (c->rate_critical > 0 && rate >= (double)c->rate_critical)
		*ret = EP_SEV_CRITICAL;
	else if (c->rate_warning > 0 && rate >= (double)c->rate_warning)
		*ret = EP_SEV_WARNING;
	else
		*ret = EP_SEV_INFO;
	return ep_severity_name(*ret);
}

static void log_run(void *ctx, const struct ep_deadline *deadline, struct ep_probe_result *result)
{
	struct log_ctx *c = ctx;
	struct log_cycle cy = {.deadline = deadline, .budget_left = c->budget};
	struct log_match *ms = NULL;
	size_t nm = 0;
	json_t *patterns = json_array(), *files = json_array(), *m = result->metrics;
	bool first_run = !json_object_get(result->state, "v");
	int64_t now = ep_wall_ms();
	int64_t last = json_integer_value(json_object_get(result->state, "last_run_ms"));

	ep_snprintf(result->target, sizeof(result->target), "%s", c->name);
	cy.bufsize = LOG_READ_CHUNK + c->rules.max_line + 1;
	cy.buf = malloc(cy.bufsize);
	if (!cy.buf || !patterns || !files || probe_log_scanner_init(&cy.sc, &c->rules) < 0) {
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
		goto out;
	}
	load_state(&cy, result->state);
	size_t n_old = cy.n;
	/* cycle_add may move cy.files: reserve room first so the pointers in
	 * ms stay valid */
	if (cy.n + LOG_MAX_FILES > cy.cap) {
		struct log_file *nf = realloc(cy.files, (cy.n + LOG_MAX_FILES) * sizeof(*nf));
		if (!nf) {
			ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
			goto out;
		}
		cy.files = nf;
		cy.cap = cy.n + LOG_MAX_FILES;
	}
	ms = calloc(LOG_MAX_FILES, sizeof(*ms));
	if (!ms) {
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
		goto out;
	}
	nm = expand_globs(c, &cy, n_old, ms, LOG_MAX_FILES, patterns);
	/* rotated files first: their lines are older than the current files' */
	finish_rotated(c, &cy, n_old);
	for (size_t i = 0; i < nm; i++) {
		process_current(c, &cy, ms[i].f, ms[i].fd, &ms[i].st, ms[i].is_new, first_run);
		close(ms[i].fd);
		ms[i].fd = -1;
	}

	if (save_state(&cy, result->state) < 0) {
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
		goto out;
	}

	/* metrics */
	const struct probe_log_counts *k = &cy.sc.counts;
	uint64_t errors = k->records[PROBE_LOG_ERROR] + k->records[PROBE_LOG_CRITICAL];
	double minutes = (last > 0 && now > last) ? (double)(now - last) / 60000.0 : 0.0;
	double rate = minutes > 0 ? (double)errors / minutes : (double)errors / 5.0;
	json_t *rec = json_object();
	for (int l = 0; l < PROBE_LOG_N_LEVELS; l++)
		json_object_set_new(rec, probe_log_level_name((enum probe_log_level)l),
				    json_integer((json_int_t)k->records[l]));
	for (size_t i = 0; i < cy.n; i++) {
		const struct log_file *f = &cy.files[i];
		if (!f->keep && !f->error[0])
			continue;
		json_t *fe = json_pack("{s:o, s:I, s:I, s:I, s:b}", "path", json_path(f->path),
				       "offset", (json_int_t)f->off, "size", (json_int_t)f->size,
				       "read_bytes", (json_int_t)f->read, "rotated", f->rotated);
		if (fe && f->error[0])
			json_object_set_new(fe, "error", json_string(f->error));
		json_array_append_new(files, fe);
	}
	json_t *top = json_array();
	const struct probe_log_sig *sigs[LOG_TOP_SIGNATURES];
	size_t ntop = probe_log_sigtab_top(&cy.sc.sigs, sigs, LOG_TOP_SIGNATURES);
	for (size_t i = 0; i < ntop; i++)
		json_array_append_new(
			top, json_pack("{s:s, s:I, s:s}", "signature", sigs[i]->signature, "count",
				       (json_int_t)sigs[i]->count, "sample", sigs[i]->sample));
	json_object_set_new(m, "source", json_string(c->name));
	json_object_set_new(m, "records", rec);
	json_object_set_new(m, "error_records", json_integer((json_int_t)errors));
	json_object_set_new(m, "error_rate_per_min", json_real(round(rate * 100) / 100));
	json_object_set_new(m, "interval_s", json_integer((json_int_t)(minutes * 60)));
	json_object_set_new(m, "lines", json_integer((json_int_t)k->lines));
	json_object_set_new(m, "continuation_lines", json_integer((json_int_t)k->continuation));
	json_object_set_new(m, "long_lines", json_integer((json_int_t)k->long_lines));
	json_object_set_new(m, "bytes_read", json_integer((json_int_t)k->bytes));
	json_object_set_new(m, "backlog_bytes", json_integer((json_int_t)cy.backlog));
	json_object_set_new(m, "lost_files", json_integer((json_int_t)cy.lost));
	json_object_set_new(m, "first_run", json_boolean(first_run));
	json_object_set_new(m, "patterns", patterns);
	json_object_set_new(m, "files", files);
	json_object_set_new(m, "top_signatures", top);
	json_object_set_new(m, "other_signatures", json_integer((json_int_t)cy.sc.sigs.other));
	patterns = files = NULL;

	char msg[512], remedy[512];
	enum ep_severity sev;
	sev_of(rate, c, &sev);
	snprintf(msg, sizeof(msg), "%" PRIu64 " error records in %.1f min%s%s%s", errors,
		 minutes > 0 ? minutes : 5.0, ntop ? "; most frequent: " : "",
		 ntop ? sigs[0]->signature : "", cy.cut ? " (cut short by the deadline)" : "");
	snprintf(remedy, sizeof(remedy),
		 "Read the top signatures' sample lines in %s and fix their cause", c->paths[0]);
	struct ep_finding fnd = {
		.kind = "log_errors",
		.object = c->name,
		.value = round(rate * 100) / 100,
		.unit = "records/min",
		.threshold = c->rate_warning > 0 ? (double)c->rate_warning : NAN,
		.severity = sev,
		.method = "log scan (pcre2)",
		.message = msg,
		.remediation = errors ? remedy : NULL,
	};
	if (ep_probe_add_finding(result, &fnd) < 0)
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
	if (cy.sc.error)
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory while counting signatures");
	else if (cy.n_errors)
		ep_probe_fail(result, EP_STATUS_ERROR, "%s%s", cy.first_error,
			      cy.n_errors > 1 ? " (and more: see metrics.files)" : "");
out:
	for (size_t i = 0; ms && i < nm; i++)
		if (ms[i].fd >= 0)
			close(ms[i].fd);
	free(ms);
	json_decref(patterns);
	json_decref(files);
	probe_log_scanner_free(&cy.sc);
	free(cy.files);
	free(cy.buf);
}

static int log_check(void *ctx, const struct ep_deadline *deadline, char *err, size_t errlen)
{
	struct log_ctx *c = ctx;
	(void)deadline;
	for (size_t p = 0; c->paths[p]; p++) {
		char pat[PATH_MAX];
		glob_t g;
		if (ep_snprintf(pat, sizeof(pat), "%s%s", c->root, c->paths[p]) < 0)
			continue;
		if (glob(pat, 0, glob_errfunc, &g) != 0) {
			snprintf(err, errlen, "[log.%s] no file matches %s", c->name, pat);
			return -ENOENT;
		}
		for (size_t i = 0; i < g.gl_pathc; i++) {
			if (access(g.gl_pathv[i], R_OK) < 0) {
				int e = errno;
				snprintf(err, errlen,
					 "[log.%s] cannot read %s: %s (give the erpulse user read "
					 "access, e.g. add it to the group adm)",
					 c->name, g.gl_pathv[i], strerror(e));
				globfree(&g);
				return -e;
			}
		}
		globfree(&g);
	}
	return 0;
}

const struct ep_probe ep_probe_log = {
	.name = "log",
	.summary = "error records and top error signatures of log files (rotation-safe)",
	.options = log_options,
	.init = log_init,
	.check = log_check,
	.run = log_run,
	.fini = log_fini,
};
