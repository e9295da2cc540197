/* SPDX-License-Identifier: MIT */
/* beanstalk_put: the benchmark's load on beanstalkd, the peer of kickd's
 * durable triggers. CONNS connections each keep WINDOW `put` commands of a
 * 3-byte job in flight (pipelined) for SECONDS, counting INSERTED replies.
 * Prints puts/s. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_WINDOW 1024
/* priority 0, no delay, TTR 60 s, 3 bytes: "a=1", as kickd's body. */
#define PUT_CMD "put 0 0 60 3\r\na=1\r\n"
/* Replies are one line each, "INSERTED <id>\r\n"; what is read at once
 * is parsed at once, so a few kB do. */
#define RBUF_SIZE 16384
/* A reply line longer than this is no beanstalkd reply. */
#define MAX_LINE 200
/* Replies still missing this long after the end mean a stuck server. */
#define DRAIN_LIMIT 10.0 /* s */

struct bconn {
    int fd;
    int in_flight;  /* puts sent whose reply has not arrived */
    size_t unsent;  /* bytes of the current batch not yet written */
    const char *at; /* next byte of the batch to write */
    size_t rlen;    /* bytes in rbuf */
    char rbuf[RBUF_SIZE];
};

struct put_bench {
    int window;
    int sending;   /* 0 after the deadline: no new puts */
    long inserted; /* INSERTED replies */
    char *batch;   /* window copies of PUT_CMD back to back */
};

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
conn_open(int port)
{
    struct sockaddr_in a;
    int fd, one = 1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;

        close(fd);
        return -e;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Tops the connection's window up and writes what it can without
 * blocking. Returns 0 or -errno. */
static int
conn_send(struct put_bench *b, struct bconn *c)
{
    if (c->unsent == 0 && b->sending && c->in_flight < b->window) {
        int n = b->window - c->in_flight;

        c->at = b->batch;
        c->unsent = (size_t)n * (sizeof(PUT_CMD) - 1);
        c->in_flight += n;
    }
    while (c->unsent > 0) {
        ssize_t w = send(c->fd, c->at, c->unsent, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return -errno;
        }
        c->at += w;
        c->unsent -= (size_t)w;
    }
    return 0;
}

/* Reads the replies that have arrived, until recv(2) would block (the
 * socket is edge-triggered), and counts them. Returns 0, or -1 after
 * printing why. */
static int
conn_recv(struct put_bench *b, struct bconn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen,
                         MSG_DONTWAIT);
        char *p = c->rbuf, *eol;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            fprintf(stderr, "beanstalk_put: connection: %s\n",
                    n == 0 ? "closed by the server" : strerror(errno));
            return -1;
        }
        c->rlen += (size_t)n;
        while ((eol = memchr(p, '\n', c->rlen - (size_t)(p - c->rbuf))) !=
               NULL) {
            if (strncmp(p, "INSERTED ", 9) != 0) {
                fprintf(stderr, "beanstalk_put: reply %.*s\n", (int)(eol - p),
                        p);
                return -1;
            }
            b->inserted++;
            c->in_flight--;
            p = eol + 1;
        }
        c->rlen -= (size_t)(p - c->rbuf);
        memmove(c->rbuf, p, c->rlen);
        if (c->rlen > MAX_LINE) {
            fprintf(stderr, "beanstalk_put: no line end in %zu bytes\n",
                    c->rlen);
            return -1;
        }
    }
}

static void
usage(void)
{
    fprintf(stderr, "usage: beanstalk_put -p PORT [-c CONNS] [-w WINDOW] "
                    "[-d SECONDS]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    static struct bconn conns[MAX_CONNS];
    struct epoll_event ev, evs[64];
    struct put_bench b = {0};
    int nconns = 1, port = 0, ep, opt, busy;
    double secs = 10, start, deadline, end;

    b.window = 1;
    while ((opt = getopt(argc, argv, "p:c:w:d:")) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'c':
            nconns = atoi(optarg);
            break;
        case 'w':
            b.window = atoi(optarg);
            break;
        case 'd':
            secs = atof(optarg);
            break;
        default:
            usage();
        }
    }
    if (optind != argc || port <= 0 || port > 65535 || nconns < 1 ||
        nconns > MAX_CONNS || b.window < 1 || b.window > MAX_WINDOW ||
        secs <= 0)
        usage();
    b.batch = malloc((size_t)b.window * (sizeof(PUT_CMD) - 1));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (b.batch == NULL || ep < 0) {
        perror("beanstalk_put");
        return 1;
    }
    for (int i = 0; i < b.window; i++)
        memcpy(b.batch + (size_t)i * (sizeof(PUT_CMD) - 1), PUT_CMD,
               sizeof(PUT_CMD) - 1);
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = conn_open(port);
        if (conns[i].fd < 0) {
            fprintf(stderr, "beanstalk_put: connect: %s\n",
                    strerror(-conns[i].fd));
            return 1;
        }
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        ev.data.ptr = &conns[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }

    b.sending = 1;
    start = now();
    deadline = start + secs;
    for (;;) {
        int n = epoll_wait(ep, evs, 64, 100);

        if (n < 0 && errno != EINTR) {
            perror("beanstalk_put: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct bconn *c = evs[i].data.ptr;

            if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
                conn_recv(&b, c) < 0)
                return 1;
            if (conn_send(&b, c) < 0) {
                perror("beanstalk_put: send");
                return 1;
            }
        }
        if (b.sending && now() >= deadline) {
            /* The rate counts what was inserted by the deadline; the
             * replies still on their way are waited for only so that
             * the server is left idle. */
            end = now();
            b.sending = 0;
            printf("puts %ld seconds %.3f puts/s %.0f\n", b.inserted,
                   end - start, (double)b.inserted / (end - start));
            fflush(stdout);
        }
        if (!b.sending) {
            busy = 0;
            for (int i = 0; i < nconns; i++)
                busy += conns[i].in_flight;
            if (busy == 0)
                break;
            if (now() > deadline + DRAIN_LIMIT) {
                fprintf(stderr, "beanstalk_put: %d replies missing\n", busy);
                return 1;
            }
        }
    }
    for (int i = 0; i < nconns; i++)
        close(conns[i].fd);
    free(b.batch);
    return 0;
}
