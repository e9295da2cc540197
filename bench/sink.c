/* SPDX-License-Identifier: MIT */
/* sink: the local server the sent-mode triggers are measured against. It
 * accepts on 127.0.0.1:PORT, reads each connection until the client closes
 * it and discards the bytes, checking only that they were one whole
 * request (head, then Content-Length bytes of body). SIGUSR1 prints
 * "connections N complete N bytes N"; SIGTERM prints it and exits. */

#define _GNU_SOURCE /* accept4(2), memmem(3) */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback.h"

/* The triggers are ~200 bytes; a head longer than this is no trigger, and
 * what follows it is only counted. */
#define HEAD_MAX 4096
#define MAX_EVENTS 256

struct sconn {
    int fd;
    size_t len;  /* bytes read in all */
    size_t kept; /* of them, the first ones kept in buf */
    char buf[HEAD_MAX];
};

struct sink {
    int ep;
    long conns;    /* connections ended */
    long complete; /* of them, those that carried one whole request */
    long long bytes;
};

/* 1 when buf (len bytes in all, kept of them here) holds a request head
 * and exactly the body its Content-Length announces (none if absent). */
static int
is_complete(const char *buf, size_t kept, size_t len)
{
    const char *end = memmem(buf, kept, "\r\n\r\n", 4), *p;
    size_t head, body = 0;

    if (end == NULL)
        return 0;
    head = (size_t)(end - buf) + 4;
    for (p = buf; p < end; p++) {
        if (p[0] != '\n')
            continue;
        if (end - p > 16 && strncasecmp(p + 1, "Content-Length:", 15) == 0)
            body = strtoul(p + 16, NULL, 10);
    }
    return len == head + body;
}

static void
conn_end(struct sink *s, struct sconn *c)
{
    s->conns++;
    s->bytes += (long long)c->len;
    if (is_complete(c->buf, c->kept, c->len))
        s->complete++;
    close(c->fd); /* also leaves the epoll set */
    free(c);
}

/* Reads what is there; ends the connection at EOF or on an error. */
static void
conn_read(struct sink *s, struct sconn *c)
{
    char scratch[HEAD_MAX];

    for (;;) {
        char *to = c->kept < HEAD_MAX ? c->buf + c->kept : scratch;
        size_t room = c->kept < HEAD_MAX ? HEAD_MAX - c->kept : HEAD_MAX;
        ssize_t n = read(c->fd, to, room);

        if (n > 0) {
            if (to != scratch)
                c->kept += (size_t)n;
            c->len += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_end(s, c);
        return;
    }
}

static void
accept_all(struct sink *s, int lfd)
{
    for (;;) {
        struct epoll_event ev = {.events = EPOLLIN};
        struct sconn *c;
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                perror("sink: accept");
            return;
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        ev.data.ptr = c;
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("sink: epoll_ctl");
            close(fd);
            free(c);
            continue;
        }
        /* The request is usually there already, often with the FIN. */
        conn_read(s, c);
    }
}

int
main(int argc, char **argv)
{
    struct sink s = {0};
    struct epoll_event ev = {.events = EPOLLIN}, evs[MAX_EVENTS];
    sigset_t sigs;
    int opt, port = 0, lfd, sfd;
    /* The epoll data of the listener and the signalfd: not connections. */
    static char listener, signals;

    while ((opt = getopt(argc, argv, "p:")) != -1) {
        if (opt != 'p' || (port = atoi(optarg)) <= 0 || port > 65535)
            goto usage;
    }
    if (port == 0 || optind != argc)
        goto usage;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    if ((lfd = loopback_listen(port, 65535)) < 0) {
        fprintf(stderr, "sink: 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    if ((sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        (s.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        perror("sink");
        return 1;
    }
    ev.data.ptr = &listener;
    epoll_ctl(s.ep, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.ptr = &signals;
    epoll_ctl(s.ep, EPOLL_CTL_ADD, sfd, &ev);
    for (;;) {
        int n = epoll_wait(s.ep, evs, MAX_EVENTS, -1);

        if (n < 0 && errno != EINTR) {
            perror("sink: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct signalfd_siginfo si;

            if (evs[i].data.ptr == &listener) {
                accept_all(&s, lfd);
                continue;
            }
            if (evs[i].data.ptr != &signals) {
                conn_read(&s, evs[i].data.ptr);
                continue;
            }
            while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                printf("connections %ld complete %ld bytes %lld\n", s.conns,
                       s.complete, s.bytes);
                fflush(stdout);
                if (si.ssi_signo != SIGUSR1)
                    return 0;
            }
        }
    }
usage:
    fprintf(stderr, "usage: sink -p PORT\n");
    return 2;
}
