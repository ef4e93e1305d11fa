/* Running an external command for a probe: fork + execve without a shell,
 * a clean environment (PATH=/usr/sbin:/usr/bin:/sbin:/bin, LANG=C,
 * LC_ALL=C), stdin from /dev/null, stdout captured up to a byte cap, stderr
 * kept short for error messages, and SIGKILL to the command's process group
 * at its deadline. */
#ifndef PROBE_PATCHES_EXEC_H
#define PROBE_PATCHES_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "erpulse/util.h"

struct probe_exec_result {
	int exit_status; /* exit code, or 128 + signal number */
	int64_t duration_ms;
	bool truncated; /* stdout passed the cap (the command was killed) */
	char err[512];  /* first bytes of stderr, NUL-terminated */
};

/* Runs argv[0] (an absolute path) with argv. *out gets stdout (caller frees
 * with ep_buf_free; initialised here with max_out as cap). Returns 0 when the
 * command ran and exited (any exit code; see res->exit_status), -ENOENT when
 * argv[0] does not exist, -EACCES when it is not executable, -ETIMEDOUT when
 * it was killed at timeout_ms, -E2BIG when its output passed max_out (killed,
 * out holds the first max_out bytes), or another -errno. */
int probe_exec(const char *const argv[], int64_t timeout_ms, size_t max_out, struct ep_buf *out,
	       struct probe_exec_result *res);

/* First existing executable among candidates (NULL-terminated list of
 * absolute paths), or NULL. */
const char *probe_exec_find(const char *const candidates[]);

#endif
