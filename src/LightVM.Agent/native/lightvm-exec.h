/* lightvm-exec: shared between lightvm-exec.c (spec, identity, exec) and lightvm-exec-rootfs.c (the container's
 * filesystem view). See lightvm-exec.c for what the program does. */
#ifndef LIGHTVM_EXEC_H
#define LIGHTVM_EXEC_H
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

/* The spec format on fd 3 (ExecSpec.cs); bumped when it changes incompatibly. */
#define LIGHTVM_EXEC_PROTOCOL 1
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

struct exec_spec {
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
};

extern struct exec_spec spec;

/* Reports a failed step to the agent (status pipe) and exits 127. */
void __attribute__((noreturn)) fail(const char *step, int err, const char *detail);
/* New namespaces, the rootfs and its mounts, then pivot_root/chroot into it. */
void create_container(void);

#endif
