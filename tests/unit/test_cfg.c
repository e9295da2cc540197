/* SPDX-License-Identifier: MIT */
/* Unit tests of cfg.c: PRODUCT.md's example file, a table of bad files and
 * their exact messages, word splitting, listen addresses, --scripts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"

/* Every test runs in this directory (made by the group setup), so that the
 * messages name "kickd.conf" as a user would see them. */
static char tmpdir[] = "/tmp/test_cfg.XXXXXX";
static char oldcwd[4096];

static void
write_file(const char *name, const char *text, mode_t mode)
{
    FILE *f = fopen(name, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(name, mode), 0);
}

static struct cfg *
load(const char *text, int want, char *err, size_t errlen)
{
    struct cfg *c = cfg_new();

    assert_non_null(c);
    write_file("kickd.conf", text, 0644);
    err[0] = '\0';
    assert_int_equal(cfg_load_file(c, "kickd.conf", err, errlen), want);
    return c;
}

static const char product_example[] =
    "[server]\n"
    "listen = 127.0.0.1:8080\n"
    "db = /var/lib/kick/kick.db          ; or postgresql://user@host/dbname\n"
    "workers = 8                         ; detached jobs running at once\n"
    "token = change-me                   ; optional: required on every "
    "request\n"
    "\n"
    "[route /report]\n"
    "exec = /usr/bin/php-cgi /srv/app/report.php   ; argv, split like a "
    "shell\n"
    "                                              ; would, but never run "
    "by one\n"
    "mode = detach                 ; detach (default) | attach | auto\n"
    "time_limit = 30               ; seconds, 0 = none (PHP "
    "max_execution_time)\n"
    "ignore_user_abort = off       ; PHP ignore_user_abort\n"
    "abort = write                 ; write (PHP's rule) | hangup: when a "
    "client\n"
    "                              ; hang-up ends the script\n"
    "on_shutdown = /srv/app/cleanup.sh\n"
    "env = APP_ENV=production       ; extra variables for the script\n"
    "concurrency = 2               ; this route's running jobs at once\n"
    "retries = 3                   ; extra attempts after a failing exit "
    "status\n"
    "keep = 7d                     ; how long ended jobs and their output "
    "stay\n";

static void
test_defaults(void **state)
{
    struct cfg *c = cfg_new();

    assert_non_null(c);
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_string_equal(c->db, "./kick.db");
    assert_int_equal(c->workers, 8);
    assert_null(c->token);
    assert_null(c->scripts);
    assert_int_equal(c->header_timeout, 10000);
    assert_int_equal(c->body_timeout, 30000);
    assert_int_equal(c->idle_timeout, 60000);
    assert_int_equal(c->max_body, 16 * 1024 * 1024);
    assert_int_equal(c->max_connections, 4096);
    assert_int_equal(c->kill_grace, 5000);
    assert_int_equal(c->stop_grace, 10000);
    assert_int_equal(c->response_hold, 2);
    assert_string_equal(c->access_log, "stderr");
    assert_int_equal(c->keep, 7LL * 86400 * 1000);
    assert_int_equal(c->dashboard, DASHBOARD_AUTO);
    assert_int_equal(c->route_count, 0);
    cfg_free(c);
    cfg_free(NULL);
}

static void
test_product_example(void **state)
{
    char err[512];
    struct cfg *c = load(product_example, 0, err, sizeof(err));
    struct cfg_route *r;

    assert_string_equal(err, "");
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_string_equal(c->db, "/var/lib/kick/kick.db");
    assert_int_equal(c->workers, 8);
    assert_string_equal(c->token, "change-me");
    assert_int_equal(c->route_count, 1);
    r = &c->routes[0];
    assert_string_equal(r->path, "/report");
    assert_int_equal(r->line, 7);
    assert_int_equal(r->argc, 2);
    assert_string_equal(r->argv[0], "/usr/bin/php-cgi");
    assert_string_equal(r->argv[1], "/srv/app/report.php");
    assert_null(r->argv[2]);
    assert_string_equal(r->script_filename, "/srv/app/report.php");
    assert_int_equal(r->mode, ROUTE_DETACH);
    assert_int_equal(r->time_limit, 30);
    assert_false(r->ignore_user_abort);
    assert_int_equal(r->abort, ROUTE_ABORT_WRITE);
    assert_non_null(r->on_shutdown);
    assert_string_equal(r->on_shutdown[0], "/srv/app/cleanup.sh");
    assert_null(r->on_shutdown[1]);
    assert_int_equal(r->envc, 1);
    assert_string_equal(r->env[0], "APP_ENV=production");
    assert_null(r->env[1]);
    assert_int_equal(r->concurrency, 2);
    assert_int_equal(r->retries, 3);
    assert_int_equal(r->keep, 7LL * 86400 * 1000);
    cfg_free(c);
}

static void
test_every_key(void **state)
{
    char err[512];
    struct cfg *c = load("# a comment\n"
                         "[server]\n"
                         "listen = [::1]:9000\n"
                         "scripts = .\n"
                         "header_timeout = 5\n"
                         "body_timeout = 6\n"
                         "idle_timeout = 86400\n"
                         "max_body = 2m\n"
                         "max_connections = 1000000\n"
                         "kill_grace = 0\n"
                         "stop_grace = 3600\n"
                         "response_hold_ms = 0\n"
                         "access_log = /var/log/kick/access.log\n"
                         "[route /a/b.php]\n"
                         "exec: /bin/sh -c\n"
                         "    'echo \"$X\" && done' ; a comment\n"
                         "\n"
                         "\t-- tail\n"
                         "mode = auto\n"
                         "ignore_user_abort = Yes\n"
                         "abort = hangup\n"
                         "time_limit = 0\n"
                         "env = A=1\n"
                         "env = _b2=x=y\n"
                         "env = EMPTY=\n"
                         "[route /c]\n"
                         "exec = /bin/c\n"
                         "mode = attach\n"
                         "ignore_user_abort = 1\n"
                         "abort = write\n",
                         0, err, sizeof(err));
    struct cfg_route *r;

    assert_string_equal(c->listen, "[::1]:9000");
    assert_string_equal(c->db, "./kick.db");
    assert_string_equal(c->scripts, ".");
    assert_int_equal(c->header_timeout, 5000);
    assert_int_equal(c->body_timeout, 6000);
    assert_int_equal(c->idle_timeout, 86400000);
    assert_int_equal(c->max_body, 2 * 1024 * 1024);
    assert_int_equal(c->max_connections, 1000000);
    assert_int_equal(c->kill_grace, 0);
    assert_int_equal(c->stop_grace, 3600000);
    assert_int_equal(c->response_hold, 0);
    assert_string_equal(c->access_log, "/var/log/kick/access.log");
    assert_int_equal(c->route_count, 2);
    r = &c->routes[0];
    assert_string_equal(r->path, "/a/b.php");
    assert_int_equal(r->line, 14);
    /* Indented lines continue exec, as a shell joins lines. */
    assert_int_equal(r->argc, 5);
    assert_string_equal(r->argv[2], "echo \"$X\" && done");
    assert_string_equal(r->argv[3], "--");
    assert_string_equal(r->argv[4], "tail");
    assert_string_equal(r->script_filename, "tail");
    assert_int_equal(r->mode, ROUTE_AUTO);
    assert_true(r->ignore_user_abort);
    assert_int_equal(r->abort, ROUTE_ABORT_HANGUP);
    assert_int_equal(r->time_limit, 0);
    assert_null(r->on_shutdown);
    assert_int_equal(r->envc, 3);
    assert_string_equal(r->env[0], "A=1");
    assert_string_equal(r->env[1], "_b2=x=y");
    assert_string_equal(r->env[2], "EMPTY=");
    assert_null(r->env[3]);
    r = &c->routes[1];
    assert_string_equal(r->path, "/c");
    assert_int_equal(r->mode, ROUTE_ATTACH);
    assert_true(r->ignore_user_abort);
    assert_int_equal(r->abort, ROUTE_ABORT_WRITE);
    /* No time_limit: decided by how it runs (none detached, 30 s
     * attached). */
    assert_int_equal(r->time_limit, -1);
    assert_int_equal(r->envc, 0);
    assert_null(r->env[0]);
    cfg_free(c);
}

static void
test_sizes(void **state)
{
    static const struct {
        const char *value;
        int64_t bytes;
    } cases[] = {
        {"1", 1},
        {"10k", 10240},
        {"3K", 3072},
        {"5M", 5 << 20},
        {"1g", 1LL << 30},
        {"1024G", 1LL << 40},
        {"1099511627776", 1LL << 40},
    };
    char text[128], err[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cfg *c;
        snprintf(text, sizeof(text), "[server]\nmax_body = %s\n",
                 cases[i].value);
        c = load(text, 0, err, sizeof(err));
        assert_int_equal(c->max_body, cases[i].bytes);
        cfg_free(c);
    }
}

/* keep: a duration with a unit, bare digits as seconds, 0 for ever; a
 * route without one takes the [server] keep (-1), one with one keeps
 * it. */
static void
test_durations(void **state)
{
    static const struct {
        const char *value;
        int64_t ms;
    } cases[] = {
        {"0", 0},          {"30", 30000},         {"30s", 30000},
        {"10m", 600000},   {"12h", 43200000},     {"7d", 604800000},
        {"0d", 0},         {"3650d", 3650LL * 86400000},
        {"315360000", 315360000000LL},
    };
    static const char *const bad[] = {
        "", "s", "1.5h", "-1", "7 d", "1w", "7D", "3651d", "315360001",
        "99999999999999d", "1h30m",
    };
    char text[128], err[512];
    int64_t ms;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cfg *c;
        snprintf(text, sizeof(text),
                 "[server]\nkeep = %s\n[route /a]\nexec = /bin/a\n"
                 "[route /b]\nexec = /bin/b\nkeep = %s\n",
                 cases[i].value, cases[i].value);
        c = load(text, 0, err, sizeof(err));
        assert_int_equal(c->keep, cases[i].ms);
        assert_int_equal(c->routes[0].keep, -1);
        assert_int_equal(c->routes[1].keep, cases[i].ms);
        cfg_free(c);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cfg_parse_duration(bad[i], 3650LL * 86400000, &ms) == 0)
            fail_msg("'%s' parsed as %lld ms", bad[i], (long long)ms);
    }
    struct cfg *c = load("[server]\nkeep = 2w\n", -1, err, sizeof(err));
    assert_string_equal(err, "kickd.conf:2: keep: not a duration of at most "
                             "3650 days (digits with s, m, h or d; bare "
                             "digits are seconds; 0 for ever): '2w'");
    assert_int_equal(c->keep, 7LL * 86400 * 1000);
    cfg_free(c);
}

/* A byte-order mark and CRLF line ends, as an editor on Windows writes. */
static void
test_bom_crlf(void **state)
{
    char err[512];
    struct cfg *c = load("\xEF\xBB\xBF[server]\r\nworkers = 4\r\n"
                         "[route /x]\r\nexec = /bin/x 'a b'\r\n",
                         0, err, sizeof(err));

    assert_int_equal(c->workers, 4);
    assert_int_equal(c->route_count, 1);
    assert_string_equal(c->routes[0].argv[1], "a b");
    cfg_free(c);
    c = load("\xEF\xBB\xBF[server]\r\nworkers = 4\r\nbad\r\n", -1, err,
             sizeof(err));
    assert_string_equal(err, "kickd.conf:3: expected NAME = VALUE or "
                             "[SECTION]");
    cfg_free(c);
}

static const struct {
    const char *text;
    const char *want;
} bad_files[] = {
    {"[server]\nworkers = 2\n[bogus]\nx = 1\n",
     "kickd.conf:3: unknown section [bogus]"},
    {"[server]\n\n[route /report]\nexec = /bin/true\n; c\n\nfoo = 1\n",
     "kickd.conf:7: unknown key 'foo' in [route /report]"},
    {"[server]\nfoo = bar\n", "kickd.conf:2: unknown key 'foo' in [server]"},
    {"workers = 2\n", "kickd.conf:1: key 'workers' outside a section"},
    {"[server]\nlisten = :80\nworkers = abc\n",
     "kickd.conf:3: workers: not a number in 1..1024: 'abc'"},
    {"[server]\nworkers = 0\n",
     "kickd.conf:2: workers: not a number in 1..1024: '0'"},
    {"[server]\nworkers = 1025\n",
     "kickd.conf:2: workers: not a number in 1..1024: '1025'"},
    {"[server]\nworkers = -1\n",
     "kickd.conf:2: workers: not a number in 1..1024: '-1'"},
    {"[server]\nworkers = 99999999999999999999999\n",
     "kickd.conf:2: workers: not a number in 1..1024: "
     "'99999999999999999999999'"},
    {"[server]\nworkers =\n", "kickd.conf:2: workers: not a number in "
                              "1..1024: ''"},
    {"[server]\nheader_timeout = 0\n",
     "kickd.conf:2: header_timeout: not a number in 1..86400: '0'"},
    {"[server]\nresponse_hold_ms = 1001\n",
     "kickd.conf:2: response_hold_ms: not a number in 0..1000: '1001'"},
    {"[server]\nkill_grace = 3601\n",
     "kickd.conf:2: kill_grace: not a number in 0..3600: '3601'"},
    {"[server]\nmax_connections = 1000001\n",
     "kickd.conf:2: max_connections: not a number in 1..1000000: "
     "'1000001'"},
    {"[server]\nmax_body = 2x\n",
     "kickd.conf:2: max_body: not a size in 1..1099511627776 bytes (or "
     "with k, m, g): '2x'"},
    {"[server]\nmax_body = 1025g\n",
     "kickd.conf:2: max_body: not a size in 1..1099511627776 bytes (or "
     "with k, m, g): '1025g'"},
    {"[server]\nmax_body = k\n",
     "kickd.conf:2: max_body: not a size in 1..1099511627776 bytes (or "
     "with k, m, g): 'k'"},
    {"[server]\ntoken =\n", "kickd.conf:2: token: empty value"},
    {"[server]\nscripts = ./no-such-dir\n",
     "kickd.conf:2: scripts: './no-such-dir': No such file or directory"},
    {"[server]\nscripts = kickd.conf\n",
     "kickd.conf:2: scripts: 'kickd.conf': Not a directory"},
    {"[server]\nlisten = local_host:80\n",
     "kickd.conf:2: listen: not HOST:PORT, IPV4:PORT, [IPV6]:PORT or :PORT "
     "with a port in 1..65535 and a host that resolves: 'local_host:80'"},
    {"[server]\nlisten = [::1]:0\n",
     "kickd.conf:2: listen: not HOST:PORT, IPV4:PORT, [IPV6]:PORT or :PORT "
     "with a port in 1..65535 and a host that resolves: '[::1]:0'"},
    {"[route /a]\nexec = /bin/true\nignore_user_abort = maybe\n",
     "kickd.conf:3: ignore_user_abort: not on/off, yes/no, true/false or "
     "1/0: 'maybe'"},
    {"[route /a]\nexec = /bin/true\nabort = close\n",
     "kickd.conf:3: abort: not write or hangup: 'close'"},
    {"[route /a]\nexec = /bin/true\nabort = Hangup\n",
     "kickd.conf:3: abort: not write or hangup: 'Hangup'"},
    {"[route /a]\nexec = /bin/true\nabort =\n",
     "kickd.conf:3: abort: not write or hangup: ''"},
    {"[route /a]\nexec = /bin/true\nabort = write\nabort = hangup\n",
     "kickd.conf:4: duplicate key 'abort' in [route /a]"},
    {"[route /a]\nexec = /bin/true\nmode = later\n",
     "kickd.conf:3: mode: not detach, attach or auto: 'later'"},
    {"[route /a]\nexec = /bin/true\ntime_limit = 86401\n",
     "kickd.conf:3: time_limit: not a number in 0..86400: '86401'"},
    {"[route /a]\nexec = /bin/true\nconcurrency = 100001\n",
     "kickd.conf:3: concurrency: not a number in 0..100000: '100001'"},
    {"[route /a]\nexec = /bin/true\nretries = 101\n",
     "kickd.conf:3: retries: not a number in 0..100: '101'"},
    {"[route /a]\nexec = /bin/true\n\n[route /b]\nmode = attach\n",
     "kickd.conf:4: [route /b] has no runner: exec, fastcgi or forward"},
    {"[server]\n[route /empty]\n",
     "kickd.conf:2: [route /empty] has no runner: exec, fastcgi or "
     "forward"},
    {"[route /a]\nexec = /bin/true\nmode = attach\nmode = detach\n",
     "kickd.conf:4: duplicate key 'mode' in [route /a]"},
    {"[route /a]\nexec = /bin/true\nexec = /bin/false\n",
     "kickd.conf:3: duplicate key 'exec' in [route /a]"},
    {"[server]\nworkers = 1\nworkers = 2\n",
     "kickd.conf:3: duplicate key 'workers' in [server]"},
    {"[server]\n[server]\n",
     "kickd.conf:2: duplicate section [server] (first at line 1)"},
    {"[route /a]\nexec = /bin/true\n[route /b]\nexec = /bin/true\n"
     "[route /a]\nexec = /bin/true\n",
     "kickd.conf:5: duplicate route [route /a] (first at line 1)"},
    {"[route /a]\nexec = /bin/true\nenv = 1A=b\n",
     "kickd.conf:3: env: not NAME=VALUE, NAME of letters, digits and '_' "
     "not starting with a digit: '1A=b'"},
    {"[route /a]\nexec = /bin/true\nenv = NOVALUE\n",
     "kickd.conf:3: env: not NAME=VALUE, NAME of letters, digits and '_' "
     "not starting with a digit: 'NOVALUE'"},
    {"[route /a]\nexec = /bin/true\nenv = A-B=c\n",
     "kickd.conf:3: env: not NAME=VALUE, NAME of letters, digits and '_' "
     "not starting with a digit: 'A-B=c'"},
    /* exec is split when its section ends; its line is still the one. */
    {"[route /a]\nexec = /bin/sh -c 'echo\nfoo = 1\n",
     "kickd.conf:2: exec: unterminated single quote"},
    {"[route /a]\nexec = /bin/echo \"a\n",
     "kickd.conf:2: exec: unterminated double quote"},
    {"[route /a]\nexec = /bin/echo a\\\n",
     "kickd.conf:2: exec: trailing backslash"},
    {"[route /a]\nexec = ''\n", "kickd.conf:2: exec: empty program name"},
    {"[route /a]\nexec =\n", "kickd.conf:2: exec: no command"},
    {"[route /a]\nexec = /bin/true\non_shutdown = \"x\n",
     "kickd.conf:3: on_shutdown: unterminated double quote"},
    /* Exactly one runner per route. */
    {"[route /a]\nfastcgi = unix:/run/php/php8.2-fpm.sock\n",
     "kickd.conf:1: [route /a] has fastcgi but no script"},
    {"[route /a]\nexec = /bin/true\nscript = /srv/app/report.php\n",
     "kickd.conf:1: [route /a] has a script but no fastcgi (exec names its "
     "script itself)"},
    {"[route /a]\nexec = /bin/true\nforward = http://app.internal/r\n",
     "kickd.conf:1: [route /a] has more than one of exec, fastcgi and "
     "forward"},
    {"[route /a]\nfastcgi = 127.0.0.1:9000\nscript = /s.php\n"
     "forward = http://a/\n",
     "kickd.conf:1: [route /a] has more than one of exec, fastcgi and "
     "forward"},
    {"[route /a]\nmode = attach\n",
     "kickd.conf:1: [route /a] has no runner: exec, fastcgi or forward"},
    {"[route /a]\nfastcgi = /run/php.sock\nscript = /s.php\n",
     "kickd.conf:2: fastcgi: not unix:/ABSOLUTE/PATH or HOST:PORT: "
     "'/run/php.sock'"},
    {"[route /a]\nfastcgi = unix:run/php.sock\nscript = /s.php\n",
     "kickd.conf:2: fastcgi: not unix:/ABSOLUTE/PATH or HOST:PORT: "
     "'unix:run/php.sock'"},
    {"[route /a]\nfastcgi = 127.0.0.1:70000\nscript = /s.php\n",
     "kickd.conf:2: fastcgi: not unix:/ABSOLUTE/PATH or HOST:PORT: "
     "'127.0.0.1:70000'"},
    {"[route /a]\nfastcgi = 127.0.0.1:9000\nscript = s.php\n",
     "kickd.conf:3: script: not an absolute path: 's.php'"},
    {"[route /a]\nforward = ftp://a/b\n",
     "kickd.conf:2: forward: not an http:// or https:// URL with a host: "
     "'ftp://a/b'"},
    {"[route /a]\nforward = http:///b\n",
     "kickd.conf:2: forward: not an http:// or https:// URL with a host: "
     "'http:///b'"},
    {"[route /a]\nforward = http://a:99999/\n",
     "kickd.conf:2: forward: not an http:// or https:// URL with a host: "
     "'http://a:99999/'"},
    {"[route report]\nexec = /bin/true\n",
     "kickd.conf:1: bad route section [route report]: expected [route "
     "/PATH], the path without blanks, '?', '#' or '..' segments"},
    {"[route /a/../b]\nexec = /bin/true\n",
     "kickd.conf:1: bad route section [route /a/../b]: expected [route "
     "/PATH], the path without blanks, '?', '#' or '..' segments"},
    {"[route /a?b]\n", "kickd.conf:1: bad route section [route /a?b]: "
                       "expected [route /PATH], the path without blanks, "
                       "'?', '#' or '..' segments"},
    {"[route]\n", "kickd.conf:1: bad route section [route]: expected "
                  "[route /PATH], the path without blanks, '?', '#' or "
                  "'..' segments"},
    {"[routes]\n", "kickd.conf:1: unknown section [routes]"},
    {"[server]\njunk\n",
     "kickd.conf:2: expected NAME = VALUE or [SECTION]"},
    {"[server\nworkers = 2\n", "kickd.conf:1: no ']' after section name"},
    {"[server]\nworkers = 2\n  3\n",
     "kickd.conf:3: indented line continues 'workers', which takes one "
     "line"},
    {"[server]\ntoken = "
     "0123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789012345678901234567890123456789"
     "01234567890123456789012345678901234567890123456789012345678\n",
     "kickd.conf:2: line longer than 197 bytes"},
    {"[route /a]\nexec = /bin/a\n  [route /b]\nexec = /bin/b\n",
     "kickd.conf:3: indented section header continues 'exec': unindent "
     "it"},
    {"[server]\ndashboard = yes\n",
     "kickd.conf:2: dashboard: not on, off or read-only: 'yes'"},
    {"[server]\ndashboard = readonly\n",
     "kickd.conf:2: dashboard: not on, off or read-only: 'readonly'"},
    /* Only the first error (by line) is told. */
    {"[server]\nworkers = x\nbogus = 1\n[nope]\n",
     "kickd.conf:2: workers: not a number in 1..1024: 'x'"},
};

static void
test_bad_files(void **state)
{
    char err[512];

    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        struct cfg *c = load(bad_files[i].text, -1, err, sizeof(err));
        if (strcmp(err, bad_files[i].want) != 0)
            fail_msg("case %zu:\n%s\ngot:  %s\nwant: %s", i,
                     bad_files[i].text, err, bad_files[i].want);
        /* A bad file changes nothing. */
        assert_int_equal(c->workers, 8);
        assert_int_equal(c->route_count, 0);
        assert_null(c->token);
        cfg_free(c);
    }
}

static void
test_unopenable(void **state)
{
    char err[512];
    struct cfg *c = cfg_new();

    assert_int_equal(cfg_load_file(c, "missing.conf", err, sizeof(err)), -1);
    assert_string_equal(err, "missing.conf: No such file or directory");
    assert_int_equal(mkdir("conf.d", 0755), 0);
    assert_int_equal(cfg_load_file(c, "conf.d", err, sizeof(err)), -1);
    assert_string_equal(err, "conf.d: Is a directory");
    assert_int_equal(rmdir("conf.d"), 0);
    cfg_free(c);
}

static void
test_file_overrides(void **state)
{
    char err[512];
    struct cfg *c = load("[server]\nworkers = 3\n"
                         "[route /a]\nexec = /bin/a\n",
                         0, err, sizeof(err));

    write_file("second.conf",
               "[route /b]\nexec = /bin/b\n[route /a]\nexec = /bin/a2\n",
               0644);
    assert_int_equal(cfg_load_file(c, "second.conf", err, sizeof(err)), 0);
    assert_int_equal(c->workers, 3);
    assert_int_equal(c->route_count, 2);
    assert_string_equal(c->routes[0].path, "/a");
    assert_string_equal(c->routes[0].argv[0], "/bin/a2");
    assert_int_equal(c->routes[0].line, 3);
    assert_string_equal(c->routes[1].path, "/b");
    cfg_free(c);
}

static void
test_split_words(void **state)
{
    static const struct {
        const char *in;
        const char *want[8]; /* NULL-terminated, or NULL with an error */
        const char *err;
    } cases[] = {
        {"a b  c", {"a", "b", "c", NULL}, NULL},
        {" \ta\t\nb\n", {"a", "b", NULL}, NULL},
        {"'a b' c", {"a b", "c", NULL}, NULL},
        {"\"a \\\"b\\\" \\$x \\` \\\\ \\n\"", {"a \"b\" $x ` \\ \\n", NULL},
         NULL},
        {"a\\ b \\'", {"a b", "'", NULL}, NULL},
        {"'' x", {"", "x", NULL}, NULL},
        {"a'b'\"c\"d", {"abcd", NULL}, NULL},
        {"'\\' \"it's\"", {"\\", "it's", NULL}, NULL},
        {"a\\\nb", {"ab", NULL}, NULL},
        {"\"a\\\nb\"", {"ab", NULL}, NULL},
        {"$HOME ~ * | ; &", {"$HOME", "~", "*", "|", ";", "&", NULL}, NULL},
        {"'abc", {NULL}, "unterminated single quote"},
        {"x \"abc", {NULL}, "unterminated double quote"},
        {"\"a\\\"", {NULL}, "unterminated double quote"},
        {"abc\\", {NULL}, "trailing backslash"},
        {"", {NULL}, "no command"},
        {" \t\n", {NULL}, "no command"},
    };
    char err[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 99, want_n = 0;
        char **w = cfg_split_words(cases[i].in, &n, err, sizeof(err));
        if (cases[i].err != NULL) {
            assert_null(w);
            assert_string_equal(err, cases[i].err);
            continue;
        }
        assert_non_null(w);
        while (cases[i].want[want_n] != NULL)
            want_n++;
        assert_int_equal(n, want_n);
        for (size_t j = 0; j < n; j++)
            assert_string_equal(w[j], cases[i].want[j]);
        assert_null(w[n]);
        cfg_argv_free(w);
    }
    cfg_argv_free(NULL);
}

/* The dashboard setting: its words, and the default's decision by the
 * listen address (on only for loopback). */
static void
test_dashboard(void **state)
{
    static const struct {
        const char *host;
        bool loopback;
    } hosts[] = {
        {"127.0.0.1", true},      {"127.1.2.3", true},
        {"127.255.255.255", true}, {"::1", true},
        {"::ffff:127.0.0.1", true}, {"0.0.0.0", false},
        {"::", false},            {"10.0.0.5", false},
        {"128.0.0.1", false},     {"126.0.0.1", false},
        {"::2", false},           {"::ffff:10.0.0.1", false},
        {"fe80::1", false},       {"localhost", false},
        {"", false},              {"127.0.0.1x", false},
    };
    static const char *words[] = {"auto", "on", "off", "read-only"};
    char err[512];

    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        if (cfg_host_is_loopback(hosts[i].host) != hosts[i].loopback)
            fail_msg("host '%s': loopback %d", hosts[i].host,
                     !hosts[i].loopback);
        assert_int_equal(cfg_dashboard_mode(DASHBOARD_AUTO, hosts[i].host),
                         hosts[i].loopback ? DASHBOARD_ON : DASHBOARD_OFF);
        /* A setting stands, whatever the address. */
        for (int m = DASHBOARD_ON; m <= DASHBOARD_READ_ONLY; m++)
            assert_int_equal(cfg_dashboard_mode(m, hosts[i].host), m);
    }
    for (int m = DASHBOARD_AUTO; m <= DASHBOARD_READ_ONLY; m++) {
        assert_string_equal(cfg_dashboard_name(m), words[m]);
        assert_int_equal(cfg_dashboard_parse(words[m]),
                         m == DASHBOARD_AUTO ? -1 : m);
    }
    assert_int_equal(cfg_dashboard_parse("On"), -1);
    assert_int_equal(cfg_dashboard_parse(""), -1);
    struct cfg *c = load("[server]\ndashboard = read-only\n", 0, err,
                         sizeof(err));
    assert_int_equal(c->dashboard, DASHBOARD_READ_ONLY);
    cfg_free(c);
    c = load("[server]\ndashboard = off\n", 0, err, sizeof(err));
    assert_int_equal(c->dashboard, DASHBOARD_OFF);
    cfg_free(c);
}

static void
test_parse_listen(void **state)
{
    static const struct {
        const char *in;
        const char *host; /* NULL: must fail */
        int port;
    } cases[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080},
        {":80", "0.0.0.0", 80},
        {"0.0.0.0:65535", "0.0.0.0", 65535},
        {"10.1.2.3:1", "10.1.2.3", 1},
        {"[::1]:8080", "::1", 8080},
        {"[::]:443", "::", 443},
        {"[2001:db8::1]:80", "2001:db8::1", 80},
        {"[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80},
        /* A name resolves (localhost from /etc/hosts), IPv4 first. */
        {"localhost:80", "127.0.0.1", 80},
        {"LocalHost:8093", "127.0.0.1", 8093},
        {"localhost:0", NULL, 0},
        {"local_host:80", NULL, 0},
        {"-localhost:80", NULL, 0},
        {"[localhost]:80", NULL, 0},
        {"127.0.0.1", NULL, 0},
        {"127.0.0.1:", NULL, 0},
        {"127.0.0.1:0", NULL, 0},
        {"127.0.0.1:65536", NULL, 0},
        {"127.0.0.1:123456", NULL, 0},
        {"127.0.0.1:8a", NULL, 0},
        {"127.0.0.1:+80", NULL, 0},
        {"127.0.0.1: 80", NULL, 0},
        {"1.2.3:80", NULL, 0},
        {"256.1.1.1:80", NULL, 0},
        {"::1:80", NULL, 0},
        {"[::1]", NULL, 0},
        {"[::1]8080", NULL, 0},
        {"[::1:8080", NULL, 0},
        {"[]:80", NULL, 0},
        {"[127.0.0.1]:80", NULL, 0},
        {"[fe80::1%lo]:80", NULL, 0},
        {"", NULL, 0},
        {":", NULL, 0},
    };
    char host[64], tiny[4];
    int port;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int r = cfg_parse_listen(cases[i].in, host, sizeof(host), &port);
        if (cases[i].host == NULL) {
            if (r != -1)
                fail_msg("'%s' accepted", cases[i].in);
            continue;
        }
        if (r != 0)
            fail_msg("'%s' rejected", cases[i].in);
        assert_string_equal(host, cases[i].host);
        assert_int_equal(port, cases[i].port);
    }
    /* A host buffer too small is an error, not a cut address. */
    assert_int_equal(cfg_parse_listen("10.0.0.1:80", tiny, sizeof(tiny),
                                      &port),
                     -1);
}

static char skipped[1024];

/* Gathers what cfg_load_scripts skipped as "NAME: WHY" lines. */
static void
skip_cb(void *arg, const char *name, const char *why)
{
    char *out = arg;
    size_t n = strlen(out);

    snprintf(out + n, sizeof(skipped) - n, "%s: %s\n", name, why);
}

static void
test_load_scripts(void **state)
{
    char err[512], *abs, want[4096];
    struct cfg *c = load("[route /kept]\nexec = /bin/kept\n", 0, err,
                         sizeof(err));

    assert_int_equal(mkdir("scripts", 0755), 0);
    write_file("scripts/hello", "#!/bin/sh\necho hi\n", 0755);
    write_file("scripts/page.php", "<?php echo 1;\n", 0644);
    write_file("scripts/data.txt", "not a script\n", 0644);
    write_file("scripts/.hidden", "#!/bin/sh\n", 0755);
    write_file("scripts/bad name", "#!/bin/sh\n", 0755);
    write_file("scripts/kept", "#!/bin/sh\n", 0755);
    assert_int_equal(mkdir("scripts/sub", 0755), 0);
    abs = realpath("scripts", NULL);
    assert_non_null(abs);

    skipped[0] = '\0';
    assert_int_equal(cfg_load_scripts(c, "scripts", skip_cb, skipped, err,
                                      sizeof(err)),
                     0);
    /* Every file that is no route is told, with why, in name order. */
    assert_string_equal(
        skipped,
        ".hidden: a hidden file\n"
        "bad name: its name has characters other than letters, digits, "
        "'.', '_' and '-'\n"
        "data.txt: not executable (chmod +x it, or name it NAME.php)\n"
        "kept: its route is configured in the config file, which wins\n"
        "sub: not a regular file\n");
    assert_int_equal(c->route_count, 3);
    /* The config file's route keeps precedence. */
    assert_string_equal(c->routes[0].path, "/kept");
    assert_string_equal(c->routes[0].argv[0], "/bin/kept");

    assert_string_equal(c->routes[1].path, "/hello");
    snprintf(want, sizeof(want), "%s/hello", abs);
    assert_int_equal(c->routes[1].argc, 1);
    assert_string_equal(c->routes[1].argv[0], want);
    assert_null(c->routes[1].argv[1]);
    assert_string_equal(c->routes[1].script_filename, want);
    assert_int_equal(c->routes[1].mode, ROUTE_DETACH);
    assert_int_equal(c->routes[1].time_limit, -1);
    assert_int_equal(c->routes[1].abort, ROUTE_ABORT_WRITE);
    assert_int_equal(c->routes[1].envc, 0);

    assert_string_equal(c->routes[2].path, "/page.php");
    snprintf(want, sizeof(want), "%s/page.php", abs);
    assert_int_equal(c->routes[2].argc, 2);
    assert_string_equal(c->routes[2].argv[0], "php-cgi");
    assert_string_equal(c->routes[2].argv[1], want);
    assert_string_equal(c->routes[2].script_filename, want);

    assert_int_equal(
        cfg_load_scripts(c, "nowhere", NULL, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "nowhere: No such file or directory");
    assert_int_equal(c->route_count, 3);
    free(abs);
    cfg_free(c);
}

/* Removes path and, if it is a directory, everything under it. */
static int
remove_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char sub[4096];
    int r = 0;

    if (lstat(path, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (remove_tree(sub) < 0)
            r = -1;
    }
    closedir(d);
    return rmdir(path) < 0 ? -1 : r;
}

static int
group_setup(void **state)
{
    if (getcwd(oldcwd, sizeof(oldcwd)) == NULL || mkdtemp(tmpdir) == NULL)
        return -1;
    return chdir(tmpdir);
}

static int
group_teardown(void **state)
{
    int r = chdir(oldcwd);

    if (remove_tree(tmpdir) < 0)
        return -1;
    return r;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_product_example),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_bom_crlf),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_unopenable),
        cmocka_unit_test(test_file_overrides),
        cmocka_unit_test(test_split_words),
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test(test_dashboard),
        cmocka_unit_test(test_load_scripts),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
