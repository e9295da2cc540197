/* SPDX-License-Identifier: MIT */
/* Connections to FastCGI pools: opened, handed to requests, kept between
 * them and closed. A kept connection holds one of the pool's workers
 * (PHP-FPM's worker waits on the connection for its next request), so an
 * idle one is given back after FCGI_IDLE_TIMEOUT, and none is kept while
 * a new connection of the pool still waits for its first answer: that
 * one may sit in the pool's listen queue until a worker comes free. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastcgi.h"
#include "fcgi_pool.h"
#include "kick_limits.h"

enum conn_state { C_OPENING, C_BUSY, C_IDLE };

struct fcgi_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_pipe_t pipe;
        uv_tcp_t tcp;
    } h; /* first: the close callback finds the connection from it */
    struct fcgi_pool *pool;
    struct fcgi_conn *prev, *next; /* the pool's idle list */
    enum conn_state state;
    bool fresh;        /* opened for the request that holds it */
    bool unanswered;   /* fresh, and no answer yet */
    uint64_t idle_since; /* ms (uv_now) */
    struct fcgi_wait *waiter; /* C_OPENING: for whom; NULL if it left */
    uv_alloc_cb alloc_cb;     /* C_BUSY: the user's reading */
    uv_read_cb read_cb;
    bool reading;             /* uv_read_start'ed */
    uv_connect_t connect;
    uv_getaddrinfo_t resolve;
    struct addrinfo *addrs;     /* TCP, while opening: what resolve gave */
    struct addrinfo *next_addr; /* the one to try if this one fails */
    char idle_buf[64]; /* what an idle connection reads: nothing valid */
};

struct fcgi_pool {
    struct fcgi_pool *next;
    struct fastcgi_pools *all;
    char *address;   /* as configured */
    char *path;      /* unix: the socket's path; NULL for TCP */
    char *host, *port;
    struct fcgi_conn *idle, *idle_tail; /* most recently used first */
    int busy;        /* connections opening or handed out */
    int unanswered;  /* of them, new ones with no answer yet */
    struct fcgi_wait *queue, *queue_tail;
    int queued;
    uv_timer_t idle_timer;
};

struct fastcgi_pools {
    uv_loop_t *loop;
    struct fcgi_pool *pools;
};

struct fastcgi_pools *
fastcgi_pools_new(uv_loop_t *loop)
{
    struct fastcgi_pools *ps = calloc(1, sizeof(*ps));

    if (ps)
        ps->loop = loop;
    return ps;
}

static void
pool_free(struct fcgi_pool *p)
{
    free(p->address);
    free(p->path);
    free(p->host);
    free(p->port);
    free(p);
}

/* HOST:PORT, HOST an IPv6 address in brackets or not: a name getaddrinfo
 * resolves. 0 or -ENOMEM. */
static int
pool_address_split(struct fcgi_pool *p, const char *address)
{
    const char *colon = strrchr(address, ':');
    const char *host = address;
    size_t n = (size_t)(colon - address);

    if (strncmp(address, "unix:", 5) == 0) {
        p->path = strdup(address + 5);
        return p->path ? 0 : -ENOMEM;
    }
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    p->host = strndup(host, n);
    p->port = strdup(colon + 1);
    return p->host && p->port ? 0 : -ENOMEM;
}

/* The pool of address, made on first use (cfg checked the address). */
static struct fcgi_pool *
pool_find(struct fastcgi_pools *ps, const char *address)
{
    struct fcgi_pool *p;

    for (p = ps->pools; p; p = p->next)
        if (strcmp(p->address, address) == 0)
            return p;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return NULL;
    p->all = ps;
    p->address = strdup(address);
    if (p->address == NULL || pool_address_split(p, address) < 0) {
        pool_free(p);
        return NULL;
    }
    uv_timer_init(ps->loop, &p->idle_timer);
    p->idle_timer.data = p;
    /* Kept connections never keep kickd running: nor does their timer. */
    uv_unref((uv_handle_t *)&p->idle_timer);
    p->next = ps->pools;
    ps->pools = p;
    return p;
}

void
fastcgi_pools_free(struct fastcgi_pools *ps)
{
    struct fcgi_pool *p, *next;
    bool started = false;

    if (ps == NULL)
        return;
    /* What is left is idle (the loop ended with nothing else open), and
     * may have been closed already by the server's last walk of the
     * loop's handles. */
    for (p = ps->pools; p; p = p->next) {
        for (struct fcgi_conn *c = p->idle; c; c = c->next) {
            if (!uv_is_closing(&c->h.handle)) {
                uv_close(&c->h.handle, NULL);
                started = true;
            }
        }
        if (!uv_is_closing((uv_handle_t *)&p->idle_timer)) {
            uv_close((uv_handle_t *)&p->idle_timer, NULL);
            started = true;
        }
    }
    if (started)
        uv_run(ps->loop, UV_RUN_NOWAIT);
    for (p = ps->pools; p; p = next) {
        next = p->next;
        struct fcgi_conn *c, *cn;
        for (c = p->idle; c; c = cn) {
            cn = c->next;
            free(c);
        }
        pool_free(p);
    }
    free(ps);
}

static void
conn_close_cb(uv_handle_t *h)
{
    struct fcgi_conn *c = (struct fcgi_conn *)h;

    uv_freeaddrinfo(c->addrs);
    free(c);
}

static void
idle_unlink(struct fcgi_conn *c)
{
    struct fcgi_pool *p = c->pool;

    if (c->prev)
        c->prev->next = c->next;
    else
        p->idle = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        p->idle_tail = c->prev;
    c->prev = c->next = NULL;
}

static void
pump(struct fcgi_pool *p);

/* Closes a connection that is not idle: a slot comes free. */
static void
conn_close(struct fcgi_conn *c)
{
    struct fcgi_pool *p = c->pool;

    p->busy--;
    uv_close(&c->h.handle, conn_close_cb);
    pump(p);
}

/* One reader for the connection's life: the user's while it is handed
 * out, else the pool's, for which anything an idle connection reads (the
 * pool closed it, or sent what it must not) ends it. Stopping and
 * starting a read costs system calls (libuv adds the socket to epoll
 * again each time), two a request if it changed hands. */
static void
conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct fcgi_conn *c = (struct fcgi_conn *)h;

    if (c->state == C_BUSY)
        c->alloc_cb(h, suggested, buf);
    else
        *buf = uv_buf_init(c->idle_buf, sizeof(c->idle_buf));
}

static void
conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct fcgi_conn *c = (struct fcgi_conn *)s;

    if (c->state == C_BUSY) {
        c->read_cb(s, nread, buf);
        return;
    }
    if (nread == 0)
        return;
    idle_unlink(c);
    uv_close(&c->h.handle, conn_close_cb);
}

static void
conn_read(struct fcgi_conn *c, bool on)
{
    if (on && !c->reading)
        uv_read_start(&c->h.stream, conn_alloc_cb, conn_read_cb);
    else if (!on && c->reading)
        uv_read_stop(&c->h.stream);
    c->reading = on;
}

static void
idle_timer_cb(uv_timer_t *t)
{
    struct fcgi_pool *p = t->data;
    uint64_t now = uv_now(t->loop);
    struct fcgi_conn *c;

    /* The oldest are at the tail. */
    while ((c = p->idle_tail) && now - c->idle_since >= FCGI_IDLE_TIMEOUT) {
        idle_unlink(c);
        uv_close(&c->h.handle, conn_close_cb);
    }
    if (c)
        uv_timer_start(t, idle_timer_cb,
                       FCGI_IDLE_TIMEOUT - (now - c->idle_since), 0);
}

/* c is w's user's now: read by its callbacks, and it keeps the loop
 * running while it is busy. */
static void
conn_hand(struct fcgi_conn *c, const struct fcgi_wait *w)
{
    c->state = C_BUSY;
    c->fresh = false;
    c->alloc_cb = w->alloc_cb;
    c->read_cb = w->read_cb;
    conn_read(c, true);
    uv_ref(&c->h.handle);
}

static void
conn_idle(struct fcgi_conn *c)
{
    struct fcgi_pool *p = c->pool;

    p->busy--;
    c->state = C_IDLE;
    c->idle_since = uv_now(p->all->loop);
    c->next = p->idle;
    if (p->idle)
        p->idle->prev = c;
    else
        p->idle_tail = c;
    p->idle = c;
    uv_unref(&c->h.handle);
    conn_read(c, true); /* its user may have stopped it */
    if (!uv_is_active((uv_handle_t *)&p->idle_timer))
        uv_timer_start(&p->idle_timer, idle_timer_cb, FCGI_IDLE_TIMEOUT, 0);
}

static void
queue_push(struct fcgi_pool *p, struct fcgi_wait *w)
{
    w->next = NULL;
    w->queued = true;
    if (p->queue_tail)
        p->queue_tail->next = w;
    else
        p->queue = w;
    p->queue_tail = w;
    p->queued++;
}

static struct fcgi_wait *
queue_pop(struct fcgi_pool *p)
{
    struct fcgi_wait *w = p->queue;

    p->queue = w->next;
    if (p->queue == NULL)
        p->queue_tail = NULL;
    p->queued--;
    w->queued = false;
    w->next = NULL;
    return w;
}

/* The connection is open: its waiter gets it, or the pool keeps it. */
static void
conn_opened(struct fcgi_conn *c)
{
    struct fcgi_wait *w = c->waiter;

    uv_freeaddrinfo(c->addrs);
    c->addrs = c->next_addr = NULL;
    c->waiter = NULL;
    if (w == NULL) {
        /* Its request left meanwhile. */
        c->state = C_BUSY;
        fcgi_conn_release(c, true);
        return;
    }
    w->opening = NULL;
    conn_hand(c, w);
    c->fresh = true;
    c->unanswered = true;
    c->pool->unanswered++;
    w->cb(w, c, 0);
}

static void
conn_failed(struct fcgi_conn *c, int err)
{
    struct fcgi_wait *w = c->waiter;

    c->waiter = NULL;
    if (w)
        w->opening = NULL;
    conn_close(c);
    if (w)
        w->cb(w, NULL, err);
}

static void
connect_cb(uv_connect_t *req, int status);

/* Connects c to ai; the addresses after it are tried if it fails. */
static int
tcp_connect(struct fcgi_conn *c, struct addrinfo *ai)
{
    c->next_addr = ai->ai_next;
    uv_tcp_nodelay(&c->h.tcp, 1); /* records are small and awaited */
    return uv_tcp_connect(&c->connect, &c->h.tcp, ai->ai_addr, connect_cb);
}

/* c could not connect to one of its host's addresses (err): a new handle
 * tries the next (a socket whose connect failed is not used again), as
 * "localhost" may give ::1 first to a pool on 127.0.0.1. */
static void
tcp_next(struct fcgi_conn *c, int err)
{
    struct fcgi_conn *n = c->next_addr ? calloc(1, sizeof(*n)) : NULL;

    if (n == NULL) {
        conn_failed(c, err);
        return;
    }
    *n = (struct fcgi_conn){.pool = c->pool, .state = C_OPENING,
                            .waiter = c->waiter, .addrs = c->addrs};
    n->connect.data = n;
    if (n->waiter)
        n->waiter->opening = n;
    uv_tcp_init(c->pool->all->loop, &n->h.tcp);
    err = tcp_connect(n, c->next_addr);
    c->addrs = NULL;
    c->waiter = NULL;
    uv_close(&c->h.handle, conn_close_cb); /* n holds its place */
    if (err < 0)
        tcp_next(n, err);
}

static void
connect_cb(uv_connect_t *req, int status)
{
    struct fcgi_conn *c = req->data;

    if (status < 0 && c->pool->path == NULL)
        tcp_next(c, status);
    else if (status < 0)
        conn_failed(c, status);
    else
        conn_opened(c);
}

static void
resolve_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    struct fcgi_conn *c = req->data;

    if (status < 0) {
        conn_failed(c, status);
        return;
    }
    c->addrs = ai;
    status = tcp_connect(c, ai);
    if (status < 0)
        tcp_next(c, status);
}

/* Opens a connection for w. 0, or a negative errno. */
static int
conn_open(struct fcgi_pool *p, struct fcgi_wait *w)
{
    uv_loop_t *loop = p->all->loop;
    struct fcgi_conn *c = calloc(1, sizeof(*c));
    int r = 0;

    if (c == NULL)
        return -ENOMEM;
    c->pool = p;
    c->state = C_OPENING;
    c->waiter = w;
    c->connect.data = c->resolve.data = c;
    if (p->path) {
        uv_pipe_init(loop, &c->h.pipe, 0);
        /* Errors, even at once, come to connect_cb. */
        uv_pipe_connect(&c->connect, &c->h.pipe, p->path, connect_cb);
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_NUMERICSERV};
        uv_tcp_init(loop, &c->h.tcp);
        r = uv_getaddrinfo(loop, &c->resolve, resolve_cb, p->host, p->port,
                           &hints);
    }
    if (r < 0) {
        uv_close(&c->h.handle, conn_close_cb);
        return r;
    }
    p->busy++;
    w->opening = c;
    return 0;
}

/* Opens connections for the queue's first requests while their limits
 * allow; one that cannot be opened is told so. */
static void
pump(struct fcgi_pool *p)
{
    while (p->queue && (p->queue->limit <= 0 || p->busy < p->queue->limit)) {
        struct fcgi_wait *w = queue_pop(p);
        int r = conn_open(p, w);
        if (r < 0)
            w->cb(w, NULL, r);
    }
}

int
fcgi_pool_get(struct fastcgi_pools *ps, const char *address, int limit,
              bool fresh, struct fcgi_wait *w, struct fcgi_conn **got)
{
    struct fcgi_pool *p = pool_find(ps, address);

    if (p == NULL)
        return -ENOMEM;
    w->pool = p;
    w->limit = limit;
    w->opening = NULL;
    if (!fresh && p->idle) {
        struct fcgi_conn *c = p->idle;
        idle_unlink(c);
        p->busy++;
        conn_hand(c, w);
        *got = c;
        return 1;
    }
    if (limit > 0 && p->busy >= limit) {
        if (p->queued >= FCGI_MAX_QUEUE)
            return -EAGAIN;
        queue_push(p, w);
        return 0;
    }
    return conn_open(p, w);
}

void
fcgi_wait_cancel(struct fcgi_wait *w)
{
    struct fcgi_pool *p = w->pool;

    if (w->opening) {
        w->opening->waiter = NULL;
        w->opening = NULL;
    }
    if (!w->queued)
        return;
    struct fcgi_wait **pp = &p->queue, *prev = NULL;
    while (*pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = w->next;
    if (p->queue_tail == w)
        p->queue_tail = prev;
    p->queued--;
    w->queued = false;
}

uv_stream_t *
fcgi_conn_stream(struct fcgi_conn *c)
{
    return &c->h.stream;
}

void
fcgi_conn_read_stop(struct fcgi_conn *c)
{
    conn_read(c, false);
}

void
fcgi_conn_read_start(struct fcgi_conn *c)
{
    conn_read(c, true);
}

bool
fcgi_conn_is_kept(const struct fcgi_conn *c)
{
    return !c->fresh;
}

void
fcgi_conn_answered(struct fcgi_conn *c)
{
    if (c->unanswered) {
        c->unanswered = false;
        c->pool->unanswered--;
    }
}

void
fcgi_conn_release(struct fcgi_conn *c, bool keep)
{
    struct fcgi_pool *p = c->pool;

    fcgi_conn_answered(c);
    c->alloc_cb = NULL;
    c->read_cb = NULL;
    if (keep && p->queue) {
        /* The first waiting request takes it as it is. */
        struct fcgi_wait *w = queue_pop(p);
        conn_hand(c, w);
        w->cb(w, c, 0);
        return;
    }
    if (keep && p->unanswered == 0) {
        conn_idle(c);
        return;
    }
    conn_close(c);
}
