/* SPDX-License-Identifier: MIT */
/* kickd's entry point: the command line, the configuration, and the
 * server's run. Exit status: 0 after a clean stop, 1 if the server could
 * not start (e.g. the address is in use), 2 for a usage or config error. */
#include <getopt.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proc.h"
#include "srv.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: kickd [-t] [-c FILE] [--scripts DIR] [--listen ADDR] "
            "[--db PATH]\n"
            "  -c, --config FILE  read settings and routes from an INI file\n"
            "  -s, --scripts DIR  serve every executable in DIR as /NAME and"
            " every\n"
            "                     NAME.php as /NAME.php (run by php-cgi)\n"
            "  -l, --listen ADDR  HOST:PORT or [IPV6]:PORT "
            "(default 127.0.0.1:8080)\n"
            "  -d, --db PATH      the job store (default ./kick.db)\n"
            "  -m, --mode MODE    how --scripts routes run: detach "
            "(default),\n"
            "                     attach, or auto (Prefer: respond-async "
            "detaches)\n"
            "  -T, --time-limit S the --scripts routes' time limit, 0 = none\n"
            "                     (default: none detached, 30 s attached)\n"
            "  -F, --fastcgi ADDR run the --scripts NAME.php through the "
            "FastCGI\n"
            "                     pool at unix:/PATH or HOST:PORT (PHP-FPM), "
            "not php-cgi\n"
            "  --dashboard MODE   on, off or read-only (default: on when\n"
            "                     listening on loopback, else off)\n"
            "  -t, --test         check the configuration and exit\n"
            "  -h, --help         this help\n"
            "  -V, --version      the version\n"
            "Signals: SIGHUP reloads the routes; SIGTERM and SIGINT stop.\n");
}

static int
set_str(char **dst, const char *v)
{
    char *copy = strdup(v);

    if (copy == NULL)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

/* The command line. */
struct args {
    const char *cfg_path, *listen, *db;
    struct scripts_opts scripts; /* --scripts DIR, --mode, --time-limit,
                                  * --fastcgi */
    bool test; /* -t: check the configuration and exit */
    int dashboard; /* --dashboard (enum cfg_dashboard), or -1 */
};

/* Long options without a letter. */
enum { OPT_DASHBOARD = 256 };

/* Parses argv into a. -1 to go on, else the exit status. */
static int
args_parse(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"scripts", required_argument, NULL, 's'},
        {"listen", required_argument, NULL, 'l'},
        {"db", required_argument, NULL, 'd'},
        {"mode", required_argument, NULL, 'm'},
        {"time-limit", required_argument, NULL, 'T'},
        {"fastcgi", required_argument, NULL, 'F'},
        {"test", no_argument, NULL, 't'},
        {"dashboard", required_argument, NULL, OPT_DASHBOARD},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int o;

    *a = (struct args){.scripts = {.mode = -1, .time_limit = -1},
                       .dashboard = -1};
    while ((o = getopt_long(argc, argv, "c:s:l:d:m:T:F:thV", opts, NULL)) !=
           -1) {
        switch (o) {
        case 'c':
            a->cfg_path = optarg;
            break;
        case 's':
            a->scripts.dir = optarg;
            break;
        case 'l':
            a->listen = optarg;
            break;
        case 'd':
            a->db = optarg;
            break;
        case 'm':
            if (strcmp(optarg, "detach") == 0)
                a->scripts.mode = ROUTE_DETACH;
            else if (strcmp(optarg, "attach") == 0)
                a->scripts.mode = ROUTE_ATTACH;
            else if (strcmp(optarg, "auto") == 0)
                a->scripts.mode = ROUTE_AUTO;
            else {
                fprintf(stderr, "kickd: --mode: not detach, attach or auto: "
                                "'%s'\n", optarg);
                return 2;
            }
            break;
        case 'T': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 0 || v > 86400) {
                fprintf(stderr, "kickd: --time-limit: not a number of "
                                "seconds in 0..86400: '%s'\n", optarg);
                return 2;
            }
            a->scripts.time_limit = (int)v;
            break;
        }
        case 'F':
            if (!cfg_fastcgi_address_is_valid(optarg)) {
                fprintf(stderr, "kickd: --fastcgi: not unix:/ABSOLUTE/PATH "
                                "or HOST:PORT: '%s'\n", optarg);
                return 2;
            }
            a->scripts.fastcgi = optarg;
            break;
        case 't':
            a->test = true;
            break;
        case OPT_DASHBOARD:
            if ((a->dashboard = cfg_dashboard_parse(optarg)) < 0) {
                fprintf(stderr, "kickd: --dashboard: not on, off or "
                                "read-only: '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("kickd " KICK_VERSION "\n");
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kickd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (a->cfg_path == NULL && a->scripts.dir == NULL) {
        fprintf(stderr, "kickd: no routes: give -c FILE or --scripts DIR\n");
        usage(stderr);
        return 2;
    }
    return -1;
}

int
main(int argc, char **argv)
{
    struct args a;
    char err[512];
    int r;

    proc_tidy_fds();
    /* Every request allocates and frees a few buffers of up to 64 KiB; by
     * default glibc gives the top of the heap back after each, and the
     * next request faults fresh pages in again. */
    mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    /* Before any thread exists, so that none takes SIGCHLD from the
     * reaper's signalfd. */
    proc_block_sigchld();

    if ((r = args_parse(argc, argv, &a)) >= 0)
        return r;
    struct route_table *routes =
        srv_load_routes(a.cfg_path, &a.scripts, err, sizeof(err));
    if (routes == NULL) {
        fprintf(stderr, "kickd: %s\n", err);
        return 2;
    }
    struct cfg *cfg = routes->cfg;
    char host[64];
    int port;
    if (a.listen && cfg_parse_listen(a.listen, host, sizeof(host), &port) < 0) {
        fprintf(stderr, "kickd: --listen: bad address '%s'\n", a.listen);
        route_table_unref(routes);
        return 2;
    }
    if ((a.listen && set_str(&cfg->listen, a.listen) < 0) ||
        (a.db && set_str(&cfg->db, a.db) < 0)) {
        fprintf(stderr, "kickd: out of memory\n");
        route_table_unref(routes);
        return 1;
    }
    /* nginx -t: the configuration is read and checked, nothing starts. */
    if (a.test) {
        char db[1024];
        store_uri_format(cfg->db, db, sizeof(db));
        fprintf(stderr, "kickd: %s: configuration ok, %zu routes, listen %s, "
                        "db %s\n",
                a.cfg_path ? a.cfg_path : a.scripts.dir, cfg->route_count,
                cfg->listen, db);
        route_table_unref(routes);
        return 0;
    }

    /* The start-up table stays referenced: its cfg holds the server
     * settings, which a reload does not change. */
    struct srv s;
    memset(&s, 0, sizeof(s));
    s.cfg_path = a.cfg_path;
    s.scripts = a.scripts;
    s.listen_opt = a.listen;
    s.db_opt = a.db;
    s.dashboard_opt = a.dashboard;
    route_table_ref(routes);
    if (srv_init(&s, uv_default_loop(), cfg, routes) < 0) {
        access_log_close(&s.access);
        route_table_unref(routes);
        route_table_unref(routes);
        return 1;
    }
    r = srv_run(&s);
    route_table_unref(routes);
    uv_loop_close(uv_default_loop());
    return r == 0 ? 0 : 1;
}
