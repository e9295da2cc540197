/* SPDX-License-Identifier: MIT */
/* kickd's own endpoints for detached work: triggers of detached routes
 * (committed durably, then 202 Accepted), the job API and /metrics. JSON
 * is produced with jansson. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "api.h"
#include "api_error.h"
#include "api_list.h"
#include "dashboard.h"
#include "follow.h"
#include "conn.h"
#include "http_response.h"
#include "kick_limits.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "srv.h"
#include "store_async.h"
#include "worker.h"

enum api_kind {
    API_TRIGGER,
    API_GET,    /* GET /jobs/ID (and its ?wait=) */
    API_OUTPUT, /* GET /jobs/ID/output */
    API_LIST,
    API_CANCEL, /* DELETE /jobs/ID: the store's cancel, then a GET */
    API_RETRY_GET, /* POST /jobs/ID/retry: the job first (its route), */
    API_RETRY,     /* then the store's retry */
    API_DELETE_GET, /* DELETE /jobs/ID of an ended job: the job first
                     * (its route, for those who watch jobs), */
    API_DELETE, /* then the store's delete */
    API_METRICS,
};

/* What a DELETE /jobs/ID may do: by the job's state (PRODUCT.md: cancel
 * a queued or running job, delete an ended one), or, with ?only=, only
 * the one the client means, so that `kick cancel` never deletes a job
 * that has just ended, nor `kick rm` cancels one that runs. */
enum api_only {
    ONLY_ANY = 0,
    ONLY_CANCEL,
    ONLY_DELETE,
};

/* An answer waiting for the store (and, for ?wait=, for the job). */
struct api_pending {
    struct store_op op;
    enum api_kind kind;
    struct conn *c; /* NULL once the connection is gone */
    struct srv *srv;
    bool in_flight; /* op submitted, its done_cb not yet run */
    bool preferred; /* Prefer: respond-async was honoured */
    int64_t t0;     /* ms, for the accept histogram */
    int64_t id;
    int cancel_status;     /* API_CANCEL: 200, 202 or 409 */
    unsigned char only;    /* DELETE: enum api_only */
    struct route_load *reserved; /* API_TRIGGER: a worker waits for it */
    char *route; /* API_LIST's ?route=, decoded; API_RETRY's job's */
    int state_filter;
    /* ?wait= */
    uv_timer_t timer;
    bool timer_used;
    struct worker_wait *wait;
    bool waiting;
};

/* glibc serves a block of at most 1032 bytes from its per-thread cache;
 * a larger one first sweeps the fast bins (a trigger's cost, measured). */
_Static_assert(sizeof(struct api_pending) <= 1024,
               "a pending API call stays under 1 KiB");

static void submit(struct api_pending *p);

static void
pending_free_cb(uv_handle_t *h)
{
    free(h->data);
}

static void
pending_free(struct api_pending *p)
{
    store_op_clear(&p->op);
    free(p->route);
    p->route = NULL;
    if (p->wait) {
        worker_unwait(p->srv, p->wait);
        p->wait = NULL;
    }
    if (p->c)
        conn_on_close(p->c, NULL, p);
    if (p->timer_used) {
        uv_timer_stop(&p->timer);
        uv_close((uv_handle_t *)&p->timer, pending_free_cb);
    } else {
        free(p);
    }
}

/* The connection of p is gone: nothing is answered. */
static void
abandon_cb(void *data)
{
    struct api_pending *p = data;

    p->c = NULL;
    if (!p->in_flight)
        pending_free(p);
}

static void
reply_json(struct api_pending *p, int status, json_t *j, const char *extra)
{
    if (p->c == NULL) { /* a retry whose client has gone */
        json_decref(j);
        return;
    }
    char *text = json_dumps(j, JSON_COMPACT);
    size_t n = text ? strlen(text) : 0;

    json_decref(j);
    if (text == NULL) {
        conn_reply(p->c, 503, "text/plain; charset=utf-8",
                   "503 Service Unavailable: out of memory\n", 39, NULL);
        return;
    }
    text[n] = '\n';
    conn_reply(p->c, status, "application/json", text, n + 1, extra);
    free(text);
}

static void
reply_error(struct conn *c, int status, const char *detail)
{
    char text[256];
    size_t n = http_error_text(text, sizeof(text), status, detail);

    conn_reply(c, status, "text/plain; charset=utf-8", text, n, NULL);
}

static void
reply_405(struct conn *c, const char *detail, const char *allow)
{
    char text[128];
    int n = snprintf(text, sizeof(text), "405 Method Not Allowed: %s\n",
                     detail);

    conn_reply(c, 405, "text/plain; charset=utf-8", text, (size_t)n, allow);
}

/* Whether kind's answers are the job API's (JSON errors). */
static bool
kind_is_job_api(enum api_kind kind)
{
    return kind != API_TRIGGER && kind != API_METRICS;
}

/* RFC 3339 in UTC with milliseconds, or JSON null for 0. */
static json_t *
time_json(int64_t ms)
{
    char buf[40];
    struct tm tm;
    time_t sec = (time_t)(ms / 1000);

    if (ms <= 0)
        return json_null();
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
    return json_string(buf);
}

static json_t *
job_json(const struct job *j)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer(j->id));
    json_object_set_new(o, "route", json_string(j->route ? j->route : ""));
    json_object_set_new(o, "state", json_string(job_state_name(j->state)));
    json_object_set_new(o, "connection_status",
                        json_integer(j->connection_status));
    json_object_set_new(o, "attempt", json_integer(j->attempt));
    json_object_set_new(o, "max_attempts", json_integer(j->max_attempts));
    json_object_set_new(o, "interruptions", json_integer(j->interruptions));
    json_object_set_new(o, "earlier_attempts",
                        json_integer(j->earlier_attempts));
    json_object_set_new(o, "exit_status", j->exit_status >= 0
                                              ? json_integer(j->exit_status)
                                              : json_null());
    json_object_set_new(o, "signal", j->term_signal > 0
                                         ? json_integer(j->term_signal)
                                         : json_null());
    json_object_set_new(o, "error",
                        j->error ? json_string(j->error) : json_null());
    json_object_set_new(o, "progress", j->progress >= 0
                                           ? json_integer(j->progress)
                                           : json_null());
    json_object_set_new(o, "progress_message",
                        j->progress_msg ? json_string(j->progress_msg)
                                        : json_null());
    json_object_set_new(o, "response",
                        j->response_status > 0
                            ? json_pack("{s:i, s:s?}", "status",
                                        j->response_status, "content_type",
                                        j->response_type)
                            : json_null());
    json_object_set_new(o, "output_size", json_integer(j->output_size));
    json_object_set_new(o, "created_at", time_json(j->created_at));
    json_object_set_new(o, "run_at", time_json(j->run_at));
    json_object_set_new(o, "started_at", time_json(j->started_at));
    json_object_set_new(o, "finished_at", time_json(j->finished_at));
    return o;
}

static bool
state_is_final(enum job_state s)
{
    return s != JOB_QUEUED && s != JOB_RUNNING;
}

static void
wait_timer_cb(uv_timer_t *t)
{
    struct api_pending *p = t->data;

    /* A GET in flight sees the timer stopped and answers. */
    if (p->in_flight)
        return;
    if (p->wait) {
        worker_unwait(p->srv, p->wait);
        p->wait = NULL;
    }
    p->waiting = false;
    submit(p);
}

static void
wait_wake_cb(void *data)
{
    struct api_pending *p = data;

    p->wait = NULL;
    uv_timer_stop(&p->timer);
    p->waiting = false;
    submit(p);
}

/* POST /jobs/ID/retry: the job (API_RETRY_GET), and if it has ended
 * and its route is still configured, the store's retry (API_RETRY),
 * which is answered 202 as a trigger is and wakes the pool for the
 * route. True if an op was submitted (p lives on). */
static bool
retry_step(struct api_pending *p, struct store_op *op)
{
    char why[CFG_PATH_MAX + 64];
    const struct cfg_route *rt = NULL;

    if (op->result == 1) {
        api_error_reply(p->c, 404, "no such job", NULL);
        return false;
    }
    if (p->kind == API_RETRY_GET) {
        if (!state_is_final(op->job.state)) {
            snprintf(why, sizeof(why), "job %" PRId64 " is %s: only an "
                     "ended job can be retried", p->id,
                     job_state_name(op->job.state));
            api_error_reply(p->c, 409, why, NULL);
            return false;
        }
        rt = route_named(p->srv->routes, op->job.route);
        if (rt == NULL) {
            snprintf(why, sizeof(why), "the route of job %" PRId64
                     ", %.1000s, is no longer configured", p->id,
                     op->job.route);
            api_error_reply(p->c, 409, why, NULL);
            return false;
        }
        p->route = op->job.route; /* taken over */
        op->job.route = NULL;
        store_op_clear(op);
        memset(&op->job, 0, sizeof(op->job));
        /* The route's retries as configured now: a retry by hand is a
         * new start, perhaps after the route was fixed. */
        op->max_attempts = 1 + rt->retries;
        p->kind = API_RETRY;
        submit(p);
        return true;
    }
    if (op->result == 2) {
        snprintf(why, sizeof(why), "job %" PRId64 " is no longer ended",
                 p->id);
        api_error_reply(p->c, 409, why, NULL);
        return false;
    }
    char extra[64];
    snprintf(extra, sizeof(extra), "Location: /jobs/%" PRId64 "\r\n", p->id);
    reply_json(p, 202, json_pack("{s:I, s:s}", "id", (json_int_t)p->id,
                                 "state", "queued"), extra);
    return false;
}

/* A page of jobs: {"jobs": [...], "next": ID or null}. next, the last
 * id of a full page, is the next page's after= (asc) or before= (desc),
 * both being id bounds. */
static void
list_reply(struct api_pending *p, struct store_op *op)
{
    json_t *o = json_object(), *a = json_array();

    for (size_t i = 0; i < op->njobs; i++)
        json_array_append_new(a, job_json(&op->jobs[i]));
    json_object_set_new(o, "jobs", a);
    json_object_set_new(o, "next",
                        op->njobs == (size_t)op->filter.limit
                            ? json_integer(op->jobs[op->njobs - 1].id)
                            : json_null());
    reply_json(p, 200, o, NULL);
}

/* The next op of a DELETE /jobs/ID, on the same pending call. */
static void
resubmit(struct api_pending *p, enum api_kind kind)
{
    p->kind = kind;
    store_op_clear(&p->op);
    memset(&p->op.job, 0, sizeof(p->op.job));
    submit(p);
}

/* DELETE /jobs/ID after the store's cancel or delete: a queued job was
 * canceled (200), a running one is being ended (202), an ended one was
 * deleted (204); else a GET answers the job as it is (409) or 404 if it
 * is gone. True if an op was submitted, false if answered. */
static bool
delete_step(struct api_pending *p)
{
    int r = p->op.result;

    if (p->kind == API_CANCEL) {
        if (r == 0) {
            p->cancel_status = 200; /* it was queued: canceled */
        } else if (r == 2) {
            p->cancel_status = 202; /* running on another node: told */
        } else if (worker_cancel(p->srv, p->id)) {
            p->cancel_status = 202; /* running: being ended */
        } else if (p->only == ONLY_ANY) {
            resubmit(p, API_DELETE_GET); /* ended, or no such job */
            return true;
        } else {
            p->cancel_status = 409;
        }
    } else if (r == 0) {
        conn_reply(p->c, 204, "application/json", "", 0, NULL);
        return false;
    } else {
        p->cancel_status = 409; /* not ended (or gone: the GET says 404) */
    }
    resubmit(p, API_GET);
    return true;
}

/* A committed trigger's answer: 202 (200 for an idempotent repeat).
 * The hot path of every trigger: formatted by hand. */
static void
trigger_reply(struct api_pending *p, struct store_op *op)
{
    char extra[160], body[96];
    int64_t id = op->job.id;
    int n = snprintf(body, sizeof(body),
                     op->existed ? "{\"id\":%" PRId64 ",\"duplicate\":true}\n"
                                 : "{\"id\":%" PRId64
                                   ",\"state\":\"queued\"}\n",
                     id);

    snprintf(extra, sizeof(extra), "Location: /jobs/%" PRId64 "\r\n%s", id,
             p->preferred ? "Preference-Applied: respond-async\r\n" : "");
    conn_log_job(p->c, id);
    conn_reply(p->c, op->existed ? 200 : 202, "application/json", body,
               (size_t)n, extra);
}

/* GET /jobs/ID (also the last step of a DELETE): the job, or with
 * ?wait= and time left a wait for its end. True if p waits on. */
static bool
get_step(struct api_pending *p, struct store_op *op)
{
    struct srv *s = p->srv;

    if (op->result == 1) {
        api_error_reply(p->c, 404, "no such job", NULL);
        return false;
    }
    /* ?wait=: not ended yet, and time left: wait for its end. */
    if (p->timer_used && !state_is_final(op->job.state) &&
        uv_is_active((uv_handle_t *)&p->timer)) {
        job_clear(&op->job);
        p->waiting = true;
        if (p->wait == NULL)
            p->wait = worker_wait(s, p->id, wait_wake_cb, p);
        return true;
    }
    /* A running job being canceled is ABORTED already, though its end
     * is not recorded yet. */
    if (p->cancel_status == 202)
        op->job.connection_status |= 1;
    /* A running job's status as it is now, not as last stored. */
    if (op->job.state == JOB_RUNNING)
        op->job.connection_status |= worker_connection_status(s, p->id);
    reply_json(p, p->cancel_status ? p->cancel_status : 200,
               job_json(&op->job), NULL);
    return false;
}

/* GET /metrics: Prometheus text, with the job counts just read. */
static void
metrics_reply(struct api_pending *p, struct store_op *op)
{
    size_t len;
    char *text = metrics_format(&p->srv->metrics, op->counts, op->ncounts,
                                &len);

    if (text == NULL) {
        reply_error(p->c, 503, "out of memory");
        return;
    }
    conn_reply(p->c, 200, "text/plain; version=0.0.4", text, len, NULL);
    free(text);
}

/* Whether what p's request asked goes on though its client has gone: a
 * retry or a delete once its job is read, as a trigger is stored; and a
 * queued job's cancel, so that those who watch jobs learn of it. */
static bool
carried_out(const struct api_pending *p, const struct store_op *op)
{
    return op->result == 0 &&
           (p->kind == API_RETRY_GET || p->kind == API_DELETE_GET ||
            p->kind == API_CANCEL);
}

/* What an op's end does whether or not its client still listens: a
 * committed trigger is a job (the fire-and-forget caller has gone
 * already), and if a worker was reserved, the insert claimed the route's
 * oldest due job; a job retried is due now; those who watch jobs learn
 * of new, retried and deleted ones. */
static void
done_effects(struct api_pending *p, struct store_op *op)
{
    struct srv *s = p->srv;
    bool claimed = p->reserved && op->result >= 0 && op->claim_result == 1;

    if (p->kind == API_TRIGGER && op->result >= 0 && !op->existed) {
        metrics_accept_observe(&s->metrics, clock_now_ms() - p->t0);
        /* Before the claim's: a new job is queued, then running. */
        srv_job_event(s, &(struct job_event){.kind = JOB_EVENT_CREATED,
                                             .id = op->job.id,
                                             .route = op->job.route,
                                             .state = JOB_QUEUED});
        if (!claimed)
            worker_kick(s, op->job.route, op->job.run_at);
    }
    if (p->reserved) {
        worker_claimed(s, p->reserved, op->result < 0 ? -1 : op->claim_result,
                       &op->claimed, op->error, op->sent);
        p->reserved = NULL;
    }
    /* A retry asked in full is carried out as a trigger is, also for a
     * client that has gone (retry_step then answers nobody). */
    if (p->kind == API_RETRY && op->result == 0) {
        srv_job_event(s, &(struct job_event){.kind = JOB_EVENT_STATE,
                                             .id = p->id,
                                             .route = p->route,
                                             .state = JOB_QUEUED});
        worker_kick(s, p->route, op->now);
    }
    if (p->kind == API_DELETE && op->result == 0)
        srv_job_event(s, &(struct job_event){.kind = JOB_EVENT_DELETED,
                                             .id = p->id,
                                             .route = p->route});
    /* A queued job canceled, read after: its route is known now. */
    if (p->kind == API_GET && p->cancel_status == 200 && op->result == 0)
        srv_job_event(s, &(struct job_event){.kind = JOB_EVENT_STATE,
                                             .id = p->id,
                                             .route = op->job.route,
                                             .state = op->job.state,
                                             .attempt = op->job.attempt});
}

static void
done_cb(struct store_op *op)
{
    struct api_pending *p = (struct api_pending *)op;
    struct srv *s = p->srv;

    p->in_flight = false;
    done_effects(p, op);
    if (p->c == NULL && !carried_out(p, op)) {
        pending_free(p);
        return;
    }
    if (op->result < 0) {
        if (p->kind == API_TRIGGER)
            s->metrics.rejected++;
        log_error("store: %s", op->error);
        char detail[200];
        snprintf(detail, sizeof(detail), "job store unavailable: %.150s",
                 op->error);
        /* The store comes back (a database reconnects with backoff):
         * a client may try again soon. */
        if (kind_is_job_api(p->kind)) {
            api_error_reply(p->c, 503, detail, "Retry-After: 1\r\n");
        } else {
            char text[256];
            size_t n = http_error_text(text, sizeof(text), 503, detail);
            conn_reply(p->c, 503, "text/plain; charset=utf-8", text, n,
                       "Retry-After: 1\r\n");
        }
        pending_free(p);
        return;
    }
    switch (p->kind) {
    case API_TRIGGER:
        trigger_reply(p, op);
        break;
    case API_GET:
        if (get_step(p, op))
            return;
        break;
    case API_DELETE_GET:
        if (op->result == 1) {
            api_error_reply(p->c, 404, "no such job", NULL);
            break;
        }
        p->route = op->job.route; /* taken over */
        op->job.route = NULL;
        resubmit(p, API_DELETE);
        return;
    case API_CANCEL:
    case API_DELETE:
        if (delete_step(p))
            return;
        break;
    case API_OUTPUT:
        if (op->result == 1) {
            api_error_reply(p->c, 404, "no such job", NULL);
            break;
        }
        conn_reply(p->c, 200, "application/octet-stream",
                   op->data_buf ? op->data_buf : "", op->data_len, NULL);
        break;
    case API_RETRY_GET:
    case API_RETRY:
        if (retry_step(p, op))
            return;
        break;
    case API_LIST:
        list_reply(p, op);
        break;
    case API_METRICS:
        metrics_reply(p, op);
        break;
    }
    pending_free(p);
}

static void
submit(struct api_pending *p)
{
    switch (p->kind) {
    case API_GET:
        p->op.kind = SOP_GET;
        break;
    case API_OUTPUT:
        p->op.kind = SOP_OUTPUT_GET;
        break;
    case API_LIST:
        p->op.kind = SOP_LIST;
        break;
    case API_CANCEL:
        p->op.kind = SOP_CANCEL;
        break;
    case API_RETRY_GET:
        p->op.kind = SOP_GET;
        break;
    case API_RETRY:
        p->op.kind = SOP_RETRY;
        break;
    case API_DELETE_GET:
        p->op.kind = SOP_GET;
        break;
    case API_DELETE:
        p->op.kind = SOP_DELETE;
        break;
    case API_METRICS:
        p->op.kind = SOP_COUNTS;
        break;
    case API_TRIGGER:
        p->op.kind = SOP_INSERT;
        break;
    }
    p->op.id = p->id;
    p->op.now = clock_now_ms();
    p->op.done_cb = done_cb;
    p->in_flight = true;
    store_submit(&p->srv->store, &p->op);
}

static struct api_pending *
pending_new(struct conn *c, enum api_kind kind)
{
    struct api_pending *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        if (kind_is_job_api(kind))
            api_error_reply(c, 503, "out of memory", NULL);
        else
            reply_error(c, 503, "out of memory");
        return NULL;
    }
    p->kind = kind;
    p->c = c;
    p->srv = conn_srv(c);
    p->state_filter = -1;
    conn_on_close(c, abandon_cb, p);
    return p;
}

/* Kick-Delay: seconds, whole or with a fraction; -1 if malformed. */
static int64_t
delay_parse(const char *v, size_t n)
{
    int64_t ms = 0, frac = 0, scale = 100;
    size_t i = 0;

    if (n == 0 || n > 16)
        return -1;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++)
        ms = ms * 10 + (v[i] - '0');
    if (i == 0)
        return -1;
    if (i < n && v[i] == '.') {
        for (i++; i < n && v[i] >= '0' && v[i] <= '9'; i++, scale /= 10)
            frac += (v[i] - '0') * scale;
    }
    if (i != n)
        return -1;
    return ms * 1000 + frac;
}

static char *
dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void
api_trigger(struct conn *c, const struct cfg_route *route,
            const struct http_request *req, const char *head,
            size_t head_len, const char *body, size_t body_len,
            bool preferred)
{
    const struct http_header *h;
    int64_t delay = 0;
    struct api_pending *p;

    h = http_find_header(req, "kick-delay");
    if (h && (delay = delay_parse(h->value, h->value_len)) < 0) {
        reply_error(c, 400, "Kick-Delay is not a number of seconds");
        return;
    }
    const struct http_header *key = http_find_header(req, "idempotency-key");
    if (key) {
        bool ok = key->value_len > 0 && key->value_len <= JOB_MAX_IDEM_KEY;
        for (size_t i = 0; ok && i < key->value_len; i++)
            ok = key->value[i] > 0x20 && key->value[i] < 0x7f;
        if (!ok) {
            reply_error(c, 400, "Idempotency-Key must be 1 to 255 visible "
                                "characters");
            return;
        }
    }
    p = pending_new(c, API_TRIGGER);
    if (p == NULL)
        return;
    p->t0 = clock_now_ms();
    p->preferred = preferred;
    struct job *j = &p->op.job;
    j->route = strdup(route->path);
    j->state = JOB_QUEUED;
    j->max_attempts = 1 + route->retries;
    j->exit_status = -1;
    j->progress = -1;
    j->created_at = p->t0;
    j->run_at = p->t0 + delay;
    j->idem_key = key ? dup_n(key->value, key->value_len) : NULL;
    j->head = dup_n(head, head_len);
    j->head_len = head_len;
    j->body = dup_n(body ? body : "", body_len);
    j->body_len = body_len;
    j->remote_addr = strdup(conn_remote_addr(c));
    j->remote_port = conn_remote_port(c);
    if (j->route == NULL || j->head == NULL || j->body == NULL ||
        j->remote_addr == NULL || (key && j->idem_key == NULL)) {
        reply_error(c, 503, "out of memory");
        pending_free(p);
        return;
    }
    p->reserved = worker_reserve(p->srv, j->route, j->run_at);
    p->op.claim = p->reserved != NULL;
    p->op.limit = worker_claim_limit(p->srv, j->route);
    submit(p);
}

/* A query parameter's raw value, or NULL. */
static const char *
query_get(const struct http_request *req, const char *name, size_t *len)
{
    const char *q = req->query, *end = req->query + req->query_len;
    size_t n = strlen(name);

    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *e = amp ? amp : end;
        if ((size_t)(e - q) > n && memcmp(q, name, n) == 0 && q[n] == '=') {
            *len = (size_t)(e - q - n - 1);
            return q + n + 1;
        }
        q = amp ? amp + 1 : end;
    }
    return NULL;
}

static void
jobs_list(struct conn *c, const struct http_request *req)
{
    struct api_pending *p;
    struct job_filter f;
    char route[CFG_PATH_MAX], why[128];

    if (api_list_parse(req->query, req->query_len, &f, route, sizeof(route),
                       why, sizeof(why)) < 0) {
        api_error_reply(c, 400, why, NULL);
        return;
    }
    p = pending_new(c, API_LIST);
    if (p == NULL)
        return;
    if (f.route != NULL && (p->route = strdup(route)) == NULL) {
        api_error_reply(c, 503, "out of memory", NULL);
        pending_free(p);
        return;
    }
    f.route = p->route;
    p->op.filter = f;
    submit(p);
}

/* 400 for /jobs/ID with an ID that is none (its first 40 bytes quoted). */
static void
bad_id(struct conn *c, const char *id, size_t len)
{
    char why[96];

    snprintf(why, sizeof(why), "bad job id '%.*s': not a whole number above 0",
             (int)(len > 40 ? 40 : len), id);
    api_error_reply(c, 400, why, NULL);
}

/* POST /jobs/ID/retry: the job is read first (retry_step goes on). */
static void
job_retry(struct conn *c, const struct http_request *req, int64_t id)
{
    struct api_pending *p;

    if (req->method != HTTP_POST) {
        api_error_reply(c, 405, "method not allowed: POST only",
                        "Allow: POST\r\n");
        return;
    }
    if (!dashboard_change_allowed(c, req))
        return;
    p = pending_new(c, API_RETRY_GET);
    if (p) {
        p->id = id;
        submit(p);
    }
}

/* DELETE's ?only=cancel or ?only=delete (enum api_only); -1 if bad. */
static int
delete_only(const struct http_request *req)
{
    size_t n;
    const char *v = query_get(req, "only", &n);

    if (v == NULL)
        return ONLY_ANY;
    if (n == 6 && memcmp(v, "cancel", 6) == 0)
        return ONLY_CANCEL;
    if (n == 6 && memcmp(v, "delete", 6) == 0)
        return ONLY_DELETE;
    return -1;
}

/* GET /jobs/ID (?wait=) and GET /jobs/ID/output (?follow=). */
static void
job_read(struct conn *c, const struct http_request *req, int64_t id,
         bool output)
{
    struct api_pending *p;
    const char *v;
    size_t n;
    int64_t wait_ms = 0;

    if (!output && (v = query_get(req, "wait", &n))) {
        wait_ms = delay_parse(v, n);
        if (wait_ms < 0 || wait_ms > API_MAX_WAIT * 1000) {
            api_error_reply(c, 400, "wait must be 0 to 300 seconds", NULL);
            return;
        }
    }
    if (output && (v = query_get(req, "follow", &n)) &&
        !(n == 1 && v[0] == '0')) {
        if (!(n == 1 && v[0] == '1')) {
            api_error_reply(c, 400, "follow must be 0 or 1", NULL);
            return;
        }
        follow_start(c, id, req->method == HTTP_HEAD);
        return;
    }
    p = pending_new(c, output ? API_OUTPUT : API_GET);
    if (p == NULL)
        return;
    p->id = id;
    if (wait_ms > 0) {
        uv_timer_init(p->srv->loop, &p->timer);
        p->timer.data = p;
        p->timer_used = true;
        uv_timer_start(&p->timer, wait_timer_cb, (uint64_t)wait_ms, 0);
    }
    submit(p);
}

bool
api_handle(struct conn *c, const struct http_request *req, const char *path)
{
    struct api_pending *p;
    bool is_get = req->method == HTTP_GET || req->method == HTTP_HEAD;

    if (strcmp(path, "/metrics") == 0) {
        if (!is_get) {
            reply_405(c, "GET only", "Allow: GET, HEAD\r\n");
            return true;
        }
        p = pending_new(c, API_METRICS);
        if (p)
            submit(p);
        return true;
    }
    if (strcmp(path, "/jobs") == 0 || strcmp(path, "/jobs/") == 0) {
        if (!is_get) {
            api_error_reply(c, 405, "method not allowed: GET only",
                            "Allow: GET, HEAD\r\n");
            return true;
        }
        jobs_list(c, req);
        return true;
    }
    if (strncmp(path, "/jobs/", 6) != 0)
        return false;
    const char *rest = path + 6;
    size_t idlen = strcspn(rest, "/");
    int64_t id = api_num_parse(rest, idlen);
    bool output = strcmp(rest + idlen, "/output") == 0;
    if (id <= 0) {
        bad_id(c, rest, idlen);
        return true;
    }
    conn_log_job(c, id); /* the access log names the job asked about */
    if (strcmp(rest + idlen, "/retry") == 0) {
        job_retry(c, req, id);
        return true;
    }
    if (rest[idlen] != '\0' && !output) {
        api_error_reply(c, 404, "no such path: a job has /output and "
                        "/retry", NULL);
        return true;
    }
    if (req->method == HTTP_DELETE && !output) {
        int only = delete_only(req);
        if (only < 0) {
            api_error_reply(c, 400, "only must be cancel or delete", NULL);
            return true;
        }
        if (!dashboard_change_allowed(c, req))
            return true;
        p = pending_new(c, only == ONLY_DELETE ? API_DELETE_GET : API_CANCEL);
        if (p) {
            p->id = id;
            p->only = (unsigned char)only;
            submit(p);
        }
        return true;
    }
    if (!is_get) {
        api_error_reply(c, 405, output ? "method not allowed: GET only"
                                       : "method not allowed: GET or "
                                         "DELETE",
                        output ? "Allow: GET, HEAD\r\n"
                               : "Allow: GET, HEAD, DELETE\r\n");
        return true;
    }
    job_read(c, req, id, output);
    return true;
}
