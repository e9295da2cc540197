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
#include "metrics.h"
#include "store_async.h"
#include "proc.h"
#include "route.h"
#include "runner.h"

struct conn;
struct run;

struct srv {
    uv_loop_t *loop;
    struct cfg *cfg;             /* server settings of the start-up config */
    struct route_table *routes;  /* the current routes; swapped on SIGHUP */
    const char *cfg_path;        /* -c FILE, or NULL */
    const char *scripts_dir;     /* --scripts DIR, or NULL */
    int scripts_mode;            /* --mode for its routes, or -1 */
    int scripts_time_limit;      /* --time-limit for them (s), or -1 */
    const char *listen_opt;      /* --listen, or NULL */
    const char *db_opt;          /* --db, or NULL */
    uv_tcp_t listener;
    char listen_host[64];
    int listen_port;
    uv_signal_t sig_hup, sig_term, sig_int;
    uv_timer_t stop_timer;
    struct conn *conns; /* every open connection, a doubly linked list */
    struct run *runs;   /* every script run not yet finished */
    struct proc_reaper reaper;
    struct runner_ctx runners;  /* what the runners share */
    struct store_async store;   /* the job store and its thread */
    struct worker_pool *workers;
    struct prune *pruner;       /* retention (prune.c) */
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
    struct http_date date;
    char path_env[1024]; /* PATH given to scripts */
    struct access_log access; /* [server] access_log */
};

/* Sets up the listener and signals on loop. Returns 0 or a negative errno
 * (the address is logged). */
int
srv_init(struct srv *s, uv_loop_t *loop, struct cfg *cfg,
         struct route_table *routes);

/* Runs the loop until a stop has ended every connection and script. */
int
srv_run(struct srv *s);

/* Makes sure staged writes go out at the end of this loop turn. */
void
srv_flush_soon(struct srv *s);

/* Builds the routes from cfg_path and scripts_dir; NULL with err set. */
struct route_table *
srv_load_routes(const char *cfg_path, const char *scripts_dir,
                int scripts_mode, int scripts_time_limit, char *err,
                size_t errlen);

#endif
