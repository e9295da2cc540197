/* SPDX-License-Identifier: MIT */
/* ok_sink: the keep-alive HTTP/1.1 server the forward runner is measured
 * against, and wrk beside it. It answers every whole request on
 * 127.0.0.1:PORT (head, then Content-Length bytes of body, pipelined or
 * not) with "200 ok" and keeps the connection, unless the request asked
 * to close it. One epoll loop, so that it costs a client little. SIGUSR1
 * prints "requests N bad N"; SIGTERM prints it and exits. */

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

/* A head longer than this is no request of the benchmark's: answered 431
 * and closed. */
#define HEAD_MAX 8192
/* Answers not yet taken by the kernel; a client that reads none of them
 * is closed when they reach this. */
#define OUT_MAX 65536
#define MAX_EVENTS 256

static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         "Content-Length: 3\r\n\r\nok\n";
static const char too_big[] = "HTTP/1.1 431 Request Header Fields Too Large"
                              "\r\nContent-Length: 0\r\nConnection: close"
                              "\r\n\r\n";

struct oconn {
    int fd;
    int closing;      /* close once out is sent */
    size_t in;        /* bytes in head */
    size_t skip;      /* body bytes of the current request still to come */
    size_t out, sent; /* bytes in obuf, and of them written */
    char head[HEAD_MAX];
    char obuf[OUT_MAX];
};

struct osink {
    int ep;
    long requests; /* answered 200 */
    long bad;      /* answered 431 or closed for a bad head */
};

/* The value of header name (with its colon) in the head [p, end), or NULL. */
static const char *
header(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);

    for (; p < end; p++) {
        if (p[0] == '\n' && (size_t)(end - p) > n &&
            strncasecmp(p + 1, name, n) == 0)
            return p + 1 + n;
    }
    return NULL;
}

static void
conn_close(struct oconn *c)
{
    close(c->fd); /* also leaves the epoll set */
    free(c);
}

/* Sends what is queued; 0, or -1 when the connection is done with. */
static int
conn_flush(struct osink *s, struct oconn *c)
{
    struct epoll_event ev = {.data.ptr = c};

    while (c->sent < c->out) {
        ssize_t n = write(c->fd, c->obuf + c->sent, c->out - c->sent);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            ev.events = EPOLLIN | EPOLLOUT;
            epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
            return 0;
        }
        if (n < 0)
            return -1;
        c->sent += (size_t)n;
    }
    c->out = c->sent = 0;
    if (c->closing)
        return -1;
    ev.events = EPOLLIN;
    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
}

static int
queue(struct oconn *c, const char *msg, size_t len)
{
    if (OUT_MAX - c->out < len)
        return -1;
    memcpy(c->obuf + c->out, msg, len);
    c->out += len;
    return 0;
}

/* Answers the whole requests in head; keeps a partial one. 0, or -1 to
 * close. */
static int
conn_parse(struct osink *s, struct oconn *c)
{
    for (;;) {
        char *end = memmem(c->head, c->in, "\r\n\r\n", 4);
        const char *v;
        size_t used;

        if (end == NULL) {
            if (c->in < HEAD_MAX)
                return 0;
            s->bad++;
            c->closing = 1;
            return queue(c, too_big, sizeof(too_big) - 1);
        }
        used = (size_t)(end - c->head) + 4;
        v = header(c->head, end, "Content-Length:");
        c->skip = v ? strtoul(v, NULL, 10) : 0;
        v = header(c->head, end, "Connection:");
        if (v && strncasecmp(v + strspn(v, " \t"), "close", 5) == 0)
            c->closing = 1;
        if (header(c->head, end, "Transfer-Encoding:")) {
            s->bad++; /* no chunked bodies here: none are sent */
            return -1;
        }
        if (queue(c, ok, sizeof(ok) - 1) < 0)
            return -1;
        s->requests++;
        c->in -= used;
        memmove(c->head, c->head + used, c->in);
        used = c->skip < c->in ? c->skip : c->in;
        c->skip -= used;
        c->in -= used;
        memmove(c->head, c->head + used, c->in);
        if (c->closing || c->in == 0)
            return 0;
    }
}

/* Reads what is there and answers it; ends the connection at EOF or on an
 * error. */
static void
conn_read(struct osink *s, struct oconn *c)
{
    char scratch[4096];

    for (;;) {
        char *to = c->skip ? scratch : c->head + c->in;
        size_t room = c->skip ? sizeof(scratch) : HEAD_MAX - c->in;
        ssize_t n;

        if (c->skip && room > c->skip)
            room = c->skip;
        n = read(c->fd, to, room);
        if (n > 0) {
            if (c->skip)
                c->skip -= (size_t)n;
            else
                c->in += (size_t)n;
            if (!c->closing && conn_parse(s, c) < 0)
                break;
            if (c->closing)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        conn_close(c);
        return;
    }
    if (conn_flush(s, c) < 0)
        conn_close(c);
}

static void
accept_all(struct osink *s, int lfd)
{
    for (;;) {
        struct epoll_event ev = {.events = EPOLLIN};
        struct oconn *c;
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                perror("ok_sink: accept");
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
            perror("ok_sink: epoll_ctl");
            conn_close(c);
            continue;
        }
    }
}

int
main(int argc, char **argv)
{
    struct osink s = {0};
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
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    if ((lfd = loopback_listen(port, 4096)) < 0) {
        fprintf(stderr, "ok_sink: 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    if ((sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        (s.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        perror("ok_sink");
        return 1;
    }
    ev.data.ptr = &listener;
    epoll_ctl(s.ep, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.ptr = &signals;
    epoll_ctl(s.ep, EPOLL_CTL_ADD, sfd, &ev);
    for (;;) {
        int n = epoll_wait(s.ep, evs, MAX_EVENTS, -1);

        if (n < 0 && errno != EINTR) {
            perror("ok_sink: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct signalfd_siginfo si;
            struct oconn *c = evs[i].data.ptr;

            if (evs[i].data.ptr == &listener) {
                accept_all(&s, lfd);
                continue;
            }
            if (evs[i].data.ptr != &signals) {
                if (evs[i].events & EPOLLOUT && !(evs[i].events & EPOLLIN)) {
                    if (conn_flush(&s, c) < 0)
                        conn_close(c);
                } else {
                    conn_read(&s, c);
                }
                continue;
            }
            while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                printf("requests %ld bad %ld\n", s.requests, s.bad);
                fflush(stdout);
                if (si.ssi_signo != SIGUSR1)
                    return 0;
            }
        }
    }
usage:
    fprintf(stderr, "usage: ok_sink -p PORT\n");
    return 2;
}
