/* statvfs(2) for the disk probe, with a timeout for filesystems that can hang
 * (NFS, CIFS): those go through a helper thread the caller may abandon. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "probes/disk/disk.h"

static void fill_fsstat(const struct statvfs *sv, struct probe_disk_fsstat *st)
{
	uint64_t frsize = sv->f_frsize ? sv->f_frsize : sv->f_bsize;

	st->bytes_total = (uint64_t)sv->f_blocks * frsize;
	st->bytes_free = (uint64_t)sv->f_bfree * frsize;
	st->bytes_avail = (uint64_t)sv->f_bavail * frsize;
	st->inodes_total = sv->f_files;
	st->inodes_free = sv->f_ffree;
	st->inodes_avail = sv->f_favail;
}

/* Shared between the caller and a helper thread; the last one out frees it,
 * so a caller that gave up on a hung NFS server leaves nothing dangling. */
struct statfs_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	bool done;
	int rc;
	struct probe_disk_fsstat st;
	char path[];
};

static void job_put(struct statfs_job *j)
{
	pthread_mutex_lock(&j->lock);
	bool last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (last) {
		pthread_cond_destroy(&j->cond);
		pthread_mutex_destroy(&j->lock);
		free(j);
	}
}

static void *statfs_thread(void *arg)
{
	struct statfs_job *j = arg;
	struct statvfs sv;
	struct probe_disk_fsstat st = {0};
	int rc = statvfs(j->path, &sv) < 0 ? -errno : 0;

	if (rc == 0)
		fill_fsstat(&sv, &st);
	pthread_mutex_lock(&j->lock);
	j->rc = rc;
	j->st = st;
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	job_put(j);
	return NULL;
}

static int statfs_with_timeout(const char *path, int64_t timeout_ms, struct probe_disk_fsstat *ret)
{
	size_t len = strlen(path) + 1;
	struct statfs_job *j = calloc(1, sizeof(*j) + len);
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t tid;
	struct timespec ts;
	int rc;

	if (!j)
		return -ENOMEM;
	memcpy(j->path, path, len);
	j->refs = 2;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&ta, 64 * 1024);
	rc = pthread_create(&tid, &ta, statfs_thread, j);
	pthread_attr_destroy(&ta);
	if (rc != 0) {
		j->refs = 1;
		job_put(j);
		return -rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT)
			break;
	rc = j->done ? j->rc : -ETIMEDOUT;
	if (j->done && rc == 0)
		*ret = j->st;
	pthread_mutex_unlock(&j->lock);
	job_put(j);
	return rc;
}

/* Production statfs: local filesystems answer from memory, directly;
 * network ones go through a helper thread that may be abandoned. */
int probe_disk_real_statfs(void *arg, const char *path, const char *fstype, int64_t timeout_ms,
			   struct probe_disk_fsstat *ret)
{
	struct statvfs sv;

	(void)arg;
	if (fstype && probe_disk_fstype_network(fstype))
		return statfs_with_timeout(path, timeout_ms, ret);
	if (statvfs(path, &sv) < 0)
		return -errno;
	fill_fsstat(&sv, ret);
	return 0;
}
