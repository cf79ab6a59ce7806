#include "catalog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ap_tracefs_root(void)
{
	static const char *const roots[] = {"/sys/kernel/tracing",
					    "/sys/kernel/debug/tracing"};
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "%s/events", roots[i]);
		if (access(path, R_OK | X_OK) == 0)
			return roots[i];
	}
	return NULL;
}

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int is_dir(int dirfd, const struct dirent *d)
{
	if (d->d_type != DT_UNKNOWN)
		return d->d_type == DT_DIR;
	struct stat st;
	return fstatat(dirfd, d->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

static int read_u64(int dirfd, const char *path, uint64_t *v)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[32];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	char *end;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno || end == buf ? -EINVAL : 0;
}

/* Sorted listing of a directory opened as dirfd (which is consumed). */
static int sorted(int dirfd, struct dirent ***list)
{
	char path[40];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
	int n = scandir(path, list, visible, alphasort);
	return n < 0 ? -errno : n;
}

int ap_tracepoints(const char *root, ap_tracepoint_fn fn, void *ctx)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/events", root);
	int evfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (evfd < 0)
		return -errno;
	struct dirent **sys;
	int nsys = sorted(evfd, &sys);
	int ret = nsys < 0 ? nsys : 0;
	for (int i = 0; i < nsys; i++) {
		int sfd = -1;
		if (!ret && is_dir(evfd, sys[i]))
			sfd = openat(evfd, sys[i]->d_name,
				     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd >= 0) {
			struct dirent **ev;
			int nev = sorted(sfd, &ev);
			for (int j = 0; j < nev; j++) {
				char idpath[512];
				uint64_t id = 0;
				snprintf(idpath, sizeof(idpath), "%s/id",
					 ev[j]->d_name);
				if (!ret && read_u64(sfd, idpath, &id) == 0)
					ret = fn(sys[i]->d_name,
						 ev[j]->d_name, id, ctx);
				free(ev[j]);
			}
			if (nev > 0)
				free(ev);
			close(sfd);
		}
		free(sys[i]);
	}
	if (nsys > 0)
		free(sys);
	close(evfd);
	return ret;
}

int ap_listdir(const char *dir, ap_entry_fn fn, void *ctx)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	struct dirent **list;
	int n = sorted(dfd, &list);
	int ret = n < 0 ? n : 0;
	for (int i = 0; i < n; i++) {
		if (!ret)
			ret = fn(list[i]->d_name, is_dir(dfd, list[i]), ctx);
		free(list[i]);
	}
	if (n > 0)
		free(list);
	close(dfd);
	return ret;
}
