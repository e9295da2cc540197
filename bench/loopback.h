/* SPDX-License-Identifier: MIT */
/* The benchmark servers' listening socket: 127.0.0.1:PORT, non-blocking,
 * close-on-exec, SO_REUSEADDR. */
#ifndef KICK_BENCH_LOOPBACK_H
#define KICK_BENCH_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Returns the listening fd, or -1 with errno set. The kernel caps
 * backlog at net.core.somaxconn. */
static inline int
loopback_listen(int port, int backlog)
{
    struct sockaddr_in a;
    int fd, one = 1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(fd, backlog) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

#endif
