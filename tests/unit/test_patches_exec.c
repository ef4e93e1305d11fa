/* probe_exec (probes/patches/exec.c) with real processes: clean
 * environment, stdin from /dev/null, exit codes, a command that hangs is
 * killed at its timeout (with its children), a missing or non-executable
 * one is a clear code, and output past the cap is cut. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "erpulse/util.h"
#include "probes/patches/exec.h"

static void test_env_stdin_exit(void **state)
{
	struct ep_buf out;
	struct probe_exec_result res;
	(void)state;

	setenv("ERPULSE_LEAK", "1", 1);
	const char *env[] = {"/usr/bin/env", NULL};
	assert_int_equal(probe_exec(env, 5000, 65536, &out, &res), 0);
	assert_int_equal(res.exit_status, 0);
	assert_string_equal(out.data, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C\nLC_ALL=C\n");
	ep_buf_free(&out);

	const char *cat[] = {"/bin/cat", NULL};
	assert_int_equal(probe_exec(cat, 5000, 65536, &out, &res), 0);
	assert_int_equal(out.len, 0); /* stdin is /dev/null: cat ends at once */
	ep_buf_free(&out);

	const char *sh[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 100", NULL};
	assert_int_equal(probe_exec(sh, 5000, 65536, &out, &res), 0);
	assert_int_equal(res.exit_status, 100);
	assert_string_equal(out.data, "out\n");
	assert_string_equal(res.err, "err ");
	ep_buf_free(&out);
}

static void test_timeout(void **state)
{
	struct ep_buf out;
	struct probe_exec_result res;
	(void)state;

	/* the child's own child holds the pipe: both are killed at the deadline */
	const char *hang[] = {"/bin/sh", "-c", "sleep 30 & sleep 30; echo never", NULL};
	int64_t t0 = ep_mono_ms();
	assert_int_equal(probe_exec(hang, 300, 65536, &out, &res), -ETIMEDOUT);
	int64_t took = ep_mono_ms() - t0;
	assert_true(took >= 290 && took < 3000);
	assert_int_equal(res.exit_status, 128 + 9);
	ep_buf_free(&out);

	/* a command that closes stdout but keeps running is still bounded */
	const char *closer[] = {"/bin/sh", "-c", "exec >&- 2>&-; sleep 30", NULL};
	t0 = ep_mono_ms();
	assert_int_equal(probe_exec(closer, 300, 65536, &out, &res), -ETIMEDOUT);
	assert_true(ep_mono_ms() - t0 < 3000);
	ep_buf_free(&out);
}

static void test_missing_and_big(void **state)
{
	struct ep_buf out;
	struct probe_exec_result res;
	char tmp[] = "/tmp/erpulse-exec-XXXXXX";
	(void)state;

	const char *missing[] = {"/nonexistent/apt-get", NULL};
	assert_int_equal(probe_exec(missing, 1000, 100, &out, &res), -ENOENT);
	ep_buf_free(&out);

	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	close(fd); /* mode 0600: not executable */
	const char *noexec[] = {tmp, NULL};
	int r = probe_exec(noexec, 1000, 100, &out, &res);
	assert_true(r == -EACCES);
	ep_buf_free(&out);
	unlink(tmp);

	const char *big[] = {"/usr/bin/head", "-c", "10000000", "/dev/zero", NULL};
	assert_int_equal(probe_exec(big, 5000, 65536, &out, &res), -E2BIG);
	assert_int_equal(out.len, 65536);
	assert_true(res.truncated);
	ep_buf_free(&out);

	const char *fit[] = {"/usr/bin/head", "-c", "65536", "/dev/zero", NULL};
	assert_int_equal(probe_exec(fit, 5000, 65536, &out, &res), 0);
	assert_int_equal(out.len, 65536);
	ep_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_stdin_exit),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_missing_and_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
