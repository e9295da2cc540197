/* SPDX-License-Identifier: MIT */
/* Connections to FastCGI pools, for the fastcgi runner: one pool per
 * address (unix:/PATH, or HOST:PORT resolved with getaddrinfo each time a
 * connection is opened), its connections kept open between requests
 * (FCGI_KEEP_CONN) and reused, at most a route's concurrency of them busy
 * at once with the requests beyond waiting in a FIFO queue. */
#ifndef KICKD_FCGI_POOL_H
#define KICKD_FCGI_POOL_H

#include <stdbool.h>
#include <uv.h>

struct fastcgi_pools; /* fastcgi.h: every pool kickd talks to */
struct fcgi_pool;
struct fcgi_conn;

/* A request waiting for a connection (embedded in it). */
struct fcgi_wait {
    /* Called from the loop with a connection (err 0) or without one (err
     * a negative libuv error: the pool could not be reached). */
    void (*cb)(struct fcgi_wait *w, struct fcgi_conn *c, int err);
    /* What reads the connection from the moment it is handed over (the
     * stream's data pointer is the user's to set before it returns to
     * the loop). */
    uv_alloc_cb alloc_cb;
    uv_read_cb read_cb;
    /* The pool's: */
    struct fcgi_pool *pool;
    struct fcgi_wait *next; /* in the queue */
    struct fcgi_conn *opening; /* the connection being opened for it */
    int limit;                 /* busy connections it may add to (0: any) */
    bool queued;
};

/* A connection for w to the pool at address: 1 with *got, a kept idle
 * one (none if fresh); 0 while w waits for w->cb (a new connection being
 * opened, or w queued behind limit busy ones); or a negative errno
 * (-ENOMEM, -EAGAIN when the queue is full). */
int
fcgi_pool_get(struct fastcgi_pools *ps, const char *address, int limit,
              bool fresh, struct fcgi_wait *w, struct fcgi_conn **got);

/* w waits no more; no cb follows. A connection being opened for it is
 * kept for the pool. */
void
fcgi_wait_cancel(struct fcgi_wait *w);

/* The connection's stream: its user writes it, and its data pointer is
 * the user's while the connection is handed out. The pool reads it for
 * the whole of its life, handing what comes to the user's callbacks
 * (fcgi_wait) while it is handed out: a kept connection is never
 * stopped and started again between requests. */
uv_stream_t *
fcgi_conn_stream(struct fcgi_conn *c);

/* The user stops reading c (its sink is slow), or reads it again. */
void
fcgi_conn_read_stop(struct fcgi_conn *c);
void
fcgi_conn_read_start(struct fcgi_conn *c);

/* Whether the connection was open before its request got it (kept from
 * an earlier request): the pool may have closed it meanwhile. */
bool
fcgi_conn_is_kept(const struct fcgi_conn *c);

/* The first byte of an answer came: the pool's worker took the request
 * (until then a new connection may wait in the pool's listen queue). */
void
fcgi_conn_answered(struct fcgi_conn *c);

/* The user is done with c: kept for the next request (keep: the last
 * request ended cleanly), or closed. Its callbacks are called no more. */
void
fcgi_conn_release(struct fcgi_conn *c, bool keep);

#endif
