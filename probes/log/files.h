/* Internal to the log probe (probes/log.c, probes/log/files.c): the
 * probe's configuration and the files of one cycle, tracked across cycles
 * by (dev, inode, offset) and the hash of their first bytes. */
#ifndef PROBE_LOG_FILES_H
#define PROBE_LOG_FILES_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "erpulse/util.h"
#include "probes/log/scan.h"

#define LOG_HEAD_BYTES   1024      /* bytes of a file's start that identify its content */
#define LOG_READ_CHUNK   (1 << 20) /* read(2) size */
#define LOG_MAX_FILES    256       /* files per instance */
#define LOG_MAX_SIBLINGS 4096      /* directory entries looked at for a rotated file */

struct probe_log_ctx {
	char layout[64]; /* "preset odoo", "the header pattern": what lines must fit */
	char name[128];
	char root[PATH_MAX];
	char **paths;
	struct probe_log_rules rules;
	bool start_at_end;
	int64_t budget;
	int64_t rate_warning, rate_critical;
};

/* One file of this cycle. */
struct probe_log_file {
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

#define PROBE_LOG_MAX_UNREADABLE 16 /* sources named one by one in findings */

/* A source that could not be read this cycle. */
struct probe_log_unreadable {
	char path[PATH_MAX];
	char why[160];
};

struct probe_log_cycle {
	struct probe_log_file *files;
	size_t n, cap;
	char *buf;
	size_t bufsize;
	int64_t budget_left;
	uint64_t backlog;
	uint64_t lost;
	size_t n_errors;
	char first_error[512];
	struct probe_log_unreadable unreadable[PROBE_LOG_MAX_UNREADABLE];
	size_t n_unreadable;
	struct probe_log_scanner sc;
	const struct ep_deadline *deadline;
	bool cut; /* stopped by the deadline */
};

/* A file the globs matched this cycle, opened. */
struct probe_log_match {
	int fd;
	struct stat st;
	struct probe_log_file *f; /* tracked entry or a new one */
	bool is_new;
};

/* The files of the saved state into cy (tracked entries first). */
void probe_log_state_load(struct probe_log_cycle *cy, const json_t *state);
/* The files kept this cycle into state ("files", "v", "last_run_ms"). 0 or -ENOMEM. */
int probe_log_state_save(const struct probe_log_cycle *cy, json_t *state);
/* Path as a JSON string (invalid UTF-8 bytes become '?'). */
json_t *probe_log_json_path(const char *p);
/* glob(3)'s error callback: go on. */
int probe_log_glob_errfunc(const char *epath, int eerrno);
/* Expands the globs: every readable regular file is opened and tied to its
 * tracked entry (by inode) or to a new one, into ms (at most max); one
 * {pattern, matched} per glob into patterns_out. Errors go into cy. Returns
 * how many. */
size_t probe_log_expand_globs(const struct probe_log_ctx *c, struct probe_log_cycle *cy,
			      size_t n_old, struct probe_log_match *ms, size_t max,
			      json_t *patterns_out);
/* Tracked files that the globs no longer match: rotated (finish the tail) or gone. */
void probe_log_finish_rotated(const struct probe_log_ctx *c, struct probe_log_cycle *cy,
			      size_t n_old);
/* Reads on one tracked or new file that the globs matched this cycle. */
void probe_log_process_current(const struct probe_log_ctx *c, struct probe_log_cycle *cy,
			       struct probe_log_file *f, int fd, const struct stat *st, bool is_new,
			       bool first_run);

#endif
