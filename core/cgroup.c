#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Reads at most n - 1 bytes of path into buf (NUL-terminated): these
 * /proc files are small, and a bigger one is cut, never grown into. */
static int slurp(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	while (len + 1 < n) {
		ssize_t r = read(fd, buf + len, n - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return 0;
}

/* Does the comma-separated list s (up to end) hold word? */
static int has_word(const char *s, const char *end, const char *word)
{
	size_t wl = strlen(word);
	while (s < end) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		const char *e = c ? c : end;
		if ((size_t)(e - s) == wl && !memcmp(s, word, wl))
			return 1;
		s = e + 1;
	}
	return 0;
}

/* The mount point of the hierarchy: v2 (want_v1 = 0) or the v1 one with
 * the perf_event option, from mountinfo ("ID PARENT MAJ:MIN ROOT MOUNT
 * OPTS... - FSTYPE SOURCE SUPEROPTS"). */
static int mount_of(int want_v1, char *out, size_t n)
{
	static char buf[65536];
	int err = slurp("/proc/self/mountinfo", buf, sizeof(buf));
	if (err)
		return err;
	for (char *line = buf; *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *dash = strstr(line, " - ");
		char root[8], mnt[4096], fstype[32], source[64], super[1024];
		if (dash && sscanf(line, "%*s %*s %*s %7s %4095s", root, mnt) == 2 &&
		    sscanf(dash + 3, "%31s %63s %1023s", fstype, source, super) >= 2) {
			int v2 = !strcmp(fstype, "cgroup2");
			int v1 = !strcmp(fstype, "cgroup") &&
				 has_word(super, super + strlen(super), "perf_event");
			/* a bind mount of a subtree is not the hierarchy's root */
			if (!strcmp(root, "/") && ((want_v1 && v1) || (!want_v1 && v2))) {
				if (strlen(mnt) >= n)
					return -ENAMETOOLONG;
				strcpy(out, mnt);
				return 0;
			}
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return -ENOENT;
}

int ap_cgroup_home(char *dir, size_t n, int *v2)
{
	char buf[8192];
	int err = slurp("/proc/self/cgroup", buf, sizeof(buf));
	if (err)
		return err;
	/* "ID:CONTROLLERS:PATH" per line; v2 is "0::PATH". perf_event on a v1
	 * line means that hierarchy counts cgroups for perf. */
	const char *v1path = NULL, *v2path = NULL;
	size_t v1len = 0, v2len = 0;
	for (char *line = buf; *line;) {
		char *nl = strchr(line, '\n');
		char *end = nl ? nl : line + strlen(line);
		char *c1 = memchr(line, ':', (size_t)(end - line));
		char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
		if (c2) {
			if (c2 == c1 + 1 && !strncmp(line, "0:", 2)) {
				v2path = c2 + 1;
				v2len = (size_t)(end - c2 - 1);
			} else if (has_word(c1 + 1, c2, "perf_event")) {
				v1path = c2 + 1;
				v1len = (size_t)(end - c2 - 1);
			}
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	const char *path = v1path ? v1path : v2path;
	size_t len = v1path ? v1len : v2len;
	if (!path)
		return -ENOENT;
	char mnt[4096];
	err = mount_of(v1path != NULL, mnt, sizeof(mnt));
	if (err)
		return err;
	/* a cgroup path is absolute and holds no ".." (the kernel writes it) */
	if (len == 0 || path[0] != '/')
		return -EINVAL;
	int w = snprintf(dir, n, "%s%.*s", mnt, (int)(len == 1 ? 0 : len), path);
	if (w < 0 || (size_t)w >= n)
		return -ENAMETOOLONG;
	*v2 = v1path == NULL;
	return 0;
}

int ap_cgroup_make(struct ap_cgroup *cg)
{
	static unsigned seq;
	memset(cg, 0, sizeof(*cg));
	cg->fd = cg->parent_fd = -1;
	char home[4096];
	int err = ap_cgroup_home(home, sizeof(home), &cg->v2);
	if (err)
		return err;
	cg->parent_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (cg->parent_fd < 0)
		return -errno;
	snprintf(cg->name, sizeof(cg->name), "autoperf-%d-%u", (int)getpid(), ++seq);
	if (mkdirat(cg->parent_fd, cg->name, 0755) < 0) {
		err = -errno;
		goto fail;
	}
	cg->fd = openat(cg->parent_fd, cg->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (cg->fd < 0) {
		err = -errno;
		unlinkat(cg->parent_fd, cg->name, AT_REMOVEDIR);
		goto fail;
	}
	snprintf(cg->path, sizeof(cg->path), "%s/%s", home, cg->name);
	return 0;
fail:
	close(cg->parent_fd);
	cg->parent_fd = -1;
	return err;
}

/* Writes s to the file name in dir fd. */
static int write_at(int dir, const char *name, const char *s, size_t len)
{
	int fd = openat(dir, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t w;
	do
		w = write(fd, s, len);
	while (w < 0 && errno == EINTR);
	int err = w == (ssize_t)len ? 0 : (w < 0 ? -errno : -EIO);
	close(fd);
	return err;
}

int ap_cgroup_move(const struct ap_cgroup *cg, pid_t pid)
{
	/* the pid in decimal, without stdio (after fork) */
	char num[16];
	int i = sizeof(num);
	unsigned v = (unsigned)pid;
	do
		num[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	return write_at(cg->fd, "cgroup.procs", num + i, sizeof(num) - (size_t)i);
}

int ap_cgroup_remove(struct ap_cgroup *cg)
{
	int err = 0;
	if (cg->parent_fd >= 0 && cg->name[0]) {
		if (cg->v2 && cg->fd >= 0)
			write_at(cg->fd, "cgroup.kill", "1", 1); /* 5.14+; older: the keeper's sweep */
		struct timespec step = {0, 2000000};
		for (int tries = 0;; tries++) {
			if (unlinkat(cg->parent_fd, cg->name, AT_REMOVEDIR) == 0 || errno == ENOENT) {
				err = 0;
				break;
			}
			err = -errno;
			/* EBUSY while the last tasks are being released */
			if (err != -EBUSY || tries == 2500)
				break;
			nanosleep(&step, NULL);
		}
	}
	ap_cgroup_close(cg);
	return err;
}

void ap_cgroup_close(struct ap_cgroup *cg)
{
	if (cg->fd >= 0)
		close(cg->fd);
	if (cg->parent_fd >= 0)
		close(cg->parent_fd);
	cg->fd = cg->parent_fd = -1;
}
