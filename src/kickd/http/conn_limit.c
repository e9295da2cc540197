/* SPDX-License-Identifier: MIT */
/* What keeps one connection within bounds in time and memory: its timer
 * (header, body, idle, send, linger), the pause of a client that does not
 * read its answers, and the idle list that max_connections draws on. */
#include <inttypes.h>
#include <stdint.h>

#include "conn.h"
#include "conn_internal.h"
#include "kick_limits.h"
#include "log.h"
#include "run.h"
#include "srv.h"

static void
timer_cb(uv_timer_t *t);

/* The time a timer of this kind gives (ms). */
static uint64_t
timer_ms(const struct conn *c, enum conn_timer kind)
{
    const struct cfg *cfg = c->srv->cfg;

    switch (kind) {
    case T_HEADER:
        return (uint64_t)cfg->header_timeout;
    case T_IDLE:
    case T_SEND: /* nginx's send_timeout, given idle_timeout's length */
        return (uint64_t)cfg->idle_timeout;
    case T_BODY:
        return (uint64_t)cfg->body_timeout;
    case T_LINGER:
        return CONN_LINGER_TIME;
    case T_NONE:
        break;
    }
    return 0;
}

void
conn__timer_set(struct conn *c, enum conn_timer kind)
{
    /* Idle means nothing is owed to the client either. */
    if (kind == T_IDLE && (c->write_queued > 0 || c->stage))
        kind = T_SEND;
    if (c->timer_kind == kind)
        return;
    c->timer_kind = kind;
    if (kind == T_NONE) {
        uv_timer_stop(&c->timer);
        return;
    }
    uv_timer_start(&c->timer, timer_cb, timer_ms(c, kind), 0);
}

void
conn__timer_restart(struct conn *c)
{
    if (c->timer_kind != T_NONE)
        uv_timer_start(&c->timer, timer_cb, timer_ms(c, c->timer_kind), 0);
}

static void
timer_cb(uv_timer_t *t)
{
    struct conn *c = t->data;
    enum conn_timer kind = c->timer_kind;

    c->timer_kind = T_NONE;
    switch (kind) {
    case T_HEADER:
        if (c->len == 0) {
            conn_close(c);
            break;
        }
        c->keep_alive = false;
        conn__respond(c, 408, "request head not received in time", NULL, false);
        break;
    case T_BODY:
        c->keep_alive = false;
        if (c->head_sent) {
            conn_close(c);
            break;
        }
        if (c->run) {
            run_abort(c->run);
            c->run = NULL;
        }
        conn__respond(c, 408, "request body not received in time", NULL, false);
        break;
    case T_SEND:
        log_info("conn %" PRIu64 ": %zu bytes of answers not read for %d s, "
                 "closed", c->id, c->write_queued,
                 c->srv->cfg->idle_timeout / 1000);
        conn_close(c);
        break;
    case T_IDLE:
    case T_LINGER:
        conn_close(c);
        break;
    case T_NONE:
        break;
    }
}

/* Keeps c in srv's idle list exactly while it waits for a request (a new
 * connection, or a keep-alive one between requests) with nothing of one
 * received and nothing queued to write: such a connection can be closed
 * to make room for a new one (RFC 9112 section 9.5: a server may close an
 * inactive connection; a client retries on a new one, section 9.3.1). The
 * list is kept in the order the connections became idle. */
void
conn__idle_update(struct conn *c)
{
    struct srv *s = c->srv;
    bool idle = !c->closing && c->state == C_HEAD && c->len == 0 &&
                c->write_queued == 0 && c->stage == NULL;

    if (idle == c->idle)
        return;
    c->idle = idle;
    if (idle) {
        c->idle_next = NULL;
        c->idle_prev = s->idle_last;
        if (s->idle_last)
            s->idle_last->idle_next = c;
        else
            s->idle_first = c;
        s->idle_last = c;
        return;
    }
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        s->idle_first = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    else
        s->idle_last = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
}

bool
conn_close_idle(struct srv *s)
{
    struct conn *c = s->idle_first;

    if (c == NULL)
        return false;
    conn_close(c);
    return true;
}

void
conn__out_progress(struct conn *c)
{
    if (c->closing)
        return;
    if (c->out_full && c->write_queued < CONN_MAX_WRITE_QUEUE / 2) {
        /* The buffered requests are taken up again. Nothing writes to a
         * connection paused here (no request is in progress), so this is
         * never reached from inside conn__process() by a write. */
        c->out_full = false;
        if (!c->in_process)
            conn__process(c);
        if (c->closing)
            return;
    }
    if (c->timer_kind == T_SEND) {
        if (c->state == C_HEAD && c->len == 0 && c->write_queued == 0)
            conn__timer_set(c, T_IDLE);
        else
            conn__timer_restart(c);
    }
    conn__idle_update(c);
}
