/* libFuzzer target: the agent's state file loader (agent/state.c). The file
 * is the agent's own, but a crash, a full disk or a hand edit can leave
 * anything in it: the loader must refuse it with a message (-EINVAL) or
 * load values the agent can count on: next_seq in [1, AGENT_SEQ_MAX],
 * dropped in [0, AGENT_SEQ_MAX] (so the cycle's "+ 1" and sums cannot
 * overflow), every string terminated inside its field, probes an object.
 * What it loads must save and load back the same. The per-probe state loader
 * must always give an object. Each input works in a fresh directory on
 * tmpfs (/dev/shm, else /tmp), removed after it; the input is the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], state_path[96], probes_dir[96], probe_path[128];

static void cleanup(void)
{
	unlink(state_path);
	unlink(probe_path);
	rmdir(probes_dir);
	if (rmdir(dir) != 0)
		abort(); /* a temporary file was left behind */
}

/* A fresh directory per input, removed after it. */
static void setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_state.XXXXXX", base);
	if (!mkdtemp(dir))
		abort();
	snprintf(state_path, sizeof(state_path), "%s/state", dir);
	snprintf(probes_dir, sizeof(probes_dir), "%s/probes", dir);
	snprintf(probe_path, sizeof(probe_path), "%s/probes/disk.json", dir);
	if (mkdir(probes_dir, 0700) != 0)
		abort();
}

static void put(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (len && write(fd, buf, len) != (ssize_t)len) || close(fd) != 0)
		abort();
}

#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_state st, back;
	char err[512];

	setup();
	put(state_path, data, size);
	err[0] = '\0';
	int r = agent_state_load(dir, &st, err, sizeof(err));
	if (r == -EINVAL) {
		/* a message, and nothing left to free (LeakSanitizer checks) */
		if (!err[0] || !TERMINATED(err) || st.probes)
			abort();
	} else if (r != 0) {
		abort();
	} else {
		if (st.next_seq < 1 || st.next_seq > AGENT_SEQ_MAX || st.dropped < 0 ||
		    st.dropped > AGENT_SEQ_MAX || !json_is_object(st.probes) ||
		    !TERMINATED(st.agent_id) || !TERMINATED(st.customer_id) ||
		    !TERMINATED(st.collector) || !TERMINATED(st.last_push))
			abort();
		if (agent_state_enrolled(&st) != (st.agent_id[0] != '\0'))
			abort();
		/* what was loaded saves and loads back the same (strings with
		 * an embedded NUL cannot be: jansson refuses "\u0000" anyway) */
		if (agent_state_save(dir, &st) < 0 ||
		    agent_state_load(dir, &back, err, sizeof(err)) != 0)
			abort();
		if (back.next_seq != st.next_seq || back.dropped != st.dropped ||
		    back.last_push_at != st.last_push_at || back.last_ok_at != st.last_ok_at ||
		    strcmp(back.agent_id, st.agent_id) != 0 ||
		    strcmp(back.customer_id, st.customer_id) != 0 ||
		    strcmp(back.collector, st.collector) != 0 ||
		    strcmp(back.last_push, st.last_push) != 0 ||
		    !json_equal(back.probes, st.probes))
			abort();
		agent_state_free(&back);
		agent_state_free(&st);
		if (st.probes)
			abort(); /* freed state is cleared */
	}

	/* the same bytes as a probe's own state */
	put(probe_path, data, size);
	json_t *ps = agent_probe_state_load(dir, "disk");
	if (!json_is_object(ps))
		abort();
	json_decref(ps);
	cleanup();
	return 0;
}
