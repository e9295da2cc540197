/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* pipe2 */
/* The exec runner (runner.h): starts a CGI program in its own process
 * group with pipes on stdin and stdout (stderr goes to kickd's log, or for
 * a job to the job's output), feeds it the body, reads its CGI header
 * block and streams the body to the sink, with backpressure both ways. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi.h"
#include "cgi_head.h"
#include "cfg.h"
#include "kick_limits.h"
#include "log.h"
#include "proc.h"
#include "route.h"
#include "runner.h"

struct cgi {
    struct runner base; /* first: a struct runner * is a struct cgi * */
    struct proc proc;
    uv_pipe_t in;  /* the script's stdin */
    uv_pipe_t out; /* the script's stdout */
    uv_pipe_t err; /* a job's stderr */
    uv_timer_t kill_timer;
    int open_handles;

    const struct runner_hooks *hooks;
    bool attached;
    bool job;
    bool exited;
    bool in_open, out_open, err_open;
    bool in_close_pending; /* close stdin when the queue empties */
    bool ended;            /* end_cb given, or due */
    bool out_done;         /* stdout ended; end_cb waits for a job's
                            * stderr to end as well */
    const char *out_error; /* how stdout ended (NULL: complete) */
    bool paused;
    bool draining; /* output read and dropped, unparsed */
    bool terminating;
    bool end_group; /* kill the rest of the group when the script exits */
    int kill_grace; /* ms */
    int pid;
    int64_t exit_status;
    int term_signal;

    struct cgi_head head; /* the header block as it arrives */
    size_t stdin_queued;
};

struct cgi_write {
    uv_write_t req;
    struct cgi *g;
    size_t len;
    char data[];
};

static void
handle_close_cb(uv_handle_t *h)
{
    struct cgi *g = h->data;

    if (--g->open_handles == 0) {
        free(g->base.env);
        cgi_head_close(&g->head);
        free(g);
    }
}

static void
close_handle(struct cgi *g, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, handle_close_cb);
}

/* Frees the run once nobody needs it: the sink has let go, the process
 * is reaped and the pipes are done. */
static void
maybe_free(struct cgi *g)
{
    if (g->attached || !g->exited)
        return;
    g->in_open = g->out_open = false;
    close_handle(g, (uv_handle_t *)&g->in);
    close_handle(g, (uv_handle_t *)&g->out);
    if (g->job) {
        g->err_open = false;
        close_handle(g, (uv_handle_t *)&g->err);
    }
    close_handle(g, (uv_handle_t *)&g->kill_timer);
}

static void
err_close(struct cgi *g)
{
    if (g->err_open) {
        g->err_open = false;
        uv_read_stop((uv_stream_t *)&g->err);
        close_handle(g, (uv_handle_t *)&g->err);
    }
}

/* The output is over: stdout ended, and a job's stderr too. */
static void
end_report(struct cgi *g)
{
    if (g->ended)
        return;
    g->ended = true;
    if (g->attached)
        g->hooks->end_cb(&g->base, g->out_error, 502);
}

/* stdout ended, complete (error NULL) or not. A job's stderr is read to
 * its end first, unless the output failed. */
static void
end(struct cgi *g, const char *error)
{
    if (g->out_done)
        return;
    g->out_done = true;
    g->out_error = error;
    if (g->out_open) {
        g->out_open = false;
        uv_read_stop((uv_stream_t *)&g->out);
        close_handle(g, (uv_handle_t *)&g->out);
    }
    if (error)
        err_close(g);
    if (!g->err_open)
        end_report(g);
}

static void
kill_timer_cb(uv_timer_t *t)
{
    struct cgi *g = t->data;

    if (!g->exited) {
        log_warn("script %d: still running after its grace period, "
                 "sending SIGKILL",
                 g->pid);
        kill(-g->pid, SIGKILL);
    }
}

/* The outcome of a process that exited (exit_status) or was killed
 * (term_signal): it succeeded when it exited 0. reason points into buf. */
static void
outcome_of_exit(struct runner_outcome *o, int64_t exit_status,
                int term_signal, char *buf, size_t n)
{
    *o = (struct runner_outcome){
        .ok = exit_status == 0 && term_signal == 0,
        .exit_status = term_signal ? -1 : exit_status,
        .term_signal = term_signal,
    };
    if (term_signal)
        snprintf(buf, n, "killed by signal %d", term_signal);
    else
        snprintf(buf, n, "exit status %d", (int)exit_status);
    o->reason = o->ok ? NULL : buf;
}

static void
exit_cb(struct proc *p, int64_t exit_status, int term_signal)
{
    struct cgi *g = p->data;

    g->exited = true;
    g->exit_status = exit_status;
    g->term_signal = term_signal;
    uv_timer_stop(&g->kill_timer);
    /* A script that was ended leaves nothing behind: what is left of its
     * process group (children that ignored SIGTERM, or a command a timed
     * out php-cgi was waiting for) is killed with it. */
    if (g->terminating || g->end_group)
        kill(-g->pid, SIGKILL);
    if (term_signal && !g->terminating)
        log_warn("script %d: killed by signal %d", g->pid, term_signal);
    /* A script that has exited writes no more: stdin is of no use. */
    if (g->in_open) {
        g->in_open = false;
        close_handle(g, (uv_handle_t *)&g->in);
    }
    if (g->attached) {
        struct runner_outcome o;
        char why[64];
        outcome_of_exit(&o, exit_status, term_signal, why, sizeof(why));
        g->hooks->done_cb(&g->base, &o);
    }
    maybe_free(g);
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct cgi *g = h->data;

    (void)suggested;
    /* Dropped output needs no buffer of its own: the head's will do. */
    if (g->draining) {
        buf->base = g->head.buf;
        buf->len = CGI_MAX_HEADER_BYTES;
        return;
    }
    if (!g->head.done) {
        buf->base = g->head.buf + g->head.len;
        buf->len = cgi_head_room(&g->head);
        return;
    }
    buf->base = malloc(CGI_READ_SIZE);
    buf->len = buf->base ? CGI_READ_SIZE : 0;
}

/* A head is ready: handed on with the body bytes read with it. */
static void
head_hand(struct cgi *g, struct cgi_head_result *h)
{
    if (g->attached)
        g->hooks->head_cb(&g->base, &h->resp, h->body, h->len);
    else
        free(h->body);
}

/* Parses the header block gathered so far; returns 0 while it is still
 * incomplete or once it was handed on, -1 if the script must be ended. */
static int
head_parse(struct cgi *g)
{
    struct cgi_head_result h;
    int r = cgi_head_parse(&g->head, &h);

    if (r == CGI_HEAD_BAD) {
        log_error("script %d: CGI header block: %s", g->pid, h.error);
        end(g, h.error);
        return -1;
    }
    if (r == CGI_HEAD_READY)
        head_hand(g, &h);
    return 0;
}

static void
exec_terminate(struct runner *r);

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct cgi *g = s->data;
    bool in_head = buf->base >= g->head.buf &&
                   buf->base < g->head.buf + CGI_MAX_HEADER_BYTES;

    if (nread > 0 && g->attached && g->hooks->output_cb)
        g->hooks->output_cb(&g->base);
    /* Ended by the sink just now, or nobody wants the bytes. */
    if (nread > 0 && (!g->out_open || g->draining)) {
        if (!in_head)
            free(buf->base);
        return;
    }
    if (nread > 0 && in_head) {
        g->head.len += (size_t)nread;
        if (head_parse(g) < 0)
            exec_terminate(&g->base);
        return;
    }
    if (nread > 0) {
        if (g->attached && !g->ended)
            g->hooks->body_cb(&g->base, buf->base, (size_t)nread);
        else
            free(buf->base);
        return;
    }
    if (!in_head)
        free(buf->base);
    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        struct cgi_head_result h;
        int r = cgi_head_end(&g->head, &h);
        if (r == CGI_HEAD_BAD)
            log_error("script %d: %s", g->pid, h.error);
        else if (r == CGI_HEAD_READY)
            head_hand(g, &h);
        end(g, r == CGI_HEAD_BAD ? h.error : NULL);
    } else {
        log_error("script %d: reading stdout: %s", g->pid,
                  uv_strerror((int)nread));
        end(g, "reading the script's output failed");
    }
}

static void
err_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(CGI_READ_SIZE);
    buf->len = buf->base ? CGI_READ_SIZE : 0;
}

/* A job's stderr: body bytes as they come, beside stdout's. */
static void
err_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct cgi *g = s->data;

    if (nread > 0 && g->attached && !g->ended && !g->draining) {
        g->hooks->body_cb(&g->base, buf->base, (size_t)nread);
        return;
    }
    free(buf->base);
    if (nread >= 0)
        return;
    if (nread != UV_EOF)
        log_error("script %d: reading stderr: %s", g->pid,
                  uv_strerror((int)nread));
    err_close(g);
    if (g->out_done)
        end_report(g);
}

static void
stdin_close_now(struct cgi *g)
{
    if (g->in_open) {
        g->in_open = false;
        close_handle(g, (uv_handle_t *)&g->in);
    }
}

static void
write_cb(uv_write_t *req, int status)
{
    struct cgi_write *w = (struct cgi_write *)req;
    struct cgi *g = w->g;
    bool was_full = g->stdin_queued >= CGI_MAX_STDIN_QUEUE;

    g->stdin_queued -= w->len;
    free(w);
    /* EPIPE: the script does not read its body; the rest is dropped. */
    if (status < 0 && status != UV_ECANCELED && status != UV_EPIPE)
        log_warn("script %d: writing stdin: %s", g->pid, uv_strerror(status));
    if (g->stdin_queued == 0 && g->in_close_pending)
        stdin_close_now(g);
    if (was_full && g->stdin_queued < CGI_MAX_STDIN_QUEUE && g->attached &&
        g->hooks->stdin_drain_cb)
        g->hooks->stdin_drain_cb(&g->base);
}

static void
exec_write_body(struct runner *r, const char *buf, size_t len)
{
    struct cgi *g = (struct cgi *)r;

    if (!g->in_open || g->in_close_pending || len == 0)
        return;
    struct cgi_write *w = malloc(sizeof(*w) + len);
    if (w == NULL) {
        stdin_close_now(g);
        return;
    }
    w->g = g;
    w->len = len;
    memcpy(w->data, buf, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&g->in, &b, 1, write_cb) < 0) {
        free(w);
        stdin_close_now(g);
        return;
    }
    g->stdin_queued += len;
}

static void
exec_close_body(struct runner *r)
{
    struct cgi *g = (struct cgi *)r;

    if (g->stdin_queued == 0)
        stdin_close_now(g);
    else
        g->in_close_pending = true;
}

static size_t
exec_body_queued(const struct runner *r)
{
    return ((const struct cgi *)r)->stdin_queued;
}

static void
exec_pause(struct runner *r)
{
    struct cgi *g = (struct cgi *)r;

    if (!g->paused && g->out_open)
        uv_read_stop((uv_stream_t *)&g->out);
    g->paused = true;
}

static void
exec_resume(struct runner *r)
{
    struct cgi *g = (struct cgi *)r;

    if (g->paused && g->out_open)
        uv_read_start((uv_stream_t *)&g->out, alloc_cb, read_cb);
    g->paused = false;
}

/* Signals alone: SIGTERM to the script's process group now, SIGKILL
 * after the grace period; its output is still read. */
static void
exec_stop(struct runner *r)
{
    struct cgi *g = (struct cgi *)r;

    if (g->exited || g->terminating)
        return;
    g->terminating = true;
    /* The whole group: a shell script's children go too. */
    kill(-g->pid, SIGTERM);
    uv_timer_start(&g->kill_timer, kill_timer_cb, g->kill_grace, 0);
}

/* kickd's ends of the script's pipes are closed: its next write fails
 * (EPIPE, or SIGPIPE unless it ignores it). */
static void
pipes_close(struct cgi *g)
{
    stdin_close_now(g);
    if (g->out_open) {
        g->out_open = false;
        uv_read_stop((uv_stream_t *)&g->out);
        close_handle(g, (uv_handle_t *)&g->out);
    }
    err_close(g);
}

/* As a web server ends a script: its pipes closed, then signals. */
static void
exec_terminate(struct runner *r)
{
    pipes_close((struct cgi *)r);
    exec_stop(r);
}

static void
exec_drain(struct runner *r)
{
    struct cgi *g = (struct cgi *)r;

    g->draining = true;
    /* No header block is awaited: the end of the output is a clean end,
     * not "script wrote no response". */
    g->head.done = true;
}

/* As a web server's when its client leaves: the pipes closed, and no
 * end reported. */
static void
exec_close_output(struct runner *r)
{
    struct cgi *g = (struct cgi *)r;

    pipes_close(g);
    g->ended = true;
}

/* php-cgi takes SIGPROF as its own max_execution_time: it stops the
 * script, runs its shutdown functions (connection_status() 2) and exits.
 * A second SIGPROF ends a shutdown function that runs too long; SIGKILL
 * is the backstop. What is left of the group goes when it exits. */
static bool
exec_time_up(struct runner *r, int step)
{
    struct cgi *g = (struct cgi *)r;

    if (g->exited)
        return true;
    if (step < 2) {
        g->end_group = true;
        kill(g->pid, SIGPROF);
    } else {
        log_warn("script %d: php-cgi still running after two SIGPROF, "
                 "sending SIGKILL",
                 g->pid);
        kill(-g->pid, SIGKILL);
    }
    return true;
}

static void
exec_detach(struct runner *r, bool terminate)
{
    struct cgi *g = (struct cgi *)r;

    g->attached = false;
    if (terminate && !g->exited)
        exec_terminate(r);
    if (!g->exited && !g->terminating) {
        /* The sink is done with the output; the script may still run
         * (it closed stdout early) and is reaped when it exits. */
        stdin_close_now(g);
    }
    maybe_free(g);
}

static int
exec_pid(const struct runner *r)
{
    return ((const struct cgi *)r)->pid;
}

/* Closes both ends of a pipe that was made (-1 if not). */
static void
pipe_close(int p[2])
{
    if (p[0] >= 0) {
        close(p[0]);
        close(p[1]);
    }
}

/* The directory of an absolute script path, for the script's working
 * directory (as Apache's mod_cgi does), or NULL. */
static char *
script_dir(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (path[0] != '/' || slash == NULL)
        return NULL;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* The script runs: kickd's ends of its pipes (in -1 without a body; err
 * -1 but for a job) become libuv handles, and its output is read. */
static void
handles_open(struct cgi *g, uv_loop_t *loop, int in, int out, int err)
{
    uv_pipe_init(loop, &g->in, 0);
    uv_pipe_init(loop, &g->out, 0);
    if (in >= 0)
        uv_pipe_open(&g->in, in);
    uv_pipe_open(&g->out, out);
    uv_timer_init(loop, &g->kill_timer);
    g->in.data = g->out.data = g->kill_timer.data = g;
    g->open_handles = 3;
    g->pid = g->proc.pid;
    g->attached = true;
    g->in_open = in >= 0;
    g->out_open = true;
    uv_read_start((uv_stream_t *)&g->out, alloc_cb, read_cb);
    if (err >= 0) {
        uv_pipe_init(loop, &g->err, 0);
        uv_pipe_open(&g->err, err);
        g->err.data = g;
        g->open_handles++;
        g->err_open = true;
        uv_read_start((uv_stream_t *)&g->err, err_alloc_cb, err_read_cb);
    }
}

/* php-cgi keeps its own ignore_user_abort: the route's setting is given
 * to it as an ini value (-d ignore_user_abort=1 after the program).
 * Returns the argv to run, NULL for the route's own, or *failed. */
static char **
php_cgi_argv(const struct cfg_route *rt, bool *failed)
{
    if (!rt->ignore_user_abort || rt->php_mode == ROUTE_PHP_OFF ||
        !route_runs_php_cgi(rt))
        return NULL;
    char **argv = calloc(rt->argc + 3, sizeof(char *));
    if (argv == NULL) {
        *failed = true;
        return NULL;
    }
    argv[0] = rt->argv[0];
    argv[1] = "-d";
    argv[2] = "ignore_user_abort=1";
    for (size_t i = 1; i < rt->argc; i++)
        argv[i + 2] = rt->argv[i];
    return argv;
}

/* Spawns the script with its pipes: in (without a body, -1: stdin is
 * /dev/null, a pipe less per request), out, and err for a job. Returns
 * 0 with kickd's ends in in[1], out[0], err[0], or a negative errno. */
static int
spawn(struct cgi *g, struct proc_reaper *reaper, const struct cgi_request *cr,
      int in[2], int out[2], int err[2])
{
    bool failed = false;
    char **argv = php_cgi_argv(cr->route, &failed);
    int r;

    if (failed)
        return -ENOMEM;
    /* The child's ends are made its stdin and stdout by the spawn; every
     * other copy is close-on-exec. */
    if ((cr->content_length > 0 && pipe2(in, O_CLOEXEC) < 0) ||
        pipe2(out, O_CLOEXEC) < 0 || (cr->job && pipe2(err, O_CLOEXEC) < 0)) {
        r = -errno;
        pipe_close(in);
        pipe_close(out);
        free(argv);
        return r;
    }
    char *cwd = script_dir(cr->route->script_filename);
    struct proc_opts opt = {
        .argv = argv ? argv : cr->route->argv,
        .env = g->base.env,
        .cwd = cwd,
        .fd_in = in[0],
        .fd_out = out[1],
        .fd_err = err[1],
    };
    g->proc.data = g;
    r = proc_spawn(reaper, &g->proc, &opt, exit_cb);
    free(cwd);
    free(argv);
    /* The child has its ends; kickd's go too if it did not start. */
    if (in[0] >= 0)
        close(in[0]);
    close(out[1]);
    if (err[1] >= 0)
        close(err[1]);
    if (r < 0) {
        if (in[1] >= 0)
            close(in[1]);
        close(out[0]);
        if (err[0] >= 0)
            close(err[0]);
    }
    return r;
}

static struct runner *
exec_start(const struct runner_ctx *ctx, const struct cgi_request *cr,
           const struct runner_hooks *hooks, void *data, int *err)
{
    struct cgi *g = calloc(1, sizeof(*g));
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    int r = -ENOMEM;

    if (g == NULL)
        goto fail;
    g->base.env = cgi_env_build(cr);
    if (cgi_head_init(&g->head, cr->job) < 0 || g->base.env == NULL)
        goto fail;
    g->base.ops = &runner_exec;
    g->base.hooks = g->hooks = hooks;
    g->base.data = data;
    g->kill_grace = cr->kill_grace;
    g->job = cr->job;
    r = spawn(g, ctx->reaper, cr, in, out, errp);
    if (r < 0)
        goto fail;
    handles_open(g, ctx->loop, in[1], out[0], errp[0]);
    return &g->base;

fail:
    if (g) {
        cgi_head_close(&g->head);
        free(g->base.env);
    }
    free(g);
    *err = r;
    return NULL;
}

const struct runner_ops runner_exec = {
    .name = "exec",
    .start = exec_start,
    .write_body = exec_write_body,
    .close_body = exec_close_body,
    .body_queued = exec_body_queued,
    .pause = exec_pause,
    .resume = exec_resume,
    .close_output = exec_close_output,
    .terminate = exec_terminate,
    .stop = exec_stop,
    .drain = exec_drain,
    .time_up = exec_time_up,
    .detach = exec_detach,
    .pid = exec_pid,
};
