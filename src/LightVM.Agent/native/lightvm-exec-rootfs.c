/*
 * lightvm-exec, create mode: the container's filesystem view. New namespaces, private mounts, the rootfs with
 * /proc, a minimal /dev, read-only /sys, cgroup2 and the requested mounts, then pivot_root (or chroot on the
 * initramfs) into it.
 */
#include "lightvm-exec.h"

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

void create_container(void)
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
