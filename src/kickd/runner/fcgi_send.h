/* SPDX-License-Identifier: MIT */
/* A FastCGI request's bytes on their way to its pool (the fastcgi
 * runner's): its head (FCGI_BEGIN_REQUEST, and PARAMS made of the run's
 * CGI environment and PHP's per-request ini), then STDIN records as the
 * body comes, held until there is a connection, with a copy kept while
 * the request may have to be sent again on a new connection. A body
 * known at the start (none, or cr->body) is part of the head: the whole
 * request leaves in one write. */
#ifndef KICKD_FCGI_SEND_H
#define KICKD_FCGI_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct cgi_request;

/* kickd sends one request at a time on a connection (PHP-FPM does not
 * multiplex): its id is always 1. */
#define FCGI_REQUEST_ID 1

/* Bytes gathered before they can be written. */
struct fcgi_bytes {
    char *p;
    size_t len, cap;
};

struct fcgi_send {
    /* The owner's: */
    void *data;
    /* A write to the current stream failed (a negative libuv error). */
    void (*error_cb)(struct fcgi_send *s, int err);
    /* A write is done (was_full: the body queue was at its limit before):
     * called last, the owner may free s from it. */
    void (*written_cb)(struct fcgi_send *s, bool was_full);
    /* Its own: */
    uv_stream_t *stream; /* NULL without a connection */
    unsigned gen;        /* changes with stream: writes to an old one */
    char *head;
    size_t head_len;
    struct fcgi_bytes pend; /* STDIN records before there is a stream */
    size_t pend_payload;
    struct fcgi_bytes replay; /* every STDIN record, while replayable */
    bool replayable;
    bool ended;    /* the STDIN stream's end is queued */
    size_t queued; /* body bytes the socket has not taken yet */
    int writes;    /* writes on their way (each reads s when done) */
};

/* s (zeroed, its callbacks set) starts with the head of cr's request,
 * env its CGI environment; when the whole body is known (none, or
 * cr->body) its STDIN stream too, ended: fcgi_send_stdin and
 * fcgi_send_stdin_end then do nothing. 0, -ENOMEM, or -E2BIG when a
 * variable does not fit in a record. */
int
fcgi_send_init(struct fcgi_send *s, const struct cgi_request *cr,
               char *const *env);

/* Frees what s holds; its writes must be done (fcgi_send_is_idle). */
void
fcgi_send_close(struct fcgi_send *s);

/* len bytes of the body (copied), or the end of the body: written, or
 * held until there is a stream. 0, or a negative errno (no memory, a
 * failed write). */
int
fcgi_send_stdin(struct fcgi_send *s, const char *buf, size_t len);
int
fcgi_send_stdin_end(struct fcgi_send *s);

/* A connection's stream: the request is written to it, what was held
 * with it, in one write; again: the whole request once more (a retry),
 * from the copy. 0 or a negative errno. */
int
fcgi_send_start(struct fcgi_send *s, uv_stream_t *stream, bool again);

/* The stream is let go: writes to it still on their way are no more
 * reported as errors. */
void
fcgi_send_stop(struct fcgi_send *s);

/* The pool has answered: the request is never sent again. */
void
fcgi_send_drop_replay(struct fcgi_send *s);

/* Whether the request can be sent again (its body fit in the copy). */
bool
fcgi_send_can_replay(const struct fcgi_send *s);

/* Whether the stream has taken every byte written to it. */
bool
fcgi_send_is_flushed(const struct fcgi_send *s);

/* No write is on its way: s may be freed. */
bool
fcgi_send_is_idle(const struct fcgi_send *s);

#endif
