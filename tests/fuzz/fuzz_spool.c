/* libFuzzer target: the agent's spool file reader (agent/spool.c). A spool
 * file may be cut short by a crash or a full disk, or damaged on disk: the
 * reader must then answer -EBADMSG (the caller quarantines it), never crash
 * or return a wrong body. Each input works in a fresh directory on tmpfs
 * (/dev/shm, else /tmp), removed after it.
 * Input: the first byte selects the mode, the rest is the file or the body.
 *   0: the bytes are a whole spool file. Accepted only when its header line
 *      is "ERPULSE-SPOOL-1 <88 base64 chars> <N>" and exactly N bytes
 *      follow; the body returned is those bytes, NUL-terminated.
 *   1: the bytes are a body: agent_spool_write + agent_spool_read give it
 *      back unchanged; the same file cut short by 1..255 bytes, or with a
 *      byte appended, is refused.
 *   2, 3: as 0 or 1, then agent_spool_enforce drops the file: the count of
 *      reports it stood for (1 + its dropped_reports) is >= 1 and capped at
 *      AGENT_SEQ_MAX, so adding it to the state's counter cannot overflow. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAGIC "ERPULSE-SPOOL-1 "
static const char sig[] = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRW"
			  "eJq83vEjRWeJq83vEg==";
static char dir[64];

/* A fresh directory per input, removed after it (nothing is left behind
 * however the run ends, short of a crash mid-input). */
static void setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_spool.XXXXXX", base);
	if (!mkdtemp(dir))
		abort();
	if (strlen(sig) + 1 != EP_SIGNATURE_B64_SIZE)
		abort();
}

static void put(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (len && write(fd, buf, len) != (ssize_t)len) || close(fd) != 0)
		abort();
}

/* What the reader must decide about a whole file, worked out independently:
 * the body length, or -1 when the file must be refused. */
static long long expected_len(const char *f, size_t len)
{
	size_t ml = strlen(MAGIC);
	const char *nl = memchr(f, '\n', len);
	if (len < ml || memcmp(f, MAGIC, ml) != 0 || !nl)
		return -1;
	const char *s = f + ml, *sp = memchr(s, ' ', (size_t)(nl - s));
	if (memchr(f, '\0', (size_t)(nl - f)) || !sp || (size_t)(sp - s) != strlen(sig))
		return -1;
	const char *p = sp + 1;
	if (p < nl && (*p == '+' || *p == '-'))
		p++;
	if (p == nl)
		return -1;
	long long v = 0;
	for (const char *q = p; q < nl; q++) {
		if (*q < '0' || *q > '9' || v > (long long)EP_REPORT_MAX_BYTES)
			return -1;
		v = v * 10 + (*q - '0');
	}
	if (sp[1] == '-' || v < 1 || v > EP_REPORT_MAX_BYTES)
		return -1;
	if ((size_t)(f + len - (nl + 1)) != (size_t)v)
		return -1;
	return v;
}

/* over a 1-byte limit, a file of more than one byte is dropped */
static void enforce(size_t file_size)
{
	int64_t dropped = -1;
	if (agent_spool_enforce(dir, 1, 0, 0, &dropped) < 0 || dropped < 0 ||
	    dropped > AGENT_SEQ_MAX || (file_size > 1 && dropped < 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128], got_sig[EP_SIGNATURE_B64_SIZE];
	char *body = NULL;
	size_t len = 0;
	int r;

	if (size < 1)
		return 0;
	setup();
	agent_spool_path(dir, 7, path, sizeof(path));
	const char *in = (const char *)data + 1;
	size_t n = size - 1;

	if ((data[0] & 1) == 0) {
		put(path, in, n);
		long long want = expected_len(in, n);
		r = agent_spool_read(path, got_sig, &body, &len);
		if (r != 0 && r != -EBADMSG)
			abort();
		if ((r == 0) != (want >= 0))
			abort();
		if (r == 0) {
			if ((long long)len != want || body[len] != '\0' ||
			    memcmp(body, in + n - len, len) != 0 ||
			    strlen(got_sig) + 1 != EP_SIGNATURE_B64_SIZE ||
			    memcmp(got_sig, in + strlen(MAGIC), strlen(got_sig)) != 0)
				abort();
			free(body);
		}
	} else {
		if (n == 0 || n > EP_REPORT_MAX_BYTES) {
			rmdir(dir);
			return 0;
		}
		if (agent_spool_write(dir, 7, sig, in, n) < 0)
			abort();
		r = agent_spool_read(path, got_sig, &body, &len);
		if (r != 0 || len != n || memcmp(body, in, n) != 0 || body[n] != '\0' ||
		    strcmp(got_sig, sig) != 0)
			abort();
		free(body);
		/* the same file cut short, then with a trailing byte */
		char *file = NULL;
		size_t flen = 0;
		if (ep_read_file(path, AGENT_SPOOL_MAX_FILE, &file, &flen) < 0)
			abort();
		size_t cut = 1 + (n ? (unsigned char)in[0] : 0u) % 255;
		if (cut > flen)
			cut = flen;
		put(path, file, flen - cut);
		if (agent_spool_read(path, got_sig, &body, &len) != -EBADMSG)
			abort();
		char *longer = malloc(flen + 1);
		if (!longer)
			abort();
		memcpy(longer, file, flen);
		longer[flen] = '\n';
		put(path, longer, flen + 1);
		if (agent_spool_read(path, got_sig, &body, &len) != -EBADMSG)
			abort();
		put(path, file, flen); /* whole again, for enforce */
		free(longer);
		free(file);
	}
	if (data[0] & 2)
		enforce(data[0] & 1 ? 2 : n);
	unlink(path);
	if (rmdir(dir) != 0)
		abort(); /* something was left in the spool */
	return 0;
}
