/* A collector command run as root on the service's store (cli.h): SQLite
 * would create root-owned files (the database, its -wal and -shm) that the
 * service, running as erpulse-collector, then cannot write ("attempt to
 * write a readonly database"). Refuse and say which command to use. */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/cli.h"

int coll_cli_check_owner(const struct coll_settings *cfg, int argc, char **argv)
{
	const char *url = cfg->store_url;
	if (geteuid() != 0 || !url || strncmp(url, "sqlite://", 9) != 0)
		return 0;
	char path[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof(path), "%s", url + 9);
	if (stat(path, &st) < 0) {
		/* not there yet: who owns the directory it would be created in */
		char *slash = strrchr(path, '/');
		if (!slash)
			snprintf(path, sizeof(path), ".");
		else if (slash == path)
			path[1] = '\0';
		else
			*slash = '\0';
		if (stat(path, &st) < 0)
			return 0; /* the store's own error says it better */
	}
	if (st.st_uid == 0)
		return 0;
	struct passwd *pw = getpwuid(st.st_uid);
	char user[64];
	if (pw)
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	else
		snprintf(user, sizeof(user), "#%u", (unsigned)st.st_uid);
	char cmd[1024] = "";
	size_t n = 0;
	for (int i = 1; i < argc && n < sizeof(cmd) - 1; i++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " %s", argv[i]);
	fprintf(stderr,
		"erpulse-collector: the store '%s' belongs to user '%s'; run as root, this "
		"command would leave files the service cannot write. Run it as that user:\n"
		"  sudo -u %s erpulse-collector%s\n"
		"  (or: runuser -u %s -- erpulse-collector%s)\n",
		path, user, user, cmd, user, cmd);
	return 1;
}
