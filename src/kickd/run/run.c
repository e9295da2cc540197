/* SPDX-License-Identifier: MIT */
/* One run of a script with PHP's connection-state model (PRODUCT.md,
 * "Connection state"): the status bits, ignore_user_abort, the wall-clock
 * time limit, and the shutdown commands that run, in the order registered,
 * once the script has ended for any reason. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "kick_limits.h"
#include "log.h"
#include "proc.h"
#include "run.h"
#include "runner.h"
#include "srv.h"

struct run {
    struct srv *srv;
    struct run *prev, *next; /* srv->runs */
    struct runner *work; /* the route's runner at work */
    const struct run_hooks *hooks; /* NULL once the sink has let go */
    void *data;
    struct route_table *routes; /* holds route */
    const struct cfg_route *route;
    char id[24];
    char key[24 + 1 + 32 + 1]; /* "ID.SECRET", KICK_CONTROL's last part */
    char control[160];

    int status; /* RUN_ABORTED | RUN_TIMEOUT */
    bool ignore_user_abort;
    bool php;      /* the work keeps PHP's ways: an abort is a failing
                    * write, a time limit its own (runner time_up) */
    bool hung_up;  /* the client left (ABORTED by a hang-up) */
    bool canceled; /* ABORTED by DELETE /jobs/ID */
    bool output_ended;
    bool exited;
    int64_t exit_status;
    int term_signal;
    uv_timer_t limit_timer;
    int limit_step; /* PHP: 0 counting, 1 SIGPROF sent, 2 sent twice */
    int limit_s;    /* the time limit as last set (s) */
    uv_timer_t cancel_timer; /* kill_grace after a cancel: SIGTERM */

    char ***shutdown; /* argv of each shutdown command, in order */
    size_t nshutdown;
    size_t sd_next;
    bool sd_running;
    bool sd_done;
    struct proc sd_proc;
    uv_timer_t sd_timer;
    int sd_step; /* 0 running, 1 SIGTERM sent */
    int handles; /* open handles of the run's own */
    bool freeing;
};

static void
shutdown_next(struct run *r);

static void
run_close_cb(uv_handle_t *h)
{
    struct run *r = h->data;

    if (--r->handles > 0)
        return;
    for (size_t i = 0; i < r->nshutdown; i++)
        cfg_argv_free(r->shutdown[i]);
    free(r->shutdown);
    route_table_unref(r->routes);
    free(r);
}

/* Frees the run once the script is reaped, the shutdown commands are
 * done and the sink has let go. */
static void
maybe_free(struct run *r)
{
    struct srv *s = r->srv;

    if (r->freeing || r->hooks || !r->exited || !r->sd_done)
        return;
    r->freeing = true;
    if (r->prev)
        r->prev->next = r->next;
    else
        s->runs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->work->ops->detach(r->work, false);
    r->work = NULL;
    uv_close((uv_handle_t *)&r->limit_timer, run_close_cb);
    uv_close((uv_handle_t *)&r->cancel_timer, run_close_cb);
    uv_close((uv_handle_t *)&r->sd_timer, run_close_cb);
}

static void
sink_release(struct run *r)
{
    r->hooks = NULL;
    /* Nobody paces the output any more: it is read and dropped, and a
     * header block that is late or malformed no longer matters. */
    if (r->work) {
        r->work->ops->drain(r->work);
        r->work->ops->resume(r->work);
    }
}

/* Ends the work as a web server would: output closed, then SIGTERM to
 * its group and SIGKILL after the grace period, or its connection
 * closed. */
static void
end_script(struct run *r)
{
    if (!r->exited)
        r->work->ops->terminate(r->work);
}

static void
work_head_cb(struct runner *w, const struct cgi_response *resp, char *body,
             size_t len)
{
    struct run *r = w->data;

    if (r->hooks)
        r->hooks->head_cb(r, resp, body, len);
    else
        free(body);
}

static void
work_body_cb(struct runner *w, char *buf, size_t len)
{
    struct run *r = w->data;

    if (r->hooks)
        r->hooks->body_cb(r, buf, len);
    else
        free(buf); /* after an ignored abort: output is discarded */
}

static void
work_end_cb(struct runner *w, const char *error, int status)
{
    struct run *r = w->data;

    r->output_ended = true;
    if (r->hooks)
        r->hooks->end_cb(r, error, status);
}

static void
work_stdin_drain_cb(struct runner *w)
{
    struct run *r = w->data;

    if (r->hooks && r->hooks->stdin_drain_cb)
        r->hooks->stdin_drain_cb(r);
}

static void
work_done_cb(struct runner *w, const struct runner_outcome *o)
{
    struct run *r = w->data;

    r->exited = true;
    r->exit_status = o->exit_status;
    r->term_signal = o->term_signal;
    uv_timer_stop(&r->limit_timer);
    uv_timer_stop(&r->cancel_timer);
    if (r->hooks && r->hooks->done_cb)
        r->hooks->done_cb(r, o);
    shutdown_next(r);
}

/* PHP's rule, for every language (abort = write): the client's hang-up
 * ends the work at its next write of output, if it does not ignore user
 * aborts by then. PHP needs no help: kickd closed its output, so its own
 * next write fails. */
static void
work_output_cb(struct runner *w)
{
    struct run *r = w->data;

    if (!r->hung_up || r->php || r->ignore_user_abort || r->exited ||
        r->route->abort != ROUTE_ABORT_WRITE)
        return;
    log_info("run %s: wrote output after its client left, ending it", r->id);
    end_script(r);
}

static const struct runner_hooks run_work_hooks = {
    .head_cb = work_head_cb,
    .body_cb = work_body_cb,
    .end_cb = work_end_cb,
    .stdin_drain_cb = work_stdin_drain_cb,
    .done_cb = work_done_cb,
    .output_cb = work_output_cb,
};

/* The time limit passed: TIMEOUT, and the work is ended whatever
 * ignore_user_abort says (PHP's rule); gently first where the runner has
 * PHP's own way (php-cgi's SIGPROF), again after each grace period. */
static void
limit_timer_cb(uv_timer_t *t)
{
    struct run *r = t->data;
    int grace = r->srv->cfg->kill_grace;

    /* A canceled job is being ended already, within its grace period: it
     * ends aborted, not timed out. */
    if (r->exited || (r->canceled && r->limit_step == 0))
        return;
    if (r->limit_step == 0) {
        r->status |= RUN_TIMEOUT;
        log_info("run %s: time limit passed", r->id);
    }
    if (r->php && r->work->ops->time_up &&
        r->work->ops->time_up(r->work, r->limit_step)) {
        if (r->limit_step < 2)
            uv_timer_start(&r->limit_timer, limit_timer_cb, (uint64_t)grace,
                           0);
        r->limit_step++;
        return;
    }
    end_script(r);
    if (r->hooks && r->hooks->done_cb) {
        /* A job's sink stays for the end it records. */
        r->hooks->end_cb(r, "time limit exceeded", 504);
    } else if (r->hooks) {
        const struct run_hooks *h = r->hooks;
        sink_release(r);
        h->end_cb(r, "time limit exceeded", 504);
    }
}

static void
limit_start(struct run *r, int seconds)
{
    uv_timer_stop(&r->limit_timer);
    r->limit_step = 0;
    r->limit_s = seconds;
    if (seconds > 0)
        uv_timer_start(&r->limit_timer, limit_timer_cb,
                       (uint64_t)seconds * 1000, 0);
}

/* Whether the route's work keeps PHP's ways (php_mode = auto: a FastCGI
 * pool, or a program that is php-cgi or a script that is a .php file). */
static bool
route_is_php(const struct cfg_route *rt)
{
    if (rt->php_mode != ROUTE_PHP_AUTO)
        return rt->php_mode == ROUTE_PHP_ON;
    if (rt->runner != ROUTE_EXEC)
        return rt->runner == ROUTE_FASTCGI;
    size_t n = strlen(rt->script_filename);
    return route_runs_php_cgi(rt) ||
           (n > 4 && strcmp(rt->script_filename + n - 4, ".php") == 0);
}

static void
control_format(struct run *r)
{
    struct srv *s = r->srv;
    const char *host = s->listen_host;
    bool v6 = strchr(host, ':') != NULL;

    /* A wildcard listener is reached on loopback. */
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    snprintf(r->control, sizeof(r->control), "http://%s%s%s:%d/_kick/run/%s",
             v6 ? "[" : "", host, v6 ? "]" : "", s->listen_port, r->key);
}

/* n random bytes for a run's secret, from the server's buffer, which one
 * getrandom refills for many runs (a system call a run was a tenth of an
 * attached fastcgi request's). Bytes handed out are wiped from it. 0 or
 * a negative errno. */
static int
random_take(struct srv *s, unsigned char *out, size_t n)
{
    if (s->run_random_left < n) {
        ssize_t got;
        /* Up to a page of urandom is read whole (random(7)); a signal
         * before the first byte is no failure. */
        do
            got = getrandom(s->run_random, sizeof(s->run_random), 0);
        while (got < 0 && errno == EINTR);
        if (got < 0)
            return -errno;
        if ((size_t)got < n)
            return -EAGAIN;
        s->run_random_left = (size_t)got;
    }
    s->run_random_left -= n;
    memcpy(out, s->run_random + s->run_random_left, n);
    explicit_bzero(s->run_random + s->run_random_left, n);
    return 0;
}

static int
secret_make(struct srv *s, char *out, size_t n)
{
    unsigned char raw[16];
    static const char hex[] = "0123456789abcdef";
    int e = random_take(s, raw, sizeof(raw));

    if (e < 0)
        return e;
    for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < n; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * sizeof(raw)] = '\0';
    return 0;
}

struct run *
run_start(struct srv *s, struct cgi_request *cr, const struct run_hooks *h,
          void *data, int *err)
{
    struct run *r = calloc(1, sizeof(*r));
    char secret[33];
    int e;

    if (r == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    e = secret_make(s, secret, sizeof(secret));
    if (e < 0) {
        free(r);
        *err = e;
        return NULL;
    }
    /* A job's secret starts with its store's id; 64 random bits stay. */
    if (cr->secret_tag && strlen(cr->secret_tag) == 16)
        memcpy(secret, cr->secret_tag, 16);
    r->srv = s;
    r->hooks = h;
    r->data = data;
    r->route = cr->route;
    r->routes = route_table_ref(s->routes);
    /* A job's run is named by the job; an attached one gets its own. */
    if (cr->run_id)
        snprintf(r->id, sizeof(r->id), "%s", cr->run_id);
    else
        snprintf(r->id, sizeof(r->id), "a%" PRIu64, ++s->next_run_id);
    snprintf(r->key, sizeof(r->key), "%s.%s", r->id, secret);
    control_format(r);
    r->ignore_user_abort = cr->route->ignore_user_abort;
    r->php = route_is_php(cr->route);
    if (cr->route->on_shutdown &&
        run_add_shutdown(r, cr->route->on_shutdown) < 0) {
        route_table_unref(r->routes);
        free(r);
        *err = -ENOMEM;
        return NULL;
    }
    cr->run_id = r->id;
    cr->control = r->control;
    r->work = runner_start(&s->runners, cr, &run_work_hooks, r, err);
    if (r->work == NULL) {
        for (size_t i = 0; i < r->nshutdown; i++)
            cfg_argv_free(r->shutdown[i]);
        free(r->shutdown);
        route_table_unref(r->routes);
        free(r);
        return NULL;
    }
    uv_timer_init(s->loop, &r->limit_timer);
    uv_timer_init(s->loop, &r->cancel_timer);
    uv_timer_init(s->loop, &r->sd_timer);
    r->limit_timer.data = r->cancel_timer.data = r->sd_timer.data = r;
    r->handles = 3;
    limit_start(r, cgi_request_time_limit(cr));
    r->next = s->runs;
    if (s->runs)
        s->runs->prev = r;
    s->runs = r;
    return r;
}

void *
run_data(const struct run *r)
{
    return r->data;
}

/* What a hang-up does at once to a script still running (PRODUCT.md,
 * "Connection state"); with abort = write the rest waits for the
 * script's next write (work_output_cb). Returns what it did, for the log. */
static const char *
hangup_act(struct run *r)
{
    bool at_once = r->route->abort == ROUTE_ABORT_HANGUP;

    if (r->php && at_once && !r->ignore_user_abort) {
        /* kickd cannot see PHP's own ignore_user_abort(): abort = hangup
         * ends php-cgi at once, without its shutdown functions. */
        end_script(r);
        return "ending php-cgi (abort = hangup)";
    }
    if (r->php) {
        /* PHP's next write fails */
        r->work->ops->close_output(r->work);
        return "PHP notices at its next write";
    }
    /* The body will not grow any more: what was queued, then EOF. */
    r->work->ops->close_body(r->work);
    if (r->ignore_user_abort)
        return "ignored";
    if (at_once) {
        end_script(r);
        return "ending the script";
    }
    return "the script ends at its next write";
}

void
run_abort(struct run *r)
{
    const char *how;

    r->status |= RUN_ABORTED;
    r->hung_up = true;
    r->srv->metrics.aborts_hangup++;
    how = r->exited ? NULL : hangup_act(r);
    log_info("run %s: client gone%s%s", r->id, how ? ", " : "",
             how ? how : "");
    sink_release(r);
    maybe_free(r);
}

static void
cancel_timer_cb(uv_timer_t *t)
{
    struct run *r = t->data;

    if (r->exited)
        return;
    log_warn("run %s: still running %d ms after its cancel, ending it",
             r->id, r->srv->cfg->kill_grace);
    r->work->ops->stop(r->work);
}

void
run_stop(struct run *r)
{
    if (!r->exited)
        r->work->ops->stop(r->work);
}

void
run_cancel(struct run *r)
{
    const char *how;

    if (!(r->status & RUN_ABORTED))
        r->srv->metrics.aborts_cancel++;
    r->status |= RUN_ABORTED;
    if (r->exited || r->canceled)
        return;
    r->canceled = true;
    if (r->php) {
        /* PHP's next write fails: it stops and runs its shutdown
         * functions, as for a client abort. */
        r->work->ops->close_output(r->work);
        how = "PHP notices at its next write";
    } else if (!r->ignore_user_abort) {
        /* Signals only: the job keeps what the script writes until it
         * exits. */
        r->work->ops->stop(r->work);
        how = "ending the script";
    } else {
        how = "ignored until the grace period ends";
    }
    log_info("run %s: canceled, %s", r->id, how);
    /* A cancel is an order, not a hang-up: whatever ignore_user_abort
     * says, the script is ended if it is still running after the grace
     * period (SIGTERM, then SIGKILL after another). */
    uv_timer_start(&r->cancel_timer, cancel_timer_cb,
                   (uint64_t)r->srv->cfg->kill_grace, 0);
}

void
run_progress(struct run *r, int percent, const char *msg)
{
    if (r->hooks && r->hooks->progress_cb)
        r->hooks->progress_cb(r, percent, msg);
}

void
run_release(struct run *r)
{
    sink_release(r);
    maybe_free(r);
}

void
run_write_stdin(struct run *r, const char *buf, size_t len)
{
    r->work->ops->write_body(r->work, buf, len);
}

void
run_close_stdin(struct run *r)
{
    r->work->ops->close_body(r->work);
}

size_t
run_stdin_queued(const struct run *r)
{
    return r->work->ops->body_queued(r->work);
}

void
run_pause(struct run *r)
{
    r->work->ops->pause(r->work);
}

void
run_resume(struct run *r)
{
    r->work->ops->resume(r->work);
}

int
run_pid(const struct run *r)
{
    return r->work->ops->pid(r->work);
}

struct run *
run_find(struct srv *s, const char *key, size_t len)
{
    for (struct run *r = s->runs; r; r = r->next) {
        size_t n = strlen(r->key);
        if (n != len || r->freeing)
            continue;
        /* Compare every byte, so that timing tells nothing. */
        unsigned char diff = 0;
        for (size_t i = 0; i < n; i++)
            diff |= (unsigned char)(r->key[i] ^ key[i]);
        if (diff == 0)
            return r;
    }
    return NULL;
}

int
run_status(const struct run *r)
{
    return r->status;
}

bool
run_set_ignore_user_abort(struct run *r, bool on)
{
    bool prev = r->ignore_user_abort;

    r->ignore_user_abort = on;
    /* Turned off after the client left: with abort = write the script's
     * next write ends it (as in PHP), with abort = hangup it is ended now;
     * after a cancel, now, with its output kept. */
    if (on || !(r->status & RUN_ABORTED) || r->exited || r->php)
        return prev;
    if (r->canceled)
        r->work->ops->stop(r->work);
    else if (r->route->abort == ROUTE_ABORT_HANGUP)
        end_script(r);
    return prev;
}

void
run_set_time_limit(struct run *r, int seconds)
{
    if (r->exited || (r->status & RUN_TIMEOUT))
        return;
    limit_start(r, seconds);
}

int
run_time_limit(const struct run *r)
{
    return r->limit_s;
}

int
run_add_shutdown(struct run *r, char *const *argv)
{
    size_t n = 0;

    if (r->nshutdown >= RUN_MAX_SHUTDOWN)
        return -E2BIG;
    while (argv[n])
        n++;
    if (n == 0)
        return -EINVAL;
    char **copy = calloc(n + 1, sizeof(char *));
    char ***list = realloc(r->shutdown, (r->nshutdown + 1) * sizeof(*list));
    if (copy == NULL || list == NULL) {
        free(copy);
        if (list)
            r->shutdown = list;
        return -ENOMEM;
    }
    r->shutdown = list;
    for (size_t i = 0; i < n; i++) {
        copy[i] = strdup(argv[i]);
        if (copy[i] == NULL) {
            cfg_argv_free(copy);
            return -ENOMEM;
        }
    }
    r->shutdown[r->nshutdown++] = copy;
    return 0;
}

static void
sd_timer_cb(uv_timer_t *t)
{
    struct run *r = t->data;

    if (!r->sd_running)
        return;
    if (r->sd_step == 0) {
        log_warn("run %s: shutdown command %s still running, ending it",
                 r->id, r->shutdown[r->sd_next - 1][0]);
        kill(-r->sd_proc.pid, SIGTERM);
        r->sd_step = 1;
        uv_timer_start(&r->sd_timer, sd_timer_cb,
                       (uint64_t)r->srv->cfg->kill_grace, 0);
    } else {
        kill(-r->sd_proc.pid, SIGKILL);
    }
}

static void
sd_exit_cb(struct proc *p, int64_t exit_status, int term_signal)
{
    struct run *r = p->data;

    if (exit_status || term_signal)
        log_warn("run %s: shutdown command %s ended with %s %d", r->id,
                 r->shutdown[r->sd_next - 1][0],
                 term_signal ? "signal" : "status",
                 term_signal ? term_signal : (int)exit_status);
    r->sd_running = false;
    uv_timer_stop(&r->sd_timer);
    shutdown_next(r);
}

/* Starts the next shutdown command, or marks them all done. They share
 * the script's environment plus KICK_CONNECTION_STATUS and KICK_EXIT_STATUS
 * or KICK_SIGNAL. */
static void
shutdown_next(struct run *r)
{
    while (r->sd_next < r->nshutdown) {
        char *const *cgi_vars = r->work->env;
        size_t n = 0;
        while (cgi_vars[n])
            n++;
        char **env = malloc((n + 3) * sizeof(char *));
        if (env == NULL) {
            r->sd_next = r->nshutdown;
            break;
        }
        char status[40], ending[40];
        snprintf(status, sizeof(status), "KICK_CONNECTION_STATUS=%d",
                 r->status);
        if (r->term_signal)
            snprintf(ending, sizeof(ending), "KICK_SIGNAL=%d", r->term_signal);
        else
            snprintf(ending, sizeof(ending), "KICK_EXIT_STATUS=%d",
                     (int)r->exit_status);
        memcpy(env, cgi_vars, n * sizeof(char *));
        env[n] = status;
        env[n + 1] = ending;
        env[n + 2] = NULL;

        char **argv = r->shutdown[r->sd_next++];
        struct proc_opts opt = {
            .argv = argv,
            .env = env,
            .fd_in = -1,
            .fd_out = -1, /* stdout and stderr to kickd's log */
            .fd_err = -1,
        };
        r->sd_proc.data = r;
        int e = proc_spawn(&r->srv->reaper, &r->sd_proc, &opt, sd_exit_cb);
        free(env);
        if (e < 0) {
            log_error("run %s: cannot start shutdown command %s: %s", r->id,
                      argv[0], strerror(-e));
            continue;
        }
        r->sd_running = true;
        r->sd_step = 0;
        uv_timer_start(&r->sd_timer, sd_timer_cb,
                       (uint64_t)r->srv->cfg->shutdown_timeout, 0);
        return;
    }
    r->sd_done = true;
    maybe_free(r);
}

void
run_end_all(struct srv *s)
{
    for (struct run *r = s->runs; r; r = r->next) {
        /* A job's sink waits for the exit to record how it ended. */
        if (r->hooks && r->hooks->done_cb) {
            end_script(r);
            continue;
        }
        if (r->hooks) {
            const struct run_hooks *h = r->hooks;
            sink_release(r);
            h->end_cb(r, "kickd is stopping", 503);
        }
        end_script(r);
    }
}
