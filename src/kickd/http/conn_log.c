/* SPDX-License-Identifier: MIT */
/* A connection's requests in the access log: each request is followed
 * from its head to the end of its answer (or the connection's), with the
 * status and body bytes kickd really staged, and logged once. */
#include <string.h>

#include "access_log.h"
#include "conn.h"
#include "conn_internal.h"
#include "ctl.h"
#include "kick_limits.h"
#include "srv.h"

void
conn__log_begin(struct conn *c, bool parsed)
{
    c->log_open = true;
    c->log_parsed = parsed;
    c->log_status = 0;
    c->log_bytes = 0;
    c->log_job = -1;
    c->log_start = uv_hrtime();
}

void
conn__log_answer(struct conn *c, int status)
{
    /* An answer to bytes that never made a request (a malformed head, a
     * head not received in time) is logged too, as nginx does. */
    if (!c->log_open)
        conn__log_begin(c, false);
    c->log_status = status;
}

void
conn_log_job(struct conn *c, int64_t id)
{
    c->log_job = id;
}

/* The target as logged: a control request's secret is not (CTL_PREFIX
 * ID.SECRET/VERB is logged as ID.-/VERB). Returns its length in out,
 * which has room for the target and one byte more. */
static size_t
target_redacted(const struct conn *c, char *out)
{
    const char *t = c->req.target, *end = t + c->req.target_len;
    size_t pre = strlen(CTL_PREFIX);
    const char *dot = NULL, *slash;

    if (c->req.target_len > pre && memcmp(t, CTL_PREFIX, pre) == 0)
        dot = memchr(t + pre, '.', (size_t)(end - t - pre));
    if (dot == NULL) {
        memcpy(out, CTL_PREFIX "-", pre + 1);
        return pre + 1;
    }
    slash = memchr(dot, '/', (size_t)(end - dot));
    if (slash == NULL)
        slash = end;
    size_t head = (size_t)(dot + 1 - t), tail = (size_t)(end - slash);
    memcpy(out, t, head);
    out[head] = '-';
    memcpy(out + head + 1, slash, tail);
    return head + 1 + tail;
}

/* The value of header name in the request, or NULL. */
static const char *
header(const struct conn *c, const char *name, size_t *len)
{
    const struct http_header *h = http_find_header(&c->req, name);

    *len = h ? h->value_len : 0;
    return h ? h->value : NULL;
}

void
conn__log_end(struct conn *c)
{
    struct access_log *a = &c->srv->access;
    char target[HTTP_MAX_REQUEST_LINE + 1];

    if (!c->log_open)
        return;
    c->log_open = false;
    if (a->fd < 0)
        return;
    /* No answer staged when the connection closed: the client went away
     * first (nginx's 499). */
    struct access_entry e = {
        .remote_addr = c->remote_addr,
        .status = c->log_status ? c->log_status : 499,
        .bytes = c->log_bytes,
        .ns = uv_hrtime() - c->log_start,
        .job = c->log_job,
    };
    if (c->log_parsed) {
        e.method = c->req.method_str;
        e.method_len = c->req.method_len;
        e.target = c->req.target;
        e.target_len = c->req.target_len;
        if (c->path && strncmp(c->path, CTL_PREFIX, strlen(CTL_PREFIX)) == 0) {
            e.target = target;
            e.target_len = target_redacted(c, target);
        }
        e.minor_version = c->req.minor_version;
        e.referer = header(c, "referer", &e.referer_len);
        e.user_agent = header(c, "user-agent", &e.user_agent_len);
    }
    access_log_add(a, &e);
    conn__flush_soon(c->srv);
}
