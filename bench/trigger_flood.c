/* SPDX-License-Identifier: MIT */
/* trigger_flood: sends JOBS triggers to kickd as fast as it takes them:
 * CONNS keep-alive connections, each with WINDOW pipelined POSTs of a
 * 3-byte body and the given extra header in flight. Every answer must be
 * 202. Prints the rate of all, of the first and of the last MARK answers,
 * and of every whole block of MARK. */

#define _GNU_SOURCE /* memmem(3) */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_WINDOW 256
/* The request is built from the path and one header given on the command
 * line; both are short. */
#define MAX_REQUEST 1024
/* kickd's 202 is ~180 bytes; what is read at once is parsed at once. */
#define RBUF_SIZE 65536
/* No answer at all for this long means a stuck server. */
#define STALL_LIMIT 30.0 /* s */

struct fconn {
    int fd;
    int in_flight;  /* requests sent whose answer has not arrived */
    size_t unsent;  /* bytes of the current batch not yet written */
    const char *at; /* next byte of the batch to write */
    size_t rlen;    /* bytes in rbuf */
    char rbuf[RBUF_SIZE];
};

struct flood {
    long jobs;   /* triggers to send in all */
    long issued; /* triggers put into a batch */
    long done;   /* 202 answers */
    long mark;   /* answers per block */
    double *at;  /* at[i]: when answer i * mark arrived, at[0] the start */
    double tail; /* when answer jobs - mark arrived */
    double end;  /* when the last answer arrived */
    int window;
    char *batch;  /* window copies of the request back to back */
    size_t rqlen; /* bytes of one request */
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

/* Tops the connection's window up, while triggers remain to be sent, and
 * writes what it can without blocking. Returns 0 or -errno. */
static int
conn_send(struct flood *f, struct fconn *c)
{
    if (c->unsent == 0 && c->in_flight < f->window && f->issued < f->jobs) {
        long n = f->window - c->in_flight;

        if (n > f->jobs - f->issued)
            n = f->jobs - f->issued;
        c->at = f->batch;
        c->unsent = (size_t)n * f->rqlen;
        c->in_flight += (int)n;
        f->issued += n;
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

/* The length of the complete answer at the start of p (head and body), 0
 * if it is not all there yet, or -1 if it is no 202 (printed). */
static long
answer_len(const char *p, size_t len)
{
    const char *end = memmem(p, len, "\r\n\r\n", 4);
    const char *h;
    long body = 0;

    if (end == NULL && len > RBUF_SIZE / 2)
        fprintf(stderr, "trigger_flood: no end of head in %zu bytes\n", len);
    if (end == NULL)
        return len > RBUF_SIZE / 2 ? -1 : 0;
    if (len < 13 || memcmp(p, "HTTP/1.1 202 ", 13) != 0) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));

        fprintf(stderr, "trigger_flood: answer %.*s\n", (int)(eol - p), p);
        return -1;
    }
    /* Content-Length is the only framing kickd uses for a 202 (RFC 9112
     * section 6.3). */
    for (h = p; h < end; h++) {
        if (h[0] == '\n' && strncasecmp(h + 1, "content-length:", 15) == 0) {
            body = strtol(h + 16, NULL, 10);
            break;
        }
    }
    if ((size_t)(end + 4 - p) + (size_t)body > len)
        return 0;
    return (long)(end + 4 - p) + body;
}

/* Reads the answers that have arrived, until recv(2) would block (the
 * socket is edge-triggered), counts them and notes when the marks were
 * passed. Returns 0, or -1 after
 * printing why. */
static int
conn_recv(struct flood *f, struct fconn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen,
                         MSG_DONTWAIT);
        size_t off = 0;
        long a;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            fprintf(stderr, "trigger_flood: connection: %s after %ld\n",
                    n == 0 ? "closed by kickd" : strerror(errno), f->done);
            return -1;
        }
        c->rlen += (size_t)n;
        while ((a = answer_len(c->rbuf + off, c->rlen - off)) > 0) {
            off += (size_t)a;
            c->in_flight--;
            f->done++;
            if (f->done % f->mark == 0 || f->done == f->jobs - f->mark ||
                f->done == f->jobs) {
                double t = now();

                if (f->done % f->mark == 0)
                    f->at[f->done / f->mark] = t;
                if (f->done == f->jobs - f->mark)
                    f->tail = t;
                if (f->done == f->jobs)
                    f->end = t;
            }
        }
        if (a < 0)
            return -1;
        c->rlen -= off;
        memmove(c->rbuf, c->rbuf + off, c->rlen);
    }
}

static void
usage(void)
{
    fprintf(stderr, "usage: trigger_flood -p PORT [-n JOBS] [-c CONNS] "
                    "[-w WINDOW] [-m MARK] [-H 'NAME: VALUE'] PATH\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    static struct fconn conns[MAX_CONNS];
    char request[MAX_REQUEST];
    struct epoll_event ev, evs[64];
    struct flood f = {0};
    const char *header = NULL;
    int nconns = 64, port = 0, ep, opt, len;
    long blocks;
    double last_progress, first, last, total;

    f.jobs = 1000000;
    f.mark = 100000;
    f.window = 1;
    while ((opt = getopt(argc, argv, "p:n:c:w:m:H:")) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'n':
            f.jobs = atol(optarg);
            break;
        case 'c':
            nconns = atoi(optarg);
            break;
        case 'w':
            f.window = atoi(optarg);
            break;
        case 'm':
            f.mark = atol(optarg);
            break;
        case 'H':
            header = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc - 1 || port <= 0 || port > 65535 || nconns < 1 ||
        nconns > MAX_CONNS || f.window < 1 || f.window > MAX_WINDOW ||
        f.mark < 1 || f.jobs < f.mark)
        usage();
    len = snprintf(request, sizeof(request),
                   "POST %s HTTP/1.1\r\nHost: bench\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   "%s%sContent-Length: 3\r\n\r\na=1",
                   argv[optind], header ? header : "", header ? "\r\n" : "");
    if (len < 0 || (size_t)len >= sizeof(request))
        usage();
    f.rqlen = (size_t)len;
    blocks = f.jobs / f.mark;
    f.at = calloc((size_t)blocks + 1, sizeof(*f.at));
    f.batch = malloc((size_t)f.window * f.rqlen);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (f.at == NULL || f.batch == NULL || ep < 0) {
        perror("trigger_flood");
        return 1;
    }
    for (int i = 0; i < f.window; i++)
        memcpy(f.batch + (size_t)i * f.rqlen, request, f.rqlen);
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = conn_open(port);
        if (conns[i].fd < 0) {
            fprintf(stderr, "trigger_flood: connect: %s\n",
                    strerror(-conns[i].fd));
            return 1;
        }
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        ev.data.ptr = &conns[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }

    f.at[0] = last_progress = now();
    /* With a single block, the last block starts with the first. */
    f.tail = f.at[0];
    while (f.done < f.jobs) {
        long before = f.done;
        int n = epoll_wait(ep, evs, 64, 1000);

        if (n < 0 && errno != EINTR) {
            perror("trigger_flood: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct fconn *c = evs[i].data.ptr;

            if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
                conn_recv(&f, c) < 0)
                return 1;
            if (conn_send(&f, c) < 0) {
                perror("trigger_flood: send");
                return 1;
            }
        }
        if (f.done > before)
            last_progress = now();
        else if (now() - last_progress > STALL_LIMIT) {
            fprintf(stderr, "trigger_flood: no answer for %.0f s after %ld\n",
                    STALL_LIMIT, f.done);
            return 1;
        }
    }

    total = f.end - f.at[0];
    first = f.at[1] - f.at[0];
    last = f.end - f.tail;
    printf("triggers %ld seconds %.3f rate %.0f\n", f.jobs, total,
           (double)f.jobs / total);
    /* The spans' ends on CLOCK_MONOTONIC, so that the caller can tell what
     * else the machine did meanwhile. */
    printf("first %ld rate %.0f from %.3f to %.3f\n", f.mark,
           (double)f.mark / first, f.at[0], f.at[1]);
    printf("last %ld rate %.0f from %.3f to %.3f\n", f.mark,
           (double)f.mark / last, f.tail, f.end);
    printf("blocks");
    for (long i = 1; i <= blocks; i++)
        printf(" %.0f", (double)f.mark / (f.at[i] - f.at[i - 1]));
    printf("\n");
    for (int i = 0; i < nconns; i++)
        close(conns[i].fd);
    free(f.at);
    free(f.batch);
    return 0;
}
