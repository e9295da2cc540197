/* SPDX-License-Identifier: MIT */
/* kickd's configuration: the INI file (read with inih), the command line
 * defaults, and the routes of a --scripts directory. */
#ifndef KICKD_CFG_H
#define KICKD_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum route_mode {
    ROUTE_DETACH = 0, /* PRODUCT.md's default; runs attached until issue 4 */
    ROUTE_ATTACH,
    ROUTE_AUTO,
};

/* How aborts and time limits reach the script: as PHP expects them (a
 * failing write, SIGPROF) or as signals (SIGTERM). */
enum route_php {
    ROUTE_PHP_AUTO = 0, /* on when the program is php-cgi */
    ROUTE_PHP_ON,
    ROUTE_PHP_OFF,
};

/* When a client's hang-up ends a script that does not ignore it
 * (PRODUCT.md, "Connection state"). */
enum route_abort {
    ROUTE_ABORT_WRITE = 0, /* at its next write of output: PHP's rule */
    ROUTE_ABORT_HANGUP,    /* at once */
};

/* Where a route's work runs (PRODUCT.md, "Where a route's work runs"). */
enum route_runner {
    ROUTE_EXEC = 0, /* exec = PROGRAM ARG... */
    ROUTE_FASTCGI,  /* fastcgi = unix:/PATH | HOST:PORT, script = FILE */
    ROUTE_FORWARD,  /* forward = http(s)://URL */
};

/* [server] dashboard: whether kickd serves its dashboard (GET /, its
 * files, /stats, /events, the login), and whether its page may change
 * jobs. */
enum cfg_dashboard {
    DASHBOARD_AUTO = 0, /* the default: on when kickd listens on a
                         * loopback address, off otherwise */
    DASHBOARD_ON,
    DASHBOARD_OFF,
    DASHBOARD_READ_ONLY,
};

struct cfg_route {
    char *path;            /* "/report": starts with '/' */
    enum route_runner runner;
    char **argv;           /* exec split into words, NULL-terminated */
    size_t argc;
    char *script_filename; /* the last word of exec, or fastcgi's script;
                            * NULL for forward */
    char *fastcgi;         /* the pool's address, as configured */
    char *forward;         /* the upstream URL */
    enum route_mode mode;
    int time_limit;        /* seconds, 0 = none; -1 (the default): none
                            * for a job, RUN_ATTACHED_TIME_LIMIT for a
                            * script on its caller's connection */
    bool ignore_user_abort;
    enum route_php php_mode;
    enum route_abort abort; /* default ROUTE_ABORT_WRITE */
    char **on_shutdown;    /* argv or NULL; one command */
    char **env;            /* "NAME=VALUE" strings, NULL-terminated */
    size_t envc;
    int concurrency;       /* 0 = no limit of its own */
    int retries;           /* default 0 */
    int64_t keep;          /* ms an ended job is kept, 0 for ever; -1
                            * (the default): the [server] keep */
    int line;              /* line of the [route] section, for messages */
};

struct cfg {
    char *listen;        /* "127.0.0.1:8080" or "[::1]:8080" */
    char *db;            /* default "./kick.db" */
    int workers;         /* default 8 */
    char *token;         /* NULL = no token */
    char *scripts;       /* a --scripts directory, or NULL */
    int header_timeout;  /* ms */
    int body_timeout;    /* ms */
    int idle_timeout;    /* ms */
    int64_t max_body;    /* bytes */
    int max_connections;
    int kill_grace;      /* ms between SIGTERM and SIGKILL to a script */
    int stop_grace;      /* ms kickd waits for running work at SIGTERM */
    /* A shared store (PostgreSQL): a running job's lease (ms), renewed
     * every lease_renew ms; a look for due jobs every poll ms beside
     * the notices of other nodes. */
    int lease;
    int lease_renew;
    int poll;
    int shutdown_timeout; /* ms a shutdown command may run */
    int64_t output_cap;   /* bytes of a job's output kept (the newest) */
    int response_hold;    /* ms a short answer may wait for its end */
    int max_interruptions; /* a job's runs ended by kickd itself before it
                            * fails */
    char *access_log;     /* "stderr" (the default), "off" or a file */
    int64_t keep;          /* ms an ended job is kept, 0 for ever; routes
                            * without a keep of their own take it */
    int dashboard;         /* enum cfg_dashboard */
    struct cfg_route *routes;
    size_t route_count;
};

/* Returns a cfg with every default set and no routes. NULL on ENOMEM. */
struct cfg *
cfg_new(void);

void
cfg_free(struct cfg *c);

/* Reads the INI file path into c (values there override c's). Returns 0,
 * or -1 with "FILE:LINE: reason" written to err (size errlen). */
int
cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen);

/* A file of a scripts directory that is no route, and why (one line). */
typedef void (*cfg_skip_cb)(void *arg, const char *name, const char *why);

/* Adds a route for every executable regular file directly in dir (/NAME)
 * and every NAME.php there (/NAME.php, run by php-cgi); every other file
 * (hidden, not executable, a directory, an odd name) is skipped and, with
 * skip_cb, told to it. Routes already in c keep precedence. Returns 0,
 * or -1 with a reason in err. */
int
cfg_load_scripts(struct cfg *c, const char *dir, cfg_skip_cb skip_cb,
                 void *arg, char *err, size_t errlen);

/* A route of a scripts directory that php-cgi would run (NAME.php) goes
 * to the FastCGI pool at address instead (kickd --fastcgi); others stay.
 * 0, or -1 on ENOMEM. */
int
cfg_script_to_fastcgi(struct cfg_route *r, const char *address);

/* Whether v is a FastCGI pool's address: unix:/ABSOLUTE/PATH or
 * HOST:PORT. */
bool
cfg_fastcgi_address_is_valid(const char *v);

/* Splits s into words as a POSIX shell would (blanks, '...', "...", and
 * backslash escapes) without expanding anything. Returns a NULL-terminated
 * array the caller frees with cfg_argv_free, or NULL with a reason in err
 * (unterminated quote, no words, ENOMEM). */
char **
cfg_split_words(const char *s, size_t *count, char *err, size_t errlen);

void
cfg_argv_free(char **argv);

/* Parses a duration: digits with a unit, s, m, h or d ("30s", "10m",
 * "12h", "7d"), or bare digits as seconds, into *ms. Returns 0, or -1 if
 * malformed or longer than max_ms. */
int
cfg_parse_duration(const char *s, int64_t max_ms, int64_t *ms);

/* Parses "IPV4:PORT", "[V6]:PORT", ":PORT" (all interfaces) or
 * "NAME:PORT" into host (size hostlen; a name is resolved, an IPv4
 * address preferred) and port. Returns 0, or -1 if malformed or the name
 * does not resolve. */
int
cfg_parse_listen(const char *s, char *host, size_t hostlen, int *port);

/* Whether host (an IPv4 or IPv6 address as text) is a loopback address:
 * 127.0.0.0/8, ::1, or ::ffff:127.x.x.x. */
bool
cfg_host_is_loopback(const char *host);

/* The dashboard as served: the setting (enum cfg_dashboard), or for
 * DASHBOARD_AUTO, DASHBOARD_ON when kickd listens on a loopback host and
 * DASHBOARD_OFF otherwise (a page that can cancel jobs is not offered to
 * a network unless asked for). */
enum cfg_dashboard
cfg_dashboard_mode(int setting, const char *listen_host);

/* The word of a dashboard mode ("on", "off", "read-only"; "auto"). */
const char *
cfg_dashboard_name(int mode);

/* The mode a word names (on, off, read-only), or -1. */
int
cfg_dashboard_parse(const char *word);

#endif
