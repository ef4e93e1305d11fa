/* Small helpers both binaries need: deadlines, RFC 3339 time, atomic file
 * writes, bounded buffers, strict number parsing. */
#ifndef ERPULSE_UTIL_H
#define ERPULSE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define EP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* pthread_create with default attributes, then the thread's name (what
 * top -H and /proc/PID/task/TID/comm show; at most 15 bytes). 0 or -errno. */
int ep_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name);

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC). */
int64_t ep_mono_ms(void);
/* Wall clock in milliseconds since the epoch (CLOCK_REALTIME). */
int64_t ep_wall_ms(void);

/* A point on the monotonic clock by which work must end. */
struct ep_deadline {
	int64_t at_ms; /* ep_mono_ms() value; INT64_MAX = never */
};
struct ep_deadline ep_deadline_in(int64_t ms);
int64_t ep_deadline_left_ms(const struct ep_deadline *d); /* >= 0 */
bool ep_deadline_expired(const struct ep_deadline *d);

/* Formats t (UTC) as "2026-11-26T21:42:02Z" into buf (>= 21 bytes).
 * Returns 0 or -ENOSPC. */
int ep_time_format(time_t t, char *buf, size_t size);
/* Parses RFC 3339 ("Z" or +hh:mm offset, optional fraction). 0 or -EINVAL. */
int ep_time_parse(const char *s, time_t *ret);

/* Strict integer parse of the whole string within [min, max].
 * 0, -EINVAL (not a number / trailing garbage) or -ERANGE. */
int ep_parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);
/* Duration: "300", "300s", "5m", "2h", "7d" -> seconds, within [min, max]. */
int ep_parse_duration(const char *s, int64_t min, int64_t max, int64_t *ret_seconds);

/* Writes data to path atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory. mode applies to the new file.
 * 0 or -errno; on failure the old file is untouched and no temp file remains. */
int ep_atomic_write(const char *path, const void *data, size_t len, mode_t mode);
/* fsync()s the directory containing path (or path itself if a directory). */
int ep_fsync_dir(const char *dir);
/* Reads a whole file of at most max bytes into a NUL-terminated buffer the
 * caller frees. 0, -EFBIG (larger than max) or -errno. */
int ep_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
/* mkdir -p with mode for every created component. 0 or -errno. */
int ep_mkdir_p(const char *path, mode_t mode);

/* Growing byte buffer with a hard size cap (curl's dynbuf). Always
 * NUL-terminated when data != NULL. */
struct ep_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* the most it may ever hold (excluding the NUL) */
};
void ep_buf_init(struct ep_buf *b, size_t max);
/* 0, -E2BIG when the cap would be exceeded (buffer unchanged), -ENOMEM. */
int ep_buf_append(struct ep_buf *b, const void *data, size_t len);
int ep_buf_printf(struct ep_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ep_buf_vprintf(struct ep_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void ep_buf_reset(struct ep_buf *b);
/* Hands the data to the caller (who frees it) and resets b. */
char *ep_buf_steal(struct ep_buf *b);
void ep_buf_free(struct ep_buf *b);

/* snprintf that reports truncation: 0 or -ENOSPC (buf still NUL-terminated). */
int ep_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Replaces every occurrence of secret (when not empty) in the NUL-terminated
 * text buf of size bytes with "***", so that a message quoting a connection
 * string cannot carry its password. The result is truncated to fit. */
void ep_redact(char *buf, size_t size, const char *secret);
/* The password in a PostgreSQL conninfo (password=... or password='...') or
 * in a URL (scheme://user:password@host, ?password=...), raw as written, into
 * out; "" when there is none or it does not fit. For ep_redact. */
void ep_conninfo_password(const char *conninfo, char *out, size_t outlen);

/* True when s (len bytes) is valid UTF-8 without NUL bytes. */
bool ep_utf8_valid(const char *s, size_t len);

/* Terminal columns s takes (UTF-8; wcwidth-like, independent of the
 * locale): East Asian wide and fullwidth characters count 2, combining
 * marks and zero-width characters 0, invalid bytes 1 each. */
size_t ep_text_width(const char *s);
/* Writes s to f followed by spaces up to width columns (left-aligned, or
 * right-aligned with the spaces first); nothing is cut. */
void ep_fput_padded(FILE *f, const char *s, size_t width, bool right);

#endif
