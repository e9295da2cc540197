/* SPDX-License-Identifier: MIT */
/* The server: the event loop, the listener, and the signals that reload
 * the routes (SIGHUP) and stop kickd (SIGTERM, SIGINT). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "api.h"
#include "clock.h"
#include "conn.h"
#include "dashboard.h"
#include "events.h"
#include "fastcgi.h"
#include "forward.h"
#include "kick_limits.h"
#include "log.h"
#include "prune.h"
#include "run.h"
#include "srv.h"
#include "stats.h"
#include "worker.h"

/* Logs what max_connections made kickd do since the last such line, if
 * anything; true if it logged. */
static bool
limit_log(struct srv *s)
{
    if (s->limit_refused == 0 && s->limit_closed == 0)
        return false;
    log_warn("max_connections (%d) reached: new connections refused: %" PRIu64
             ", idle connections closed to make room: %" PRIu64,
             s->cfg->max_connections, s->limit_refused, s->limit_closed);
    s->limit_refused = s->limit_closed = 0;
    return true;
}

static void
limit_timer_cb(uv_timer_t *t)
{
    struct srv *s = t->data;

    /* A quiet second ends the rate limit: the next event logs at once. */
    if (limit_log(s))
        uv_timer_start(&s->limit_timer, limit_timer_cb, SRV_LIMIT_LOG_INTERVAL,
                       0);
}

/* Counts one event at max_connections: the first is logged at once, the
 * rest at most once a second, with their counts (a flood of connections
 * must not become a flood of log lines). */
static void
limit_note(struct srv *s)
{
    if (uv_is_active((uv_handle_t *)&s->limit_timer))
        return;
    limit_log(s);
    uv_timer_start(&s->limit_timer, limit_timer_cb, SRV_LIMIT_LOG_INTERVAL, 0);
}

static void
refused_close_cb(uv_handle_t *h)
{
    free(h);
}

/* Accepts the pending connection and closes it at once: the server is at
 * max_connections and no connection is idle. */
static void
refuse(struct srv *s, uv_stream_t *listener)
{
    uv_tcp_t *t = malloc(sizeof(*t));

    if (t == NULL) {
        log_error("accept: out of memory");
        return;
    }
    uv_tcp_init(s->loop, t);
    if (uv_accept(listener, (uv_stream_t *)t) == 0) {
        s->limit_refused++;
        limit_note(s);
    }
    uv_close((uv_handle_t *)t, refused_close_cb);
}

static void
listen_cb(uv_stream_t *listener, int status)
{
    struct srv *s = listener->data;

    if (status < 0) {
        log_warn("accept: %s", uv_strerror(status));
        return;
    }
    /* At max_connections the client that waited longest for nothing
     * makes room for the new one, as nginx reuses its connections; with
     * every connection busy, the new one is refused. */
    if (s->conn_count >= (size_t)s->cfg->max_connections) {
        if (!conn_close_idle(s)) {
            refuse(s, listener);
            return;
        }
        s->limit_closed++;
        limit_note(s);
    }
    conn_accept(s, listener);
}

static void
skipped_cb(void *arg, const char *name, const char *why)
{
    log_warn("scripts %s: %s is no route: %s", (const char *)arg, name, why);
}

/* kickd's own paths are answered first: a route at one of them, or below
 * /jobs/ or the control endpoint, is never reached. */
static void
hidden_routes_log(const struct cfg *cfg)
{
    for (size_t i = 0; i < cfg->route_count; i++) {
        const char *own = conn_own_path(cfg->routes[i].path);
        if (own)
            log_warn("route %s is hidden by kickd's own %s",
                     cfg->routes[i].path, own);
    }
}

struct route_table *
srv_load_routes(const char *cfg_path, const struct scripts_opts *so, char *err,
                size_t errlen)
{
    struct cfg *cfg = cfg_new();
    struct route_table *t;

    if (cfg == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (cfg_path && cfg_load_file(cfg, cfg_path, err, errlen) < 0)
        goto fail;
    if (so->dir) {
        free(cfg->scripts);
        cfg->scripts = strdup(so->dir);
        if (cfg->scripts == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    size_t first = cfg->route_count;
    if (cfg->scripts && cfg_load_scripts(cfg, cfg->scripts, skipped_cb,
                                         cfg->scripts, err, errlen) < 0)
        goto fail;
    hidden_routes_log(cfg);
    /* --mode, --time-limit and --fastcgi: how the routes of a scripts
     * directory run. */
    for (size_t i = first; i < cfg->route_count; i++) {
        if (so->mode >= 0)
            cfg->routes[i].mode = (enum route_mode)so->mode;
        if (so->time_limit >= 0)
            cfg->routes[i].time_limit = so->time_limit;
        if (so->fastcgi &&
            cfg_script_to_fastcgi(&cfg->routes[i], so->fastcgi) < 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    t = route_table_new(cfg);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return t;
fail:
    cfg_free(cfg);
    return NULL;
}

/* The [server] settings and whether a running kickd can take a new
 * value: the address it listens on and its store it cannot. */
struct server_key {
    const char *name;
    size_t offset;
    enum { SK_INT, SK_INT64, SK_STR } kind;
    bool live;
};

static const struct server_key server_keys[] = {
    {"listen", offsetof(struct cfg, listen), SK_STR, false},
    {"db", offsetof(struct cfg, db), SK_STR, false},
    {"workers", offsetof(struct cfg, workers), SK_INT, true},
    {"token", offsetof(struct cfg, token), SK_STR, true},
    {"header_timeout", offsetof(struct cfg, header_timeout), SK_INT, true},
    {"body_timeout", offsetof(struct cfg, body_timeout), SK_INT, true},
    {"idle_timeout", offsetof(struct cfg, idle_timeout), SK_INT, true},
    {"max_body", offsetof(struct cfg, max_body), SK_INT64, true},
    {"max_connections", offsetof(struct cfg, max_connections), SK_INT, true},
    {"kill_grace", offsetof(struct cfg, kill_grace), SK_INT, true},
    {"stop_grace", offsetof(struct cfg, stop_grace), SK_INT, true},
    {"shutdown_timeout", offsetof(struct cfg, shutdown_timeout), SK_INT, true},
    {"output_cap", offsetof(struct cfg, output_cap), SK_INT64, true},
    {"response_hold_ms", offsetof(struct cfg, response_hold), SK_INT, true},
    {"max_interruptions", offsetof(struct cfg, max_interruptions), SK_INT,
     true},
    {"access_log", offsetof(struct cfg, access_log), SK_STR, true},
    {"keep", offsetof(struct cfg, keep), SK_INT64, true},
    {"dashboard", offsetof(struct cfg, dashboard), SK_INT, true},
};

/* Whether key k differs between a and b; with apply, b's value goes into
 * a. */
static bool
server_key_differs(const struct server_key *k, struct cfg *a,
                   const struct cfg *b, bool apply)
{
    char *pa = (char *)a + k->offset;
    const char *pb = (const char *)b + k->offset;

    if (k->kind == SK_STR) {
        const char *va = *(char **)pa, *vb = *(char *const *)pb;
        if ((va == NULL) == (vb == NULL) && (va == NULL || !strcmp(va, vb)))
            return false;
        char *copy = vb ? strdup(vb) : NULL;
        if (apply && (vb == NULL || copy != NULL)) {
            free(*(char **)pa);
            *(char **)pa = copy;
        } else {
            free(copy);
        }
        return true;
    }
    size_t size = k->kind == SK_INT ? sizeof(int) : sizeof(int64_t);
    if (memcmp(pa, pb, size) == 0)
        return false;
    if (apply)
        memcpy(pa, pb, size);
    return true;
}

/* SIGHUP: the [server] settings that can change while kickd runs are
 * applied, the others named (kickd keeps them until restarted). The
 * command line's --listen and --db stand over the file's. */
static void
server_settings_reload(struct srv *s, struct cfg *now)
{
    for (size_t i = 0; i < sizeof(server_keys) / sizeof(server_keys[0]); i++) {
        const struct server_key *k = &server_keys[i];
        bool given =
            (s->listen_opt && strcmp(k->name, "listen") == 0) ||
            (s->db_opt && strcmp(k->name, "db") == 0) ||
            (s->dashboard_opt >= 0 && strcmp(k->name, "dashboard") == 0);
        if (given || !server_key_differs(k, s->cfg, now, k->live))
            continue;
        if (k->live)
            log_info("reload: [server] %s changed: applied", k->name);
        else
            log_warn("reload: [server] %s changed: it takes a restart "
                     "(kickd keeps the old value until then)",
                     k->name);
    }
}

/* SIGHUP: the access log's file is opened again (logrotate has moved
 * it), or the one a changed setting names. */
static void
access_log_follow(struct srv *s)
{
    int r = access_log_reopen(&s->access, s->cfg->access_log);

    if (r < 0)
        log_error("access_log %s: %s (the log goes on as it was)",
                  s->cfg->access_log, strerror(-r));
}

/* Decides the dashboard's mode (the setting, --dashboard over it, or by
 * default whether kickd listens on loopback) and says it at start and
 * when a reload changes it: a page that can cancel jobs is served to a
 * network only when asked for. */
static void
dashboard_decide(struct srv *s, bool at_start)
{
    int setting = s->dashboard_opt >= 0 ? s->dashboard_opt : s->cfg->dashboard;
    bool v6 = strchr(s->listen_host, ':') != NULL;
    enum cfg_dashboard was = s->dashboard;

    s->dashboard = cfg_dashboard_mode(setting, s->listen_host);
    if (!at_start && s->dashboard == was)
        return;
    /* Streams opened while it was on end when it goes off. */
    if (s->dashboard == DASHBOARD_OFF && !at_start)
        events_end_streams(s->events);
    if (s->dashboard == DASHBOARD_OFF)
        log_info("dashboard: off (%s)",
                 setting == DASHBOARD_OFF
                     ? "dashboard = off"
                     : "listening beyond loopback; set dashboard = on to "
                       "serve it");
    else
        log_info("dashboard: %s at http://%s%s%s:%d/%s",
                 cfg_dashboard_name(s->dashboard), v6 ? "[" : "",
                 s->listen_host, v6 ? "]" : "", s->listen_port,
                 setting == DASHBOARD_AUTO ? " (loopback)" : "");
}

/* Tells those who watch jobs of a change (srv_job_event). */
static void
job_changed(struct srv *s, const struct job_event *e)
{
    if (s->stats)
        stats_job_event(s->stats, e);
    events_job_event(s->events, e);
}

static void
reload(struct srv *s)
{
    char err[512];
    struct route_table *t =
        srv_load_routes(s->cfg_path, &s->scripts, err, sizeof(err));

    if (t == NULL) {
        log_error("reload failed, the routes stay as they were: %s", err);
        access_log_follow(s);
        return;
    }
    /* Requests in flight hold a reference to the table they started
     * with; new requests see the new one. */
    route_table_unref(s->routes);
    s->routes = t;
    server_settings_reload(s, t->cfg);
    dashboard_decide(s, false);
    access_log_follow(s);
    log_info("reloaded: %zu routes", t->cfg->route_count);
}

static void
stop_timer_cb(uv_timer_t *t)
{
    struct srv *s = t->data;

    if (s->conn_count > 0)
        log_warn("stop: ending %zu connections still busy", s->conn_count);
    conn_close_all(s);
    /* Scripts that ignored their client's abort are ended too; their
     * shutdown commands still run, each bounded in time. Jobs ended so
     * are interruptions, queued again. */
    worker_interrupt_all(s);
    run_end_all(s);
}

static void
stop(struct srv *s)
{
    if (s->stopping) {
        log_info("second stop signal: ending everything now");
        conn_close_all(s);
        worker_interrupt_all(s);
        run_end_all(s);
        return;
    }
    s->stopping = true;
    uv_timer_stop(&s->limit_timer);
    limit_log(s);
    log_info("stopping: %zu connections open", s->conn_count);
    worker_stop(s);
    prune_stop(s);
    stats_stop(s->stats);
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->sig_hup, NULL);
    /* The loop ends when the last connection and script are gone; these
     * handles do not hold it open. */
    uv_unref((uv_handle_t *)&s->sig_term);
    uv_unref((uv_handle_t *)&s->sig_int);
    uv_timer_start(&s->stop_timer, stop_timer_cb, (uint64_t)s->cfg->stop_grace,
                   0);
    uv_unref((uv_handle_t *)&s->stop_timer);
    conn_drain_all(s);
    /* After the drain: an event stream that ends now closes once its
     * last bytes are out, as any answer of a draining connection. */
    events_stop(s->events);
}

static void
signal_cb(uv_signal_t *h, int signum)
{
    struct srv *s = h->data;

    if (signum == SIGHUP)
        reload(s);
    else
        stop(s);
}

/* kick ctl runs `kick`: the one installed or built beside kickd is found
 * on the scripts' PATH whatever PATH kickd was started with, last, so
 * that a `kick` of the PATH's own goes first. */
static void
path_add_own_dir(char *path, size_t size)
{
    char exe[PATH_MAX], kick[PATH_MAX + 8];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL || slash == exe)
        return;
    *slash = '\0';
    snprintf(kick, sizeof(kick), "%s/kick", exe);
    if (access(kick, X_OK) != 0)
        return;
    /* Already on the PATH: nothing to add. */
    size_t dlen = strlen(exe);
    for (const char *p = path;;) {
        const char *end = strchr(p, ':');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen == dlen && strncmp(p, exe, dlen) == 0)
            return;
        if (end == NULL)
            break;
        p = end + 1;
    }
    size_t len = strlen(path);
    if (len + 1 + dlen + 1 <= size)
        snprintf(path + len, size - len, "%s%s", len ? ":" : "", exe);
}

/* Binds and listens on the configured address. 0 or a negative errno
 * (logged). */
static int
listen_start(struct srv *s)
{
    struct sockaddr_storage addr;
    unsigned flags = 0;
    int r;

    if (cfg_parse_listen(s->cfg->listen, s->listen_host, sizeof(s->listen_host),
                         &s->listen_port) < 0) {
        log_error("listen: bad address '%s'", s->cfg->listen);
        return UV_EINVAL;
    }
    if (strchr(s->listen_host, ':')) {
        r = uv_ip6_addr(s->listen_host, s->listen_port,
                        (struct sockaddr_in6 *)&addr);
        flags = UV_TCP_IPV6ONLY;
    } else {
        r = uv_ip4_addr(s->listen_host, s->listen_port,
                        (struct sockaddr_in *)&addr);
    }
    if (r < 0) {
        log_error("listen: bad address '%s'", s->cfg->listen);
        return r;
    }
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    r = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, flags);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->listener, 1024, listen_cb);
    if (r < 0) {
        log_error("listen on %s: %s", s->cfg->listen, uv_strerror(r));
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_run(s->loop, UV_RUN_NOWAIT);
    }
    return r;
}

/* The server's own handles: signals, timers, the flush check. */
static void
handles_init(struct srv *s)
{
    uv_loop_t *loop = s->loop;

    uv_signal_init(loop, &s->sig_hup);
    uv_signal_init(loop, &s->sig_term);
    uv_signal_init(loop, &s->sig_int);
    uv_timer_init(loop, &s->stop_timer);
    uv_timer_init(loop, &s->limit_timer);
    s->limit_timer.data = s;
    uv_check_init(loop, &s->flush_check);
    s->flush_check.data = s;
    s->sig_hup.data = s->sig_term.data = s->sig_int.data = s;
    s->stop_timer.data = s;
    uv_signal_start(&s->sig_hup, signal_cb, SIGHUP);
    uv_signal_start(&s->sig_term, signal_cb, SIGTERM);
    uv_signal_start(&s->sig_int, signal_cb, SIGINT);
}

/* What the runners share: the reaper of exec's processes, fastcgi's
 * kept connections, forward's libcurl. 0 or a negative errno (logged). */
static int
runners_init(struct srv *s)
{
    int r = proc_reaper_init(s->loop, &s->reaper);

    if (r < 0) {
        log_error("signalfd: %s", uv_strerror(r));
        return r;
    }
    s->runners = (struct runner_ctx){
        .loop = s->loop,
        .reaper = &s->reaper,
        .fcgi = fastcgi_pools_new(s->loop),
        .forward = forward_new(s->loop),
    };
    if (s->runners.fcgi == NULL || s->runners.forward == NULL) {
        log_error("runners: out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* This kickd's name as a job's owner: host, pid and a random part, so
 * that a pid reused after a restart never names the same node. */
static void
node_name(char *buf, size_t size)
{
    char host[32] = "";
    unsigned r = 0;

    gethostname(host, sizeof(host) - 1);
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (unsigned)clock_now_ms();
    snprintf(buf, size, "%s/%d/%08x", host, (int)getpid(), r);
}

int
srv_init(struct srv *s, uv_loop_t *loop, struct cfg *cfg,
         struct route_table *routes)
{
    char err[512];
    int r;

    s->loop = loop;
    s->cfg = cfg;
    s->routes = routes;
    s->handlers = (struct conn_handlers){.trigger = api_trigger,
                                         .api = api_handle,
                                         .dashboard = dashboard_serve,
                                         .stats = stats_serve,
                                         .events = events_serve};
    s->job_event_cb = job_changed;
    const char *path = getenv("PATH");
    snprintf(s->path_env, sizeof(s->path_env), "%s",
             path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    path_add_own_dir(s->path_env, sizeof(s->path_env));
    r = access_log_open(&s->access, cfg->access_log);
    if (r < 0) {
        log_error("access_log %s: %s", cfg->access_log, strerror(-r));
        return r;
    }
    if ((r = listen_start(s)) < 0)
        return r;
    /* A write to a closed socket or pipe is an error value, not death. */
    signal(SIGPIPE, SIG_IGN);
    if ((r = runners_init(s)) < 0)
        goto fail;
    handles_init(s);
    const struct store_ops *ops = store_backend(cfg->db, err, sizeof(err));
    char db[1024], node[64];
    store_uri_format(cfg->db, db, sizeof(db));
    /* A run is ended before its lease can run out: after a renewal
     * missed, within kill_grace. */
    if (ops && ops->renew &&
        cfg->lease < 2 * cfg->lease_renew + cfg->kill_grace) {
        log_error("lease (%d ms) must be at least twice lease_renew (%d "
                  "ms) plus kill_grace (%d ms)",
                  cfg->lease, cfg->lease_renew, cfg->kill_grace);
        r = -1;
        goto fail;
    }
    node_name(node, sizeof(node));
    if (ops == NULL || store_async_open(&s->store, loop, ops, cfg->db, node,
                                        cfg->lease, err, sizeof(err)) < 0) {
        log_error("job store %s: %s", db, err);
        r = -1;
        goto fail;
    }
    /* The store's wake-up does not keep the loop running by itself. */
    uv_unref((uv_handle_t *)&s->store.async);
    if (worker_start(s) < 0 || prune_start(s) < 0 ||
        (s->stats = stats_start(s)) == NULL ||
        (s->events = events_start(s)) == NULL) {
        log_error("worker pool: out of memory");
        return -1;
    }
    log_info("listening on %s with %zu routes, jobs in %s", cfg->listen,
             routes->cfg->route_count, db);
    dashboard_decide(s, true);
    return 0;

fail:
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return r;
}

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int
srv_run(struct srv *s)
{
    uv_run(s->loop, UV_RUN_DEFAULT);
    /* What the store still has queued is committed and answered. */
    store_async_close(&s->store);
    uv_run(s->loop, UV_RUN_NOWAIT);
    worker_free(s);
    /* Only unreferenced handles are left: close them and let their close
     * callbacks run. */
    uv_walk(s->loop, close_walk_cb, NULL);
    uv_run(s->loop, UV_RUN_DEFAULT);
    route_table_unref(s->routes);
    s->routes = NULL;
    fastcgi_pools_free(s->runners.fcgi);
    forward_free(s->runners.forward);
    access_log_close(&s->access);
    stats_free(s->stats);
    events_free(s->events);
    s->stats = NULL;
    s->events = NULL;
    log_info("stopped");
    return 0;
}
