/* The mount table: /proc/self/mountinfo and /etc/fstab parsing, and which
 * filesystem types are not real storage. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "probes/disk/disk.h"

/* Never storage, or storage counted elsewhere (squashfs images are always
 * 100% full; overlay upper layers are the host filesystem seen again). */
static const char *const pseudo_fstypes[] = {
	"autofs",
	"binfmt_misc",
	"bpf",
	"cgroup",
	"cgroup2",
	"configfs",
	"debugfs",
	"devpts",
	"devtmpfs",
	"efivarfs",
	"fusectl",
	"hugetlbfs",
	"mqueue",
	"nsfs",
	"proc",
	"pstore",
	"ramfs",
	"rpc_pipefs",
	"securityfs",
	"selinuxfs",
	"sysfs",
	"tmpfs",
	"tracefs",
	"squashfs",
	"iso9660",
	"udf",
	"nfsd",
	"fuse.lxcfs",
	"fuse.portal",
	"fuse.gvfsd-fuse",
	"fuse.snapfuse",
	"fuse.kio-fuse",
	"fuse.xdg-document-portal",
	"overlay",
	"aufs",
	"shm",
	"zram",
	NULL,
};

static const char *const network_fstypes[] = {
	"nfs",       "nfs4",           "cifs",      "smb3",       "smbfs", "ceph",
	"glusterfs", "fuse.glusterfs", "9p",        "fuse.sshfs", "afs",   "ncpfs",
	"lustre",    "gpfs",           "fuse.s3fs", "davfs",      NULL,
};

bool probe_disk_fstype_pseudo(const char *fstype, const char *mount_point)
{
	/* A container's root is an overlay: it is the only view of the disk. */
	if (strcmp(fstype, "overlay") == 0 && strcmp(mount_point, "/") == 0)
		return false;
	for (size_t i = 0; pseudo_fstypes[i]; i++)
		if (strcmp(fstype, pseudo_fstypes[i]) == 0)
			return true;
	return false;
}

bool probe_disk_fstype_network(const char *fstype)
{
	for (size_t i = 0; network_fstypes[i]; i++)
		if (strcmp(fstype, network_fstypes[i]) == 0)
			return true;
	return false;
}

bool probe_disk_has_option(const char *opts, const char *word)
{
	size_t wl = strlen(word);
	const char *p = opts;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == wl && memcmp(p, word, wl) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* Undoes the kernel's octal escapes (\040 space, \011 tab, \012 newline,
 * \134 backslash) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Splits line at spaces into at most max fields (pointers into line). */
static size_t split(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (*p && n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		fields[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static void mount_clear(struct probe_disk_mount *m)
{
	free(m->root);
	free(m->mount_point);
	free(m->fstype);
	free(m->source);
	for (size_t i = 0; i < m->n_also; i++)
		free(m->also[i]);
	free(m->also);
	memset(m, 0, sizeof(*m));
}

void probe_disk_mounts_free(struct probe_disk_mounts *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		mount_clear(&m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* One mountinfo line:
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * Returns 1 parsed, 0 malformed, -ENOMEM. */
static int parse_line(char *line, struct probe_disk_mount *ret)
{
	char *f[64];
	size_t n = split(line, f, EP_ARRAY_SIZE(f));
	size_t dash = 0;
	char *colon, *end;
	unsigned long major, minor;

	if (n < 10)
		return 0;
	for (size_t i = 6; i < n; i++)
		if (strcmp(f[i], "-") == 0) {
			dash = i;
			break;
		}
	if (dash == 0 || dash + 2 >= n)
		return 0;
	colon = strchr(f[2], ':');
	if (!colon)
		return 0;
	*colon = '\0';
	errno = 0;
	major = strtoul(f[2], &end, 10);
	if (errno || *end || end == f[2])
		return 0;
	minor = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || major > 0xfffff || minor > 0xfffff)
		return 0;
	const char *super = dash + 3 < n ? f[dash + 3] : "";
	unescape(f[3]);
	unescape(f[4]);
	unescape(f[dash + 1]);
	unescape(f[dash + 2]);
	memset(ret, 0, sizeof(*ret));
	ret->major = (unsigned)major;
	ret->minor = (unsigned)minor;
	ret->mnt_ro = probe_disk_has_option(f[5], "ro");
	ret->sb_ro = probe_disk_has_option(super, "ro");
	ret->sb_errors_remount_ro = probe_disk_has_option(super, "errors=remount-ro");
	ret->sb_emergency_ro = probe_disk_has_option(super, "emergency_ro");
	ret->root = strdup(f[3]);
	ret->mount_point = strdup(f[4]);
	ret->fstype = strdup(f[dash + 1]);
	ret->source = strdup(f[dash + 2]);
	if (!ret->root || !ret->mount_point || !ret->fstype || !ret->source) {
		mount_clear(ret);
		return -ENOMEM;
	}
	return 1;
}

int probe_disk_mounts_parse(const char *text, struct probe_disk_mounts *ret, size_t *ret_bad)
{
	struct probe_disk_mounts m = {0};
	size_t bad = 0, cap = 0;
	const char *p = text;
	int rc = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 0 && m.n < PROBE_DISK_MAX_MOUNTS) {
			char *line = strndup(p, len);
			if (!line) {
				rc = -ENOMEM;
				goto out;
			}
			if (m.n == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				struct probe_disk_mount *nv = realloc(m.v, ncap * sizeof(*nv));
				if (!nv) {
					free(line);
					rc = -ENOMEM;
					goto out;
				}
				m.v = nv;
				cap = ncap;
			}
			int r = parse_line(line, &m.v[m.n]);
			free(line);
			if (r < 0) {
				rc = r;
				goto out;
			}
			if (r == 0)
				bad++;
			else
				m.n++;
		}
		p = nl ? nl + 1 : p + len;
	}
	/* statvfs() of a mount point reaches only the topmost mount there. */
	for (size_t i = 0; i < m.n; i++)
		for (size_t j = i + 1; j < m.n; j++)
			if (strcmp(m.v[i].mount_point, m.v[j].mount_point) == 0) {
				m.v[i].shadowed = true;
				break;
			}
out:
	if (rc < 0) {
		probe_disk_mounts_free(&m);
		return rc;
	}
	*ret = m;
	if (ret_bad)
		*ret_bad = bad;
	return 0;
}

void probe_disk_fstab_free(struct probe_disk_fstab *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->mount_points[i]);
		free(f->options[i]);
	}
	free(f->mount_points);
	free(f->options);
	memset(f, 0, sizeof(*f));
}

int probe_disk_fstab_parse(const char *text, struct probe_disk_fstab *ret)
{
	struct probe_disk_fstab f = {0};
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, len), *fld[6];
		if (!line)
			goto nomem;
		size_t n = split(line, fld, EP_ARRAY_SIZE(fld));
		if (n >= 4 && fld[0][0] != '#' && f.n < PROBE_DISK_MAX_MOUNTS) {
			char **mp = realloc(f.mount_points, (f.n + 1) * sizeof(*mp));
			if (mp)
				f.mount_points = mp;
			char **op = realloc(f.options, (f.n + 1) * sizeof(*op));
			if (op)
				f.options = op;
			if (!mp || !op) {
				free(line);
				goto nomem;
			}
			unescape(fld[1]);
			/* fstab may write "/var/" for "/var". */
			size_t l = strlen(fld[1]);
			while (l > 1 && fld[1][l - 1] == '/')
				fld[1][--l] = '\0';
			f.mount_points[f.n] = strdup(fld[1]);
			f.options[f.n] = strdup(fld[3]);
			if (!f.mount_points[f.n] || !f.options[f.n]) {
				free(f.mount_points[f.n]);
				free(f.options[f.n]);
				free(line);
				goto nomem;
			}
			f.n++;
		}
		free(line);
		p = nl ? nl + 1 : p + len;
	}
	*ret = f;
	return 0;
nomem:
	probe_disk_fstab_free(&f);
	return -ENOMEM;
}

const char *probe_disk_fstab_options(const struct probe_disk_fstab *f, const char *mount_point)
{
	/* The last entry wins, as with mount -a. */
	for (size_t i = f->n; i-- > 0;)
		if (strcmp(f->mount_points[i], mount_point) == 0)
			return f->options[i];
	return NULL;
}
