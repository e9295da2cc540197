/* SPDX-License-Identifier: MIT */
/* What conn.c (the request state machine) and conn_out.c (the answers)
 * share and no other module sees: struct conn and its staged writes. */
#ifndef KICKD_CONN_INTERNAL_H
#define KICKD_CONN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "http_parse.h"
#include "kick_limits.h"
#include "run.h"

/* The read buffer holds one request head (at most HTTP_MAX_HEADER_BYTES)
 * plus room to read body bytes and pipelined requests behind it. */
#define CONN_BUF_SIZE (HTTP_MAX_HEADER_BYTES + 16384)

/* How long a closing connection keeps reading and dropping what the client
 * still sends, so that its unread bytes do not turn our close into a reset
 * that destroys the answer before it is read (nginx's lingering close). */
#define CONN_LINGER_TIME 2000 /* ms */

enum conn_state {
    C_HEAD,     /* reading a request head */
    C_BODY,     /* reading the body towards the script */
    C_RESPONSE, /* the body is read; the script answers */
    C_LINGER,   /* answered; the write side is shut; draining input */
};

enum conn_timer {
    T_NONE,
    T_HEADER, /* the head must be complete in time */
    T_IDLE,   /* keep-alive: nothing has arrived since the last answer */
    T_BODY,   /* the next body bytes must arrive in time */
    T_SEND,   /* the client must take some of its queued answers in time */
    T_LINGER,
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    struct srv *srv;
    struct conn *prev, *next;
    struct conn *idle_prev, *idle_next; /* in srv's list of idle conns */
    bool idle; /* waiting for a request, nothing queued: may be closed */
    struct conn *flush_next; /* in srv's list of conns with staged bytes */
    bool flush_queued;
    struct conn_write *stage; /* bytes waiting for the flush check */
    uint64_t id;
    enum conn_state state;
    enum conn_timer timer_kind;
    int handles; /* open libuv handles; the conn is freed at 0 */
    bool closing;
    bool reading;
    bool draining;     /* kickd stops: close after this response */
    bool keep_alive;   /* after this response, read the next request */
    bool stdin_full;   /* reading paused: the script's stdin is full */
    bool out_full;     /* reading paused: the client's answers are queued
                        * up to CONN_MAX_WRITE_QUEUE */

    /* The current request; its head is at the start of buf. */
    struct http_request req;
    size_t head_len;
    struct route_table *routes;
    const struct cfg_route *route;
    char *path; /* decoded path */
    int64_t body_left; /* Content-Length bytes still to read */
    bool chunked;
    bool gather; /* the body is kept in c->body, not streamed */
    /* A request for one of kickd's own endpoints that reads its body
     * (kick ctl, the dashboard's login): served once it is gathered. */
    void (*gathered)(struct conn *c);
    enum auth_by auth_by; /* how the request is authenticated */
    bool detach; /* the request becomes a detached job */
    bool preferred; /* ... because of Prefer: respond-async */
    bool in_process; /* inside conn__process(): it goes on by itself */
    /* conn_on_close: the answer that a close must abandon (one waiting
     * for the store, a followed output). */
    void (*gone_cb)(void *data);
    void *gone_data;
    int64_t body_max;
    struct http_chunked ch;
    char *body; /* a chunked body, gathered to learn its length */
    size_t body_len, body_cap;

    /* The response. */
    struct run *run;
    bool head_sent;
    bool resp_chunked;
    bool resp_no_body;
    bool resp_done;
    int64_t resp_left; /* bytes the script's Content-Length still allows */
    /* An answer held back (CONN_HOLD_*): its head without the framing
     * fields and the body so far, both owned. */
    bool holding;
    uv_timer_t hold_timer;
    char *held_head;
    size_t held_head_len, held_head_cap;
    char *held_body;
    size_t held_len;
    size_t write_queued;

    /* The current request as the access log sees it (conn_log.c). */
    bool log_open;      /* begun, not yet logged */
    bool log_parsed;    /* its head parsed: req describes it */
    int log_status;     /* the status of the answer staged; 0: none yet */
    uint64_t log_bytes; /* body bytes staged */
    uint64_t log_start; /* ns (uv_hrtime) when its head was complete */
    int64_t log_job;    /* the job its trigger made or found, or -1 */

    char remote_addr[64];
    int remote_port;
    size_t len; /* bytes in buf */
    char buf[CONN_BUF_SIZE];
};

/* Writes made during one turn of the loop are gathered and handed to the
 * socket together when the turn's I/O is done (srv's flush check): a small
 * answer (head, body, last chunk) leaves as one segment. 7 pieces keep a
 * conn_write under 1 KiB: glibc serves that from its per-thread cache,
 * where a larger block first sweeps the fast bins (malloc_consolidate). */
#define CONN_STAGE_PARTS 7 /* pieces (head, chunks) in one write */

struct conn_write {
    uv_write_t req;
    struct conn *c;
    size_t bytes;
    unsigned nbufs, nowned, nlines;
    uv_buf_t bufs[4 * CONN_STAGE_PARTS];
    char *owned[2 * CONN_STAGE_PARTS]; /* freed when written */
    char lines[CONN_STAGE_PARTS][24];  /* chunk-size lines */
};

/* conn.c: the state machine. */


/* Starts reading from the socket (the caller sets c->reading). */
void
conn__read_start(struct conn *c);
/* Forgets the finished request and makes its pipelined successor, if any,
 * the start of the buffer. */
void
conn__request_done(struct conn *c);
/* Advances the state machine over the bytes in the buffer. */
void
conn__process(struct conn *c);

/* Staged writes and log lines go out at the end of this loop turn. */
void
conn__flush_soon(struct srv *s);

/* conn_limit.c: timers, the pause on unread answers, the idle list. */

/* Arms the connection's one timer for kind (T_NONE stops it); T_IDLE
 * becomes T_SEND while answers are still queued. Setting the kind that is
 * already armed changes nothing. */
void
conn__timer_set(struct conn *c, enum conn_timer kind);
/* Starts the armed timer's full time again (progress was made). */
void
conn__timer_restart(struct conn *c);
/* The client took queued bytes: the idle state, the send timer and a
 * reading paused on output are brought up to date. */
void
conn__out_progress(struct conn *c);
/* Puts c in srv's idle list, or takes it out, after a change of its
 * state, buffer or queue. */
void
conn__idle_update(struct conn *c);

/* conn_out.c: the answers. */

/* A staged or written part is done with (written, or dropped): its bytes
 * leave write_queued and its buffers are freed. */
void
conn__write_free(struct conn *c, struct conn_write *w);

/* Stages head (hlen bytes, may be NULL; freed once written) and then len
 * bytes at data; owned (may be NULL) is freed once written. With chunk
 * set, data goes out as one chunk (RFC 9112 section 7.1). */
void
conn__write_head(struct conn *c, char *head, size_t hlen, char *owned,
                 const char *data, size_t len, bool chunk);
/* conn__write_head without a head. */
void
conn__write(struct conn *c, char *owned, const char *data, size_t len,
            bool chunk);
/* Stages a copy of len bytes at data; closes the connection on ENOMEM. */
void
conn__write_copy(struct conn *c, const char *data, size_t len);
/* Ends the connection after what is queued: shut the write side, then
 * read and drop input until the client closes or CONN_LINGER_TIME. */
void
conn__linger(struct conn *c);
/* Answers with a text body; with keep set (and keep-alive), goes on to
 * the next request, otherwise closes once the answer is out. */
void
conn__respond_text(struct conn *c, int status, const char *text, size_t len,
                   const char *extra, bool keep);
/* Answers with kickd's own "STATUS Reason: detail" response. */
void
conn__respond(struct conn *c, int status, const char *detail,
              const char *extra, bool keep);
/* An answer that does not run a script: keep-alive only if no body is
 * announced. */
void
conn__respond_early(struct conn *c, int status, const char *detail,
                    const char *extra);

/* conn_log.c: the access log's view of each request. */

/* A request starts (its head parsed, or with parsed unset, bytes that
 * are answered without making one). */
void
conn__log_begin(struct conn *c, bool parsed);
/* The answer's head is staged with status; its body bytes are added to
 * c->log_bytes as they are staged. */
void
conn__log_answer(struct conn *c, int status);
/* The request is over (answered, or the connection closed): its line
 * goes to the access log. A no-op if it was logged already. */
void
conn__log_end(struct conn *c);

/* How a script's run reports its CGI response to the connection. */
extern const struct run_hooks conn__run_hooks;

#endif
