/* SPDX-License-Identifier: MIT */
/* The server: the event loop, the listener, signals (SIGHUP reloads the
 * routes, SIGTERM and SIGINT stop) and the state every connection shares. */
#ifndef KICKD_SRV_H
#define KICKD_SRV_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "access_log.h"
#include "cfg.h"
#include "http_response.h"
#include "job_event.h"
#include "kick_limits.h"
#include "metrics.h"
#include "store_async.h"
#include "proc.h"
#include "route.h"
#include "runner.h"

struct conn;
struct run;

/* What a connection hands on to the job API (api.c), set by srv_init so
 * that the connection's files need not know the API's: the job API
 * answers through the connection, and nothing calls back. */
struct conn_handlers {
    /* A complete detached trigger: commit it and answer 202. */
    void (*trigger)(struct conn *c, const struct cfg_route *route,
                    const struct http_request *req, const char *head,
                    size_t head_len, const char *body, size_t body_len,
                    bool preferred);
    /* /jobs..., /metrics. */
    bool (*api)(struct conn *c, const struct http_request *req,
                const char *path);
    /* The dashboard's page and files (GET / and /_kick/ui/...) and its
     * login (POST /_kick/login, /_kick/logout, body gathered: NULL and 0
     * for the others). */
    void (*dashboard)(struct conn *c, const struct http_request *req,
                      const char *path, const char *body, size_t body_len);
    /* GET /stats and GET /events. */
    void (*stats)(struct conn *c, const struct http_request *req);
    void (*events)(struct conn *c, const struct http_request *req);
};

/* The command line's scripts directory and how its routes run. */
struct scripts_opts {
    const char *dir;     /* --scripts DIR, or NULL */
    int mode;            /* --mode for its routes, or -1 */
    int time_limit;      /* --time-limit for them (s), or -1 */
    const char *fastcgi; /* --fastcgi ADDR: its *.php to this pool, not
                          * php-cgi; or NULL */
};

struct stats;
struct events;

struct srv {
    uv_loop_t *loop;
    struct cfg *cfg;             /* server settings of the start-up config */
    struct route_table *routes;  /* the current routes; swapped on SIGHUP */
    const char *cfg_path;        /* -c FILE, or NULL */
    struct scripts_opts scripts; /* --scripts DIR and how it runs */
    const char *listen_opt;      /* --listen, or NULL */
    const char *db_opt;          /* --db, or NULL */
    int dashboard_opt;           /* --dashboard (enum cfg_dashboard), or
                                  * -1 */
    /* The dashboard as it is served now: DASHBOARD_ON, _OFF or
     * _READ_ONLY (the setting, or by default what the listen address
     * says); set at start and by a reload. */
    enum cfg_dashboard dashboard;
    uv_tcp_t listener;
    char listen_host[64];
    int listen_port;
    uv_signal_t sig_hup, sig_term, sig_int;
    uv_timer_t stop_timer;
    struct conn *conns; /* every open connection, a doubly linked list */
    struct run *runs;   /* every script run not yet finished */
    struct proc_reaper reaper;
    struct runner_ctx runners;  /* what the runners share */
    struct conn_handlers handlers;
    struct store_async store;   /* the job store and its thread */
    struct worker_pool *workers;
    struct prune *pruner;       /* retention (prune.c) */
    struct stats *stats;        /* the dashboard's counts (stats.c) */
    struct events *events;      /* GET /events streams (events.c) */
    /* Who learns of changes of jobs (set by srv.c); see srv_job_event. */
    void (*job_event_cb)(struct srv *s, const struct job_event *e);
    struct metrics metrics;
    uv_check_t flush_check; /* writes staged in a loop turn go out here */
    struct conn *flushes;   /* connections with staged writes */
    /* Connections waiting for a request with nothing queued, longest
     * waiting first: at max_connections the first is closed to make room
     * for a new one. */
    struct conn *idle_first, *idle_last;
    size_t conn_count;
    /* At max_connections: one log line a second at most, with what was
     * done since the last one. */
    uv_timer_t limit_timer;
    uint64_t limit_closed;  /* idle connections closed for new ones */
    uint64_t limit_refused; /* new connections refused */
    bool stopping;
    uint64_t next_conn_id;
    uint64_t next_run_id;
    /* Random bytes for the runs' secrets (run.c), one getrandom for many
     * runs; the unused ones are the first run_random_left. */
    unsigned char run_random[RUN_RANDOM_BYTES];
    size_t run_random_left;
    struct http_date date;
    char path_env[1024]; /* PATH given to scripts */
    struct access_log access; /* [server] access_log */
};

/* Tells those who watch jobs (the dashboard's counts and event streams)
 * of a change; for the modules that change jobs, which so need not know
 * who watches. */
static inline void
srv_job_event(struct srv *s, const struct job_event *e)
{
    if (s->job_event_cb)
        s->job_event_cb(s, e);
}

/* Sets up the listener and signals on loop. Returns 0 or a negative errno
 * (the address is logged). */
int
srv_init(struct srv *s, uv_loop_t *loop, struct cfg *cfg,
         struct route_table *routes);

/* Runs the loop until a stop has ended every connection and script. */
int
srv_run(struct srv *s);

/* Builds the routes from cfg_path and the scripts directory; NULL with
 * err set. */
struct route_table *
srv_load_routes(const char *cfg_path, const struct scripts_opts *so,
                char *err, size_t errlen);

#endif
