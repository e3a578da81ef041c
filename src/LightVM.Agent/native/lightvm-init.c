/*
 * lightvm-init: PID 1 of a LightVM guest. Mounts what the console needs, starts the agent, reaps every zombie
 * (orphans reparent to PID 1), restarts the agent with backoff if it dies, and never exits (PID 1 exiting panics
 * the kernel). Everything else - further mounts, containers, power-off - is the agent's job.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AGENT_PATH "/usr/bin/lightvm-agent"
#define MAX_BACKOFF 30
#define STABLE_SECONDS 60

static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 1)
        n = sizeof buf - 1;
    buf[n++] = '\n';
    if (write(2, "lightvm-init: ", 14) < 0 || write(2, buf, n) < 0) {
        /* No console: nowhere to complain. */
    }
}

static void mount_once(const char *source, const char *target, const char *fstype, unsigned long flags)
{
    mkdir(target, 0755);
    if (mount(source, target, fstype, flags, NULL) < 0 && errno != EBUSY)
        say("mount %s on %s failed: %s", fstype, target, strerror(errno));
}

static void setup_console(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return;
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
}

static pid_t start_agent(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *const argv[] = { "lightvm-agent", "--guest", NULL };
        char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", NULL };
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        execve(AGENT_PATH, argv, envp);
        say("cannot start %s: %s", AGENT_PATH, strerror(errno));
        _exit(127);
    }
    if (pid < 0)
        say("fork failed: %s", strerror(errno));
    return pid;
}

static void describe(pid_t pid, int status, time_t ran)
{
    if (WIFSIGNALED(status))
        say("agent %d killed by signal %d after %lds", pid, WTERMSIG(status), (long)ran);
    else
        say("agent %d exited with status %d after %lds", pid, WEXITSTATUS(status), (long)ran);
}

/* Reaps children until the agent exits or the deadline passes (0: no deadline). Returns the agent's status. */
static int reap_until(pid_t agent, time_t deadline, int *agent_status)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (;;) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == agent) {
                *agent_status = status;
                return 1;
            }
        }
        time_t now = time(NULL);
        if (deadline && now >= deadline)
            return 0;
        struct timespec wait = { deadline ? deadline - now : 3600, 0 };
        sigtimedwait(&chld, NULL, &wait);
    }
}

int main(void)
{
    sigset_t all;
    if (getpid() != 1) {
        fprintf(stderr, "lightvm-init: must run as PID 1 of a guest\n");
        return 1;
    }

    /* Signals stay blocked: PID 1 has nothing to do on SIGTERM/SIGINT, and SIGCHLD is taken by sigtimedwait. */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);

    mount_once("devtmpfs", "/dev", "devtmpfs", MS_NOSUID);
    setup_console();
    mount_once("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    mount_once("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    say("started");

    int backoff = 1;
    for (;;) {
        time_t started = time(NULL);
        pid_t agent = start_agent();
        int status = 0;
        if (agent > 0) {
            reap_until(agent, 0, &status);
            describe(agent, status, time(NULL) - started);
        }
        if (time(NULL) - started >= STABLE_SECONDS)
            backoff = 1;
        say("restarting the agent in %ds", backoff);
        reap_until(-1, time(NULL) + backoff, &status);
        backoff = backoff * 2 > MAX_BACKOFF ? MAX_BACKOFF : backoff * 2;
    }
}
