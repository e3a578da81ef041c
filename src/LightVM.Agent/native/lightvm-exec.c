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
#include "lightvm-exec.h"

struct exec_spec spec;

/* Reports a failed step to the agent and exits. */
void __attribute__((noreturn)) fail(const char *step, int err, const char *detail)
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

int main(int argc, char **argv)
{
    size_t len;
    /* Run by hand, or as the agent's warm-up container: report and exit 0. */
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("lightvm-exec %d\n", LIGHTVM_EXEC_PROTOCOL);
        return 0;
    }
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
