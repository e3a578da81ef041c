/*
 * PID 1 of the toolstack tests' guest. It finds the virtio-serial port named lightvm.agent, writes "READY"
 * on it, then answers line by line: "ls NAME" lists directory NAME of the lightvm.share 9p export (mounted on
 * first use), "exit" ends PID 1 (the kernel panics and, with panic=-1 reboot=t, the VM exits), anything else is
 * echoed back. A read of 0 means the host side is not connected: wait and retry.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_agent_port(void)
{
    for (int attempt = 0; attempt < 500; attempt++) {
        DIR *ports = opendir("/sys/class/virtio-ports");
        struct dirent *entry;
        while (ports && (entry = readdir(ports)) != NULL) {
            char path[300], name[64] = {0};
            snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", entry->d_name);
            int fd = open(path, O_RDONLY);
            if (fd < 0)
                continue;
            ssize_t n = read(fd, name, sizeof name - 1);
            close(fd);
            if (n > 0 && strncmp(name, "lightvm.agent", 13) == 0) {
                snprintf(path, sizeof path, "/dev/%s", entry->d_name);
                closedir(ports);
                return open(path, O_RDWR);
            }
        }
        if (ports)
            closedir(ports);
        usleep(10000);
    }
    return -1;
}

static void write_all(int fd, const char *text, size_t length)
{
    while (length > 0) {
        ssize_t n = write(fd, text, length);
        if (n <= 0) {
            usleep(10000);
            continue;
        }
        text += n;
        length -= (size_t)n;
    }
}

static void list_share(int fd, const char *name)
{
    static int mounted;
    char reply[4096] = "", path[1100];
    if (!mounted) {
        mkdir("/share", 0755);
        if (mount("lightvm.share", "/share", "9p", 0, "trans=virtio,version=9p2000.L") != 0) {
            write_all(fd, "ERR mount\n", 10);
            return;
        }
        mounted = 1;
    }
    snprintf(path, sizeof path, "/share/%s", name);
    DIR *dir = opendir(path);
    if (!dir) {
        write_all(fd, "ERR opendir\n", 12);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        strncat(reply, entry->d_name, sizeof reply - strlen(reply) - 2);
        strncat(reply, " ", sizeof reply - strlen(reply) - 2);
    }
    closedir(dir);
    strcat(reply, "\n");
    write_all(fd, reply, strlen(reply));
}

int main(void)
{
    mkdir("/dev", 0755);
    mkdir("/sys", 0755);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);

    int fd = open_agent_port();
    if (fd < 0) {
        printf("test-init: no lightvm.agent port\n");
        return 1;
    }
    write_all(fd, "READY\n", 6);

    char line[1024];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, line + used, sizeof line - 1 - used);
        if (n <= 0) {
            usleep(20000);
            continue;
        }
        used += (size_t)n;
        char *newline;
        while ((newline = memchr(line, '\n', used)) != NULL) {
            *newline = '\0';
            if (strcmp(line, "exit") == 0) {
                return 3;
            } else if (strncmp(line, "ls ", 3) == 0) {
                list_share(fd, line + 3);
            } else {
                write_all(fd, line, strlen(line));
                write_all(fd, "\n", 1);
            }
            size_t consumed = (size_t)(newline - line) + 1;
            memmove(line, newline + 1, used - consumed);
            used -= consumed;
        }
        if (used == sizeof line - 1)
            used = 0;
    }
}
