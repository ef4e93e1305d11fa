/* External commands for probes (probes/patches/exec.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probes/patches/exec.h"

static char *const clean_env[] = {
	(char *)(uintptr_t) "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	(char *)(uintptr_t) "LANG=C",
	(char *)(uintptr_t) "LC_ALL=C",
	NULL,
};

const char *probe_exec_find(const char *const candidates[])
{
	for (size_t i = 0; candidates[i]; i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return NULL;
}

/* In the child: never returns. Reports execve's errno through errfd. */
static void child(const char *const argv[], int outfd, int errfd_out, int reportfd)
{
	int devnull = open("/dev/null", O_RDONLY);
	sigset_t none;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(outfd, 1) < 0 || dup2(errfd_out, 2) < 0)
		goto fail;
	/* close everything else but the report pipe (close-on-exec) */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != reportfd)
			close(fd);
	execve(argv[0], (char *const *)(uintptr_t)argv, clean_env);
fail:;
	int e = errno;
	ssize_t w = write(reportfd, &e, sizeof(e));
	(void)w;
	_exit(127);
}

int probe_exec(const char *const argv[], int64_t timeout_ms, size_t max_out, struct ep_buf *out,
	       struct probe_exec_result *res)
{
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, rep[2] = {-1, -1};
	int64_t t0 = ep_mono_ms(), deadline = t0 + (timeout_ms > 0 ? timeout_ms : 1);
	size_t errlen = 0;
	pid_t pid;
	int r = 0, status = 0;
	bool killed_timeout = false, killed_big = false;

	memset(res, 0, sizeof(*res));
	ep_buf_init(out, max_out);
	if (access(argv[0], F_OK) < 0)
		return -errno;
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0)
		child(argv, outp[1], errp[1], rep[1]);
	close(outp[1]);
	close(errp[1]);
	close(rep[1]);
	outp[1] = errp[1] = rep[1] = -1;

	int exec_errno = 0;
	if (read(rep[0], &exec_errno, sizeof(exec_errno)) == (ssize_t)sizeof(exec_errno) &&
	    exec_errno) {
		waitpid(pid, NULL, 0);
		r = -exec_errno;
		goto out;
	}

	bool out_open = true, err_open = true;
	char chunk[8192];
	while (out_open || err_open) {
		int64_t left = deadline - ep_mono_ms();
		if (left <= 0) {
			killed_timeout = true;
			break;
		}
		struct pollfd pf[2] = {{.fd = out_open ? outp[0] : -1, .events = POLLIN},
				       {.fd = err_open ? errp[0] : -1, .events = POLLIN}};
		int pr = poll(pf, 2, left > 1000 ? 1000 : (int)left);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (out_open && (pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(outp[0], chunk, sizeof(chunk));
			if (n <= 0) {
				if (n == 0 || errno != EINTR)
					out_open = false;
			} else if (ep_buf_append(out, chunk, (size_t)n) < 0) {
				size_t room = out->max - out->len;
				ep_buf_append(out, chunk, room);
				killed_big = true;
				break;
			}
		}
		if (err_open && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(errp[0], chunk, sizeof(chunk));
			if (n <= 0) {
				if (n == 0 || errno != EINTR)
					err_open = false;
			} else if (errlen + 1 < sizeof(res->err)) {
				size_t k = (size_t)n;
				if (k > sizeof(res->err) - 1 - errlen)
					k = sizeof(res->err) - 1 - errlen;
				memcpy(res->err + errlen, chunk, k);
				errlen += k;
			}
		}
	}
	if (killed_timeout || killed_big || r < 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	/* the pipes may be closed while the process lingers: wait, bounded */
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			status = 0;
			break;
		}
		if (ep_mono_ms() >= deadline && !killed_timeout) {
			killed_timeout = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
		usleep(2000);
	}
	res->err[errlen] = '\0';
	for (size_t i = 0; i < errlen; i++)
		if (res->err[i] == '\n' || res->err[i] == '\r' || res->err[i] == '\t')
			res->err[i] = ' ';
	res->exit_status = WIFEXITED(status) ? WEXITSTATUS(status)
					     : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 0);
	res->truncated = killed_big;
	if (r == 0 && killed_timeout)
		r = -ETIMEDOUT;
	else if (r == 0 && killed_big)
		r = -E2BIG;
out:
	res->duration_ms = ep_mono_ms() - t0;
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (rep[i] >= 0)
			close(rep[i]);
	}
	return r;
}
