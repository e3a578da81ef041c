/*
 * lightvm-exec: the part of starting a container process that must run between fork and exec, which .NET cannot
 * do. lightvm-agent posix_spawn()s it with:
 *
 *   fd 0, 1, 2  the process's stdio
 *   fd 3        the spec: "key=value\0" records, read to EOF (see ExecSpec.cs in the agent)
 *   fd 4        the status pipe; close-on-exec, so a successful exec closes it silently. On failure it carries
 *               "step\0errno\0detail\0" and this program exits 127, letting the agent report e.g. "binary not
 *               found" precisely instead of a bare exit code.
 *
 * Modes:
 *   create  new mount, UTS, cgroup (with a cgroup) and IPC (unless pod_shm: then the VM's IPC and /dev/shm are
 *           shared by the pod's containers) namespaces, private mounts, the rootfs with /proc, a minimal /dev,
 *           read-only /sys, cgroup2 at /sys/fs/cgroup and the requested mounts, then pivot_root (or, on the
 *           initramfs where pivot_root is impossible, move the rootfs over / and chroot), hostname, identity, cwd,
 *           exec.
 *   join    enter a running container (its mount/UTS/IPC namespaces and root, via /proc/<pid>) and exec there.
 * Both modes first start a new session (so the agent can signal the whole process group) and join the cgroup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SPEC_FD 3
#define STATUS_FD 4
#define MAX_SPEC (1 << 20)
#define MAX_ITEMS 8192
#define MAX_GROUPS 256
#define MAX_MOUNTS 256
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct mount_spec {
    char *source, *target, *fstype, *data;
    int bind, readonly;
};

static struct {
    int join;
    char *rootfs, *hostname, *cgroup, *cwd, *pod_shm;
    int no_pivot, readonly_rootfs;
    long join_pid;
    uid_t uid;
    gid_t gid;
    gid_t groups[MAX_GROUPS];
    int ngroups;
    char *argv[MAX_ITEMS + 1];
    int argc;
    char *envp[MAX_ITEMS + 1];
    int envc;
    struct mount_spec mounts[MAX_MOUNTS];
    int nmounts;
} spec;

/* Reports a failed step to the agent and exits. */
static void __attribute__((noreturn)) fail(const char *step, int err, const char *detail)
{
    char buf[PATH_MAX + 256];
    int n = snprintf(buf, sizeof buf, "%s%c%d%c%s%c", step, 0, err, 0, detail ? detail : "", 0);
    if (n > (int)sizeof buf)
        n = sizeof buf;
    if (write(STATUS_FD, buf, n) < 0) {
        /* The agent is gone; nothing left to tell. */
    }
    _exit(127);
}

static void reset_signals(void)
{
    /* The agent's runtime ignores SIGPIPE and may block signals; exec keeps ignored and blocked signals. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
}

static char *read_spec(size_t *len)
{
    char *buf = malloc(MAX_SPEC + 1);
    size_t used = 0;
    if (!buf)
        fail("read spec", ENOMEM, NULL);
    for (;;) {
        ssize_t n = read(SPEC_FD, buf + used, MAX_SPEC - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("read spec", errno, NULL);
        if (n == 0)
            break;
        used += n;
        if (used == MAX_SPEC)
            fail("read spec", E2BIG, NULL);
    }
    buf[used] = 0;
    close(SPEC_FD);
    *len = used;
    return buf;
}

/* Splits "a\x1fb\x1f..." in place into at most max fields; missing fields become "". */
static void split_fields(char *value, char **fields, int max)
{
    for (int i = 0; i < max; i++) {
        fields[i] = value;
        char *sep = value ? strchr(value, '\x1f') : NULL;
        if (sep) {
            *sep = 0;
            value = sep + 1;
        } else {
            value = NULL;
        }
        if (!fields[i])
            fields[i] = "";
    }
}

static void parse_spec(char *buf, size_t len)
{
    for (char *rec = buf, *next; rec < buf + len; rec = next) {
        next = rec + strlen(rec) + 1; /* before the '=' below is cut */
        char *value = strchr(rec, '=');
        if (!value)
            fail("parse spec", EINVAL, rec);
        *value++ = 0;
        if (!strcmp(rec, "mode"))
            spec.join = !strcmp(value, "join");
        else if (!strcmp(rec, "rootfs"))
            spec.rootfs = value;
        else if (!strcmp(rec, "no_pivot"))
            spec.no_pivot = atoi(value);
        else if (!strcmp(rec, "readonly_rootfs"))
            spec.readonly_rootfs = atoi(value);
        else if (!strcmp(rec, "hostname"))
            spec.hostname = value;
        else if (!strcmp(rec, "cgroup"))
            spec.cgroup = value;
        else if (!strcmp(rec, "pod_shm"))
            spec.pod_shm = value;
        else if (!strcmp(rec, "join_pid"))
            spec.join_pid = atol(value);
        else if (!strcmp(rec, "cwd"))
            spec.cwd = value;
        else if (!strcmp(rec, "uid"))
            spec.uid = (uid_t)strtoul(value, NULL, 10);
        else if (!strcmp(rec, "gid"))
            spec.gid = (gid_t)strtoul(value, NULL, 10);
        else if (!strcmp(rec, "group")) {
            if (spec.ngroups == MAX_GROUPS)
                fail("parse spec", E2BIG, "too many groups");
            spec.groups[spec.ngroups++] = (gid_t)strtoul(value, NULL, 10);
        } else if (!strcmp(rec, "arg")) {
            if (spec.argc == MAX_ITEMS)
                fail("parse spec", E2BIG, "too many arguments");
            spec.argv[spec.argc++] = value;
        } else if (!strcmp(rec, "env")) {
            if (spec.envc == MAX_ITEMS)
                fail("parse spec", E2BIG, "too many environment variables");
            spec.envp[spec.envc++] = value;
        } else if (!strcmp(rec, "mount")) {
            char *f[5];
            if (spec.nmounts == MAX_MOUNTS)
                fail("parse spec", E2BIG, "too many mounts");
            split_fields(value, f, 5);
            struct mount_spec *m = &spec.mounts[spec.nmounts++];
            m->source = f[0];
            m->target = f[1];
            m->fstype = f[2];
            m->bind = strchr(f[3], 'b') != NULL;
            m->readonly = strchr(f[3], 'r') != NULL;
            m->data = f[4];
        } else {
            fail("parse spec", EINVAL, rec);
        }
    }
    if (spec.argc == 0)
        fail("parse spec", EINVAL, "no arguments");
}

static void close_other_fds(void)
{
    if (syscall(SYS_close_range, STATUS_FD + 1, ~0U, 0) == 0)
        return;
    for (int fd = STATUS_FD + 1; fd < 4096; fd++)
        close(fd);
}

static void join_cgroup(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fail("join cgroup", errno, path);
    if (write(fd, "0", 1) != 1)
        fail("join cgroup", errno, path);
    close(fd);
}

/* out = dir + "/" + name, refusing paths that do not fit. */
static void join_path(char *out, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    if (a + 1 + b >= PATH_MAX)
        fail("path", ENAMETOOLONG, name);
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
}

static void mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        fail("mkdir", ENAMETOOLONG, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            fail("mkdir", errno, tmp);
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        fail("mkdir", errno, tmp);
}

/* Creates the mount point rootfs+target (a directory, or an empty file for a file bind) and checks that it did
 * not resolve outside the rootfs through a symlink in the image. */
static void make_target(const char *target, int is_dir, char *out)
{
    char joined[PATH_MAX], resolved[PATH_MAX], root[PATH_MAX];
    if (snprintf(joined, sizeof joined, "%s/%s", spec.rootfs, target) >= (int)sizeof joined)
        fail("mount target", ENAMETOOLONG, target);
    if (is_dir) {
        mkdir_p(joined, 0755);
    } else {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", joined);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = 0;
            mkdir_p(parent, 0755);
        }
        int fd = open(joined, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EISDIR)
            fail("mount target", errno, joined);
        if (fd >= 0)
            close(fd);
    }
    if (!realpath(joined, resolved) || !realpath(spec.rootfs, root))
        fail("mount target", errno, joined);
    size_t n = strlen(root);
    if (strncmp(resolved, root, n) != 0 || (resolved[n] != '/' && resolved[n] != 0))
        fail("mount target", EXDEV, target);
    strcpy(out, resolved);
}

static void do_mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)
{
    if (mount(source, target, fstype, flags, data) < 0)
        fail("mount", errno, target);
}

static void remount_readonly(const char *target)
{
    if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        fail("remount read-only", errno, target);
}

static void setup_dev(void)
{
    static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
    static const char *const links[][2] = {
        { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" }, { "/proc/self/fd/1", "stdout" },
        { "/proc/self/fd/2", "stderr" }, { "pts/ptmx", "ptmx" },
    };
    char dev[PATH_MAX], path[PATH_MAX], source[64];

    make_target("/dev", 1, dev);
    do_mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        join_path(path, dev, nodes[i]);
        snprintf(source, sizeof source, "/dev/%s", nodes[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            fail("create device", errno, path);
        close(fd);
        do_mount(source, path, NULL, MS_BIND, NULL);
    }
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        join_path(path, dev, links[i][1]);
        if (symlink(links[i][0], path) < 0)
            fail("symlink", errno, path);
    }
    join_path(path, dev, "pts");
    mkdir_p(path, 0755);
    /* A guest kernel without devpts still runs containers; only terminals need it. */
    if (mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0 && errno != ENODEV)
        fail("mount", errno, path);
    join_path(path, dev, "shm");
    mkdir_p(path, 01777);
    if (spec.pod_shm)
        do_mount(spec.pod_shm, path, NULL, MS_BIND, NULL);
    else
        do_mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
}

static void setup_user_mount(const struct mount_spec *m)
{
    char target[PATH_MAX];
    if (m->bind) {
        struct stat st;
        if (stat(m->source, &st) < 0)
            fail("bind source", errno, m->source);
        make_target(m->target, S_ISDIR(st.st_mode), target);
        do_mount(m->source, target, NULL, MS_BIND | MS_REC, NULL);
        if (m->readonly)
            remount_readonly(target);
        return;
    }
    make_target(m->target, 1, target);
    do_mount(m->source, target, m->fstype, m->readonly ? MS_RDONLY : 0, m->data[0] ? m->data : NULL);
}

/* True when / is the kernel's initial rootfs (an initramfs that was never switched away from): pivot_root(2)
 * refuses to move that mount, so the rootfs is moved over / and entered with chroot instead. */
static int root_is_initramfs(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[4096];
    int result = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        char mountpoint[PATH_MAX];
        const char *sep = strstr(line, " - ");
        if (sscanf(line, "%*d %*d %*s %*s %4095s", mountpoint) != 1 || !sep || strcmp(mountpoint, "/") != 0)
            continue;
        result = strncmp(sep + 3, "rootfs ", 7) == 0;
        break;
    }
    fclose(f);
    return result;
}

static void enter_rootfs(void)
{
    if (chdir(spec.rootfs) < 0)
        fail("chdir rootfs", errno, spec.rootfs);
    if (spec.no_pivot || root_is_initramfs()) {
        if (mount(spec.rootfs, "/", NULL, MS_MOVE, NULL) < 0)
            fail("move rootfs", errno, spec.rootfs);
        if (chroot(".") < 0)
            fail("chroot", errno, spec.rootfs);
    } else {
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            fail("pivot_root", errno, spec.rootfs);
        if (umount2(".", MNT_DETACH) < 0)
            fail("detach old root", errno, spec.rootfs);
    }
    if (chdir("/") < 0)
        fail("chdir", errno, "/");
}

static void create_container(void)
{
    char path[PATH_MAX];
    if (!spec.rootfs || spec.rootfs[0] != '/')
        fail("parse spec", EINVAL, "rootfs must be an absolute path");
    /* With a cgroup (joined already), a cgroup namespace rooted at it: the container sees its own limits at
     * /sys/fs/cgroup, as runtimes (JVM, Go) that size themselves from memory.max and cpu.max expect. */
    int with_cgroup = spec.cgroup && spec.cgroup[0];
    /* With pod_shm the pod's containers share the VM's IPC namespace and its /dev/shm. */
    int flags = CLONE_NEWNS | CLONE_NEWUTS | (spec.pod_shm ? 0 : CLONE_NEWIPC) | (with_cgroup ? CLONE_NEWCGROUP : 0);
    if (unshare(flags) < 0)
        fail("unshare", errno, NULL);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        fail("make mounts private", errno, "/");
    if (mount(spec.rootfs, spec.rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        fail("bind rootfs", errno, spec.rootfs);

    make_target("/proc", 1, path);
    do_mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    setup_dev();
    make_target("/sys", 1, path);
    if (mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        do_mount("/sys", path, NULL, MS_BIND | MS_REC, NULL);
        remount_readonly(path);
    }
    if (with_cgroup) {
        join_path(path, spec.rootfs, "sys/fs/cgroup");
        do_mount("cgroup2", path, "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    }
    for (int i = 0; i < spec.nmounts; i++)
        setup_user_mount(&spec.mounts[i]);

    if (spec.hostname && spec.hostname[0] && sethostname(spec.hostname, strlen(spec.hostname)) < 0)
        fail("sethostname", errno, spec.hostname);
    enter_rootfs();
    if (spec.readonly_rootfs)
        remount_readonly("/");
}

static void join_container(void)
{
    static const char *const kinds[] = { "cgroup", "uts", "ipc", "mnt" };
    char path[64];
    int fds[4];
    if (spec.join_pid <= 0)
        fail("parse spec", EINVAL, "join_pid");

    /* Open everything first: after entering the mount namespace /proc is the container's. */
    snprintf(path, sizeof path, "/proc/%ld/root", spec.join_pid);
    int root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        fail("open container root", errno, path);
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "/proc/%ld/ns/%s", spec.join_pid, kinds[i]);
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0)
            fail("open namespace", errno, path);
    }
    for (int i = 0; i < 4; i++) {
        if (setns(fds[i], 0) < 0)
            fail("setns", errno, kinds[i]);
        close(fds[i]);
    }
    if (fchdir(root) < 0 || chroot(".") < 0)
        fail("enter container root", errno, NULL);
    close(root);
    if (chdir("/") < 0)
        fail("chdir", errno, "/");
}

static void set_identity(void)
{
    if (setgroups(spec.ngroups, spec.groups) < 0)
        fail("setgroups", errno, NULL);
    if (setgid(spec.gid) < 0)
        fail("setgid", errno, NULL);
    if (setuid(spec.uid) < 0)
        fail("setuid", errno, NULL);
}

static const char *lookup_env(const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < spec.envc; i++)
        if (!strncmp(spec.envp[i], name, n) && spec.envp[i][n] == '=')
            return spec.envp[i] + n + 1;
    return NULL;
}

/* execve with a PATH search in the container's environment (execvpe would search the helper's). */
static void __attribute__((noreturn)) exec_command(void)
{
    const char *file = spec.argv[0];
    if (strchr(file, '/')) {
        execve(file, spec.argv, spec.envp);
        fail("exec", errno, file);
    }
    const char *search = lookup_env("PATH");
    char dirs[PATH_MAX * 4], candidate[PATH_MAX];
    int denied = 0;
    snprintf(dirs, sizeof dirs, "%s", search ? search : DEFAULT_PATH);
    for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        if (snprintf(candidate, sizeof candidate, "%s/%s", dir, file) >= (int)sizeof candidate)
            continue;
        execve(candidate, spec.argv, spec.envp);
        if (errno == EACCES)
            denied = 1;
        else if (errno != ENOENT && errno != ENOTDIR)
            fail("exec", errno, candidate);
    }
    fail("exec", denied ? EACCES : ENOENT, file);
}

int main(void)
{
    size_t len;
    reset_signals();
    if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) < 0)
        return 126; /* Not started by the agent. */
    char *buf = read_spec(&len);
    parse_spec(buf, len);
    close_other_fds();

    if (setsid() < 0)
        fail("setsid", errno, NULL);
    if (spec.cgroup && spec.cgroup[0])
        join_cgroup(spec.cgroup);
    if (spec.join)
        join_container();
    else
        create_container();
    set_identity();
    const char *cwd = spec.cwd && spec.cwd[0] ? spec.cwd : "/";
    if (chdir(cwd) < 0)
        fail("chdir", errno, cwd);
    exec_command();
}
