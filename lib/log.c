/* Logging to the journal (structured fields) or to stderr (one line per
 * message). Every message is made one line of printable text first: control
 * characters, C1 controls, Unicode line separators and invalid UTF-8 are
 * escaped, so nothing a probe reads (a log line, a database error) can forge
 * a log line of its own. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "erpulse/log.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define MSG_MAX        4096  /* formatted message, before escaping */
#define LINE_MAX_      16896 /* prefix + escaped message (escaping at most quadruples a byte) */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static char log_ident[64] = "erpulse";
static int log_max_level = EP_LOG_INFO; /* read without the lock: __atomic */
static enum ep_log_target log_target = EP_LOG_AUTO;
static bool log_resolved; /* log_journal is valid */
static bool log_journal;  /* send to the journal */

static const char *level_name(int level)
{
	static const char *const names[] = {"emerg",   "alert",  "crit", "err",
					    "warning", "notice", "info", "debug"};

	if (level < 0)
		level = 0;
	if (level > 7)
		level = 7;
	return names[level];
}

/* $JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected to
 * stdout/stderr; only when it matches our stderr is stderr the journal
 * (a child with redirected stderr inherits the variable). */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (!e || *e < '0' || *e > '9')
		return false;
	errno = 0;
	dev = strtoull(e, &end, 10);
	if (errno || *end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	ino = strtoull(end + 1, &end, 10);
	if (errno || *end != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Caller holds log_lock. */
static void resolve_target(void)
{
	switch (log_target) {
	case EP_LOG_JOURNAL:
		log_journal = true;
		break;
	case EP_LOG_STDERR:
		log_journal = false;
		break;
	case EP_LOG_AUTO:
	default:
		log_journal = stderr_is_journal();
		break;
	}
	/* sd_journal_send() drops messages silently when there is no journal
	 * (containers, chroots): then stderr rather than nothing */
	if (log_journal && access(JOURNAL_SOCKET, F_OK) != 0)
		log_journal = false;
	log_resolved = true;
}

/* The agent forks a worker per probe: a child must not inherit the lock
 * held by another thread mid-line, or its first ep_log() would hang. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&log_lock);
}

static void fork_done(void)
{
	pthread_mutex_unlock(&log_lock);
}

static void log_setup(void)
{
	pthread_atfork(fork_prepare, fork_done, fork_done);
}

static int clamp_level(int level)
{
	if (level < EP_LOG_ERR)
		return EP_LOG_ERR;
	if (level > EP_LOG_DEBUG)
		return EP_LOG_DEBUG;
	return level;
}

void ep_log_init(const char *ident, enum ep_log_level max_level, enum ep_log_target target)
{
	size_t i = 0;

	pthread_once(&log_once, log_setup);
	pthread_mutex_lock(&log_lock);
	if (ident && *ident) {
		/* the identifier becomes a line prefix and a journal field: plain names only */
		for (; i < sizeof(log_ident) - 1 && ident[i]; i++) {
			char c = ident[i];
			bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';

			log_ident[i] = ok ? c : '_';
		}
		log_ident[i] = '\0';
	}
	__atomic_store_n(&log_max_level, clamp_level((int)max_level), __ATOMIC_RELAXED);
	log_target = target;
	resolve_target();
	pthread_mutex_unlock(&log_lock);
}

void ep_log_set_level(enum ep_log_level max_level)
{
	__atomic_store_n(&log_max_level, clamp_level((int)max_level), __ATOMIC_RELAXED);
}

int ep_log_level_parse(const char *s, enum ep_log_level *ret)
{
	static const struct {
		const char *name;
		enum ep_log_level level;
	} names[] = {
		{"err", EP_LOG_ERR},      {"error", EP_LOG_ERR},     {"warning", EP_LOG_WARNING},
		{"warn", EP_LOG_WARNING}, {"notice", EP_LOG_NOTICE}, {"info", EP_LOG_INFO},
		{"debug", EP_LOG_DEBUG},
	};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0) {
			if (ret)
				*ret = names[i].level;
			return 0;
		}
	return -EINVAL;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;

	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		len = 2;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		len = 3;
		if (p[0] == 0xE0)
			lo = 0xA0;
		else if (p[0] == 0xED)
			hi = 0x9F;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		len = 4;
		if (p[0] == 0xF0)
			lo = 0x90;
		else if (p[0] == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (p[k] < 0x80 || p[k] > 0xBF)
			return 0;
	return len;
}

/* Appends s to out[*pos..size) as one line of printable text; always leaves
 * out NUL-terminated and never cuts an escape in half. */
static void append_escaped(char *out, size_t size, size_t *pos, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	char esc[12];

	for (size_t i = 0; i < n;) {
		const char *piece = (const char *)p + i;
		size_t plen = 1, adv = 1;

		if (p[i] == '\n') {
			piece = "\\n";
			plen = 2;
		} else if (p[i] == '\r') {
			piece = "\\r";
			plen = 2;
		} else if (p[i] == '\t') {
			piece = "\\t";
			plen = 2;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
			piece = esc;
			plen = 4;
		} else if (p[i] >= 0x80) {
			size_t l = utf8_seq(p + i, n - i);

			if (l == 0) {
				snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
				piece = esc;
				plen = 4;
			} else if (l == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0) {
				/* C1 controls (U+0080..U+009F), CSI among them */
				snprintf(esc, sizeof(esc), "\\u%04x", p[i + 1]);
				piece = esc;
				plen = 6;
				adv = 2;
			} else if (l == 3 && p[i] == 0xE2 && p[i + 1] == 0x80 &&
				   (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
				/* U+2028/U+2029 end lines in some viewers */
				snprintf(esc, sizeof(esc), "\\u20%02x",
					 p[i + 2] == 0xA8 ? 0x28 : 0x29);
				piece = esc;
				plen = 6;
				adv = 3;
			} else {
				plen = adv = l;
			}
		}
		if (*pos + plen + 1 > size)
			break;
		memcpy(out + *pos, piece, plen);
		*pos += plen;
		i += adv;
	}
	out[*pos] = '\0';
}

static void append_raw(char *out, size_t size, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (*pos + n + 1 > size)
		n = size - *pos - 1;
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = '\0';
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

void ep_log(enum ep_log_level level, const char *probe, const char *fmt, ...)
{
	int saved_errno = errno;
	char msg[MSG_MAX], line[LINE_MAX_], probe_text[256] = "";
	size_t pos = 0, msg_at;
	va_list ap;
	int n, lvl = (int)level;

	if (lvl > __atomic_load_n(&log_max_level, __ATOMIC_RELAXED))
		return;
	if (lvl < 0)
		lvl = 0;
	if (lvl > EP_LOG_DEBUG)
		lvl = EP_LOG_DEBUG;

	va_start(ap, fmt);
	errno = saved_errno; /* for %m */
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	else if ((size_t)n >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	if (probe) {
		size_t ppos = 0;

		append_escaped(probe_text, sizeof(probe_text), &ppos, probe);
	}

	pthread_once(&log_once, log_setup);
	pthread_mutex_lock(&log_lock);
	if (!log_resolved)
		resolve_target();
	/* "ident: level: [probe] " then the message; the journal gets the message alone */
	append_raw(line, sizeof(line), &pos, log_ident);
	append_raw(line, sizeof(line), &pos, ": ");
	append_raw(line, sizeof(line), &pos, level_name(lvl));
	append_raw(line, sizeof(line), &pos, ": ");
	if (probe) {
		append_raw(line, sizeof(line), &pos, "[");
		append_raw(line, sizeof(line), &pos, probe_text);
		append_raw(line, sizeof(line), &pos, "] ");
	}
	msg_at = pos;
	append_escaped(line, sizeof(line) - 1, &pos, msg); /* room left for the '\n' */
	if (log_journal) {
		int r;

		if (probe)
			r = sd_journal_send("MESSAGE=%s", line + msg_at, "PRIORITY=%d", lvl,
					    "SYSLOG_IDENTIFIER=%s", log_ident, "ERPULSE_PROBE=%s",
					    probe_text, NULL);
		else
			r = sd_journal_send("MESSAGE=%s", line + msg_at, "PRIORITY=%d", lvl,
					    "SYSLOG_IDENTIFIER=%s", log_ident, NULL);
		if (r >= 0)
			goto out;
		/* the journal refused it: stderr rather than nothing */
	}
	line[pos++] = '\n';
	write_all(STDERR_FILENO, line, pos);
out:
	pthread_mutex_unlock(&log_lock);
	errno = saved_errno;
}
