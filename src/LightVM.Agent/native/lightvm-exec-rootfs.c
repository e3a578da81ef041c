/*
 * lightvm-exec, create mode: the container's filesystem view. New namespaces, private mounts, the rootfs with
 * /proc, a minimal /dev, read-only /sys, cgroup2 and the requested mounts, then pivot_root (or chroot on the
 * initramfs) into it.
 *
 * Every path inside the rootfs is resolved from one descriptor of it with openat2(RESOLVE_IN_ROOT), and mounts go
 * to /proc/self/fd/N of the resolved descriptor. So an image's symlinks cannot lead a mount outside the rootfs,
 * and the rootfs's own path (deep, on virtio-9p, where every lookup is a round trip to the host) is walked once
 * instead of once or more per mount.
 */
#include "lightvm-exec.h"
#include <stdint.h>
#include <sys/sysmacros.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#define LV_RESOLVE_NO_MAGICLINKS 0x02
#define LV_RESOLVE_IN_ROOT 0x10

struct lv_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

/* The bind-mounted rootfs (O_PATH); every *_in_root call resolves from it. */
static int root_fd = -1;

/* openat2 relative to the rootfs, which acts as "/" for every symlink on the way. */
static int open_in_root(const char *rel, int flags, mode_t mode)
{
    struct lv_open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = LV_RESOLVE_IN_ROOT | LV_RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
}

/* "/a//b/" -> "a/b" in out; "" for the root itself. */
static void relative(const char *target, char *out)
{
    size_t n = 0;
    for (const char *p = target; *p; p++) {
        if (*p == '/' && (n == 0 || out[n - 1] == '/'))
            continue;
        if (n + 1 >= PATH_MAX)
            fail("mount target", ENAMETOOLONG, target);
        out[n++] = *p;
    }
    while (n > 0 && out[n - 1] == '/')
        n--;
    out[n] = 0;
}

/* /proc/self/fd/<fd>: a path that names exactly the object the descriptor refers to. */
static const char *fd_path(int fd, char *buf, size_t size)
{
    snprintf(buf, size, "/proc/self/fd/%d", fd);
    return buf;
}

/* mkdir -p of rel inside the rootfs. Existing components, and symlinks (whose targets count from the rootfs as
 * "/"), are followed inside it; a symlink to a missing directory gets that directory made, as runc does. */
static void mkdirs_in_root_at(const char *rel, mode_t mode, int depth)
{
    char prefix[PATH_MAX], link[PATH_MAX], next[PATH_MAX];
    size_t len = strlen(rel);
    if (depth > 8)
        fail("mkdir", ELOOP, rel);
    for (size_t i = 0; i <= len; i++) {
        if ((rel[i] != '/' && rel[i] != 0) || i == 0)
            continue;
        memcpy(prefix, rel, i);
        prefix[i] = 0;
        char *slash = strrchr(prefix, '/');
        const char *name = slash ? slash + 1 : prefix;
        if (slash)
            *slash = 0;
        int parent = open_in_root(slash ? prefix : ".", O_PATH | O_DIRECTORY, 0);
        if (parent < 0)
            fail("mkdir", errno, rel);
        if (mkdirat(parent, name, mode) < 0 && errno != EEXIST)
            fail("mkdir", errno, rel);
        ssize_t n = readlinkat(parent, name, link, sizeof link - 1);
        close(parent);
        if (n < 0)
            continue; /* a directory (or made just now) */
        link[n] = 0;
        if (slash)
            *slash = '/';
        int present = open_in_root(prefix, O_PATH | O_DIRECTORY, 0);
        if (present >= 0) {
            close(present);
            continue;
        }
        /* Dangling: make what it points to, inside the rootfs. */
        if (link[0] == '/')
            snprintf(next, sizeof next, "%s", link);
        else if (slash) {
            *slash = 0;
            if (snprintf(next, sizeof next, "%s/%s", prefix, link) >= (int)sizeof next)
                fail("mkdir", ENAMETOOLONG, rel);
        } else
            snprintf(next, sizeof next, "%s", link);
        char target[PATH_MAX];
        relative(next, target);
        mkdirs_in_root_at(target, mode, depth + 1);
    }
}

static void mkdirs_in_root(const char *rel, mode_t mode)
{
    mkdirs_in_root_at(rel, mode, 0);
}

/* An O_PATH descriptor of target, resolved inside the rootfs. Opened again after a mount on it, it sees the mounted
 * filesystem (an older descriptor names what the mount covers). */
static int reopen_target(const char *target)
{
    char rel[PATH_MAX];
    relative(target, rel);
    int fd = open_in_root(rel[0] ? rel : ".", O_PATH, 0);
    if (fd < 0)
        fail("mount target", errno, target);
    return fd;
}

/* Creates the mount point (a directory, or an empty file for a file bind) and returns an O_PATH descriptor of it,
 * resolved inside the rootfs. */
static int make_target(const char *target, int is_dir)
{
    char rel[PATH_MAX];
    relative(target, rel);
    if (is_dir) {
        mkdirs_in_root(rel, 0755);
    } else {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", rel);
        char *slash = strrchr(parent, '/');
        if (slash) {
            *slash = 0;
            mkdirs_in_root(parent, 0755);
        }
        int fd = open_in_root(rel, O_WRONLY | O_CREAT, 0644);
        if (fd < 0 && errno != EISDIR)
            fail("mount target", errno, target);
        if (fd >= 0)
            close(fd);
    }
    return reopen_target(target);
}

static void mount_at(const char *source, int target_fd, const char *target, const char *fstype, unsigned long flags,
    const char *data)
{
    char path[64];
    if (mount(source, fd_path(target_fd, path, sizeof path), fstype, flags, data) < 0)
        fail("mount", errno, target);
}

static void remount_readonly(const char *target)
{
    char path[64];
    int fd = reopen_target(target);
    if (mount(NULL, fd_path(fd, path, sizeof path), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        fail("remount read-only", errno, target);
    close(fd);
}

static void make_device(int dev, const char *name, dev_t number)
{
    char source[64], path[64];
    /* Real device nodes where the kernel allows them (the guest); bind mounts of the VM's own nodes otherwise
     * (e.g. the agent running in a user namespace, where mknod is refused). */
    if (mknodat(dev, name, S_IFCHR | 0666, number) == 0) {
        if (fchmodat(dev, name, 0666, 0) < 0)
            fail("chmod device", errno, name);
        return;
    }
    if (errno != EPERM)
        fail("create device", errno, name);
    int fd = openat(dev, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        fail("create device", errno, name);
    close(fd);
    fd = openat(dev, name, O_PATH | O_CLOEXEC);
    if (fd < 0)
        fail("create device", errno, name);
    snprintf(source, sizeof source, "/dev/%s", name);
    if (mount(source, fd_path(fd, path, sizeof path), NULL, MS_BIND, NULL) < 0)
        fail("mount", errno, source);
    close(fd);
}

/* A new directory in the container's /dev with exactly mode (the umask aside), as an O_PATH descriptor to mount
 * on; shown names it in errors. */
static int make_dev_dir(int dev, const char *name, mode_t mode, const char *shown)
{
    if (mkdirat(dev, name, mode) < 0 || fchmodat(dev, name, mode, 0) < 0)
        fail("mkdir", errno, shown);
    int fd = openat(dev, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        fail("mount target", errno, shown);
    return fd;
}

static void setup_dev(void)
{
    static const struct { const char *name; unsigned major, minor; } nodes[] = {
        { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
    };
    static const char *const links[][2] = {
        { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" }, { "/proc/self/fd/1", "stdout" },
        { "/proc/self/fd/2", "stderr" }, { "pts/ptmx", "ptmx" },
    };
    char path[64];

    int covered = make_target("/dev", 1);
    mount_at("tmpfs", covered, "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    close(covered);
    int dev = reopen_target("/dev");
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
        make_device(dev, nodes[i].name, makedev(nodes[i].major, nodes[i].minor));
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (symlinkat(links[i][0], dev, links[i][1]) < 0)
            fail("symlink", errno, links[i][1]);

    int pts = make_dev_dir(dev, "pts", 0755, "/dev/pts");
    /* A guest kernel without devpts still runs containers; only terminals need it. */
    if (mount("devpts", fd_path(pts, path, sizeof path), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0 &&
        errno != ENODEV)
        fail("mount", errno, "/dev/pts");
    close(pts);

    int shm = make_dev_dir(dev, "shm", 01777, "/dev/shm");
    if (spec.pod_shm)
        mount_at(spec.pod_shm, shm, "/dev/shm", NULL, MS_BIND, NULL);
    else
        mount_at("shm", shm, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    close(shm);
    close(dev);
}

static void setup_user_mount(const struct mount_spec *m)
{
    char source[64];
    if (m->bind) {
        struct stat st;
        /* The source is walked once: stat and mount both use this descriptor. */
        int src = open(m->source, O_PATH | O_CLOEXEC);
        if (src < 0 || fstat(src, &st) < 0)
            fail("bind source", errno, m->source);
        int target = make_target(m->target, S_ISDIR(st.st_mode));
        mount_at(fd_path(src, source, sizeof source), target, m->target, NULL, MS_BIND | MS_REC, NULL);
        close(target);
        close(src);
        if (m->readonly)
            remount_readonly(m->target);
        return;
    }
    int target = make_target(m->target, 1);
    mount_at(m->source, target, m->target, m->fstype, m->readonly ? MS_RDONLY : 0, m->data[0] ? m->data : NULL);
    close(target);
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
    char path[64];
    if (fchdir(root_fd) < 0)
        fail("chdir rootfs", errno, spec.rootfs);
    if (spec.no_pivot || root_is_initramfs()) {
        if (mount(fd_path(root_fd, path, sizeof path), "/", NULL, MS_MOVE, NULL) < 0)
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
    close(root_fd);
    root_fd = -1;
}

void create_container(void)
{
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
    /* Opened after the bind, so it names the bind mount's root (what pivot_root and MS_MOVE need). */
    root_fd = open(spec.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        fail("open rootfs", errno, spec.rootfs);

    int fd = make_target("/proc", 1);
    mount_at("proc", fd, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    close(fd);
    setup_dev();
    fd = make_target("/sys", 1);
    char path[64];
    if (mount("sysfs", fd_path(fd, path, sizeof path), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        mount_at("/sys", fd, "/sys", NULL, MS_BIND | MS_REC, NULL);
        remount_readonly("/sys");
    }
    close(fd);
    if (with_cgroup) {
        fd = reopen_target("/sys/fs/cgroup");
        mount_at("cgroup2", fd, "/sys/fs/cgroup", "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        close(fd);
    }
    for (int i = 0; i < spec.nmounts; i++)
        setup_user_mount(&spec.mounts[i]);

    if (spec.hostname && spec.hostname[0] && sethostname(spec.hostname, strlen(spec.hostname)) < 0)
        fail("sethostname", errno, spec.hostname);
    enter_rootfs();
    if (spec.readonly_rootfs && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        fail("remount read-only", errno, "/");
}
