/* SPDX-License-Identifier: MIT */
/* kickd's configuration: the INI file read with inih (through a line reader
 * of our own, so that every message has its line) and the defaults. */
#include "cfg.h"
#include "cfg_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "kick_limits.h"

#define CFG_REASON_MAX 512
#define CFG_SECTION_MAX 256

enum cfg_key_kind {
    KEY_STRING,  /* non-empty string */
    KEY_LISTEN,  /* cfg_parse_listen */
    KEY_DIR,     /* an existing directory */
    KEY_INT,     /* integer in lo..hi */
    KEY_MS,      /* seconds in lo..hi, stored in ms */
    KEY_SIZE,    /* bytes in lo..hi with a k, m or g suffix */
    KEY_DURATION, /* cfg_parse_duration, at most hi ms, stored in ms */
    KEY_BOOL,    /* on/off, yes/no, true/false, 1/0 */
    KEY_WORD,    /* one of the key's words, stored as its enum value */
    KEY_COMMAND, /* split into argv when its section ends */
    KEY_ENV,     /* NAME=VALUE, may repeat */
    KEY_FASTCGI, /* unix:/ABSOLUTE/PATH or HOST:PORT */
    KEY_URL,     /* http:// or https:// URL */
    KEY_FILE,    /* an absolute path */
};

/* A word an enum key takes, and its value. */
struct cfg_word {
    const char *word;
    int value;
};

struct cfg_key {
    const char *name;
    enum cfg_key_kind kind;
    long long lo, hi;
    size_t offset; /* into struct cfg or struct cfg_route */
};

static const struct cfg_word mode_words[] = {
    {"detach", ROUTE_DETACH}, {"attach", ROUTE_ATTACH},
    {"auto", ROUTE_AUTO},     {NULL, 0},
};
static const struct cfg_word php_words[] = {
    {"auto", ROUTE_PHP_AUTO},
    {"on", ROUTE_PHP_ON},
    {"off", ROUTE_PHP_OFF},
    {NULL, 0},
};
static const struct cfg_word abort_words[] = {
    {"write", ROUTE_ABORT_WRITE},
    {"hangup", ROUTE_ABORT_HANGUP},
    {NULL, 0},
};

static const struct cfg_word dashboard_words[] = {
    {"on", DASHBOARD_ON},
    {"off", DASHBOARD_OFF},
    {"read-only", DASHBOARD_READ_ONLY},
    {NULL, 0},
};

/* The words of each KEY_WORD key, NULL-ended, in the order its error
 * message lists them. */
static const struct {
    const char *key;
    const struct cfg_word *words;
} key_words[] = {
    {"mode", mode_words},
    {"php_mode", php_words},
    {"abort", abort_words},
    {"dashboard", dashboard_words},
};

static const struct cfg_key server_keys[] = {
    {"listen", KEY_LISTEN, 0, 0, offsetof(struct cfg, listen)},
    {"db", KEY_STRING, 0, 0, offsetof(struct cfg, db)},
    {"workers", KEY_INT, 1, 1024, offsetof(struct cfg, workers)},
    {"token", KEY_STRING, 0, 0, offsetof(struct cfg, token)},
    {"scripts", KEY_DIR, 0, 0, offsetof(struct cfg, scripts)},
    {"header_timeout", KEY_MS, 1, 86400,
     offsetof(struct cfg, header_timeout)},
    {"body_timeout", KEY_MS, 1, 86400, offsetof(struct cfg, body_timeout)},
    {"idle_timeout", KEY_MS, 1, 86400, offsetof(struct cfg, idle_timeout)},
    {"max_body", KEY_SIZE, 1, 1LL << 40, offsetof(struct cfg, max_body)},
    {"max_connections", KEY_INT, 1, 1000000,
     offsetof(struct cfg, max_connections)},
    {"kill_grace", KEY_MS, 0, 3600, offsetof(struct cfg, kill_grace)},
    {"stop_grace", KEY_MS, 0, 3600, offsetof(struct cfg, stop_grace)},
    {"shutdown_timeout", KEY_MS, 1, 86400,
     offsetof(struct cfg, shutdown_timeout)},
    {"output_cap", KEY_SIZE, 0, 1LL << 30, offsetof(struct cfg, output_cap)},
    {"response_hold_ms", KEY_INT, 0, 1000,
     offsetof(struct cfg, response_hold)},
    {"max_interruptions", KEY_INT, 1, 1000,
     offsetof(struct cfg, max_interruptions)},
    {"access_log", KEY_STRING, 0, 0, offsetof(struct cfg, access_log)},
    {"keep", KEY_DURATION, 0, JOB_MAX_KEEP, offsetof(struct cfg, keep)},
    {"dashboard", KEY_WORD, 0, 0, offsetof(struct cfg, dashboard)},
    {"lease", KEY_MS, 3, 3600, offsetof(struct cfg, lease)},
    {"lease_renew", KEY_MS, 1, 600, offsetof(struct cfg, lease_renew)},
    {"poll", KEY_MS, 1, 600, offsetof(struct cfg, poll)},
};

static const struct cfg_key route_keys[] = {
    {"exec", KEY_COMMAND, 0, 0, offsetof(struct cfg_route, argv)},
    {"mode", KEY_WORD, 0, 0, offsetof(struct cfg_route, mode)},
    {"time_limit", KEY_INT, 0, 86400, offsetof(struct cfg_route, time_limit)},
    {"ignore_user_abort", KEY_BOOL, 0, 0,
     offsetof(struct cfg_route, ignore_user_abort)},
    {"on_shutdown", KEY_COMMAND, 0, 0,
     offsetof(struct cfg_route, on_shutdown)},
    {"php_mode", KEY_WORD, 0, 0, offsetof(struct cfg_route, php_mode)},
    {"abort", KEY_WORD, 0, 0, offsetof(struct cfg_route, abort)},
    {"env", KEY_ENV, 0, 0, 0},
    {"concurrency", KEY_INT, 0, 100000,
     offsetof(struct cfg_route, concurrency)},
    {"retries", KEY_INT, 0, 100, offsetof(struct cfg_route, retries)},
    {"keep", KEY_DURATION, 0, JOB_MAX_KEEP, offsetof(struct cfg_route, keep)},
    {"fastcgi", KEY_FASTCGI, 0, 0, offsetof(struct cfg_route, fastcgi)},
    {"script", KEY_FILE, 0, 0, offsetof(struct cfg_route, script_filename)},
    {"forward", KEY_URL, 0, 0, offsetof(struct cfg_route, forward)},
};

#define N_SERVER_KEYS (sizeof(server_keys) / sizeof(server_keys[0]))
#define N_ROUTE_KEYS (sizeof(route_keys) / sizeof(route_keys[0]))

enum cfg_section { SECT_NONE, SECT_SERVER, SECT_ROUTE, SECT_SKIP };

/* A command key (exec, on_shutdown) of the route being read: its text grows
 * with continuation lines and is split when the section ends. */
struct cfg_command {
    char *text;
    int line;
};

/* One cfg_load_file: what was read so far, applied to the cfg only when the
 * whole file is good. */
struct cfg_parse {
    const char *path;
    FILE *f;
    char *line; /* getline buffer */
    size_t linecap;
    int lineno;    /* line last given to inih */
    bool indented; /* that line starts with a blank */
    bool prev_key; /* inih's "previous name": indented lines continue it */
    const struct cfg_key *last_key;
    enum cfg_section sect;
    char sect_name[CFG_SECTION_MAX];
    int server_line;           /* 0 until [server] is seen */
    bool server_seen[N_SERVER_KEYS];
    bool route_seen[N_ROUTE_KEYS];
    struct cfg_command exec, on_shutdown;
    struct cfg t;              /* values read; routes of this file */
    int read_errno;            /* of a failed read, else 0 */
    int err_line;              /* 0: no error so far */
    char reason[CFG_REASON_MAX];
};

static void
cfg_fail(struct cfg_parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps the error of the lowest line: command keys are checked only when
 * their section ends, after later lines were read. */
static void
cfg_fail(struct cfg_parse *p, int line, const char *fmt, ...)
{
    va_list ap;

    if (p->err_line != 0 && p->err_line <= line)
        return;
    p->err_line = line;
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
    va_end(ap);
}

void
cfg__route_close(struct cfg_route *r)
{
    free(r->path);
    cfg_argv_free(r->argv);
    free(r->script_filename);
    free(r->fastcgi);
    free(r->forward);
    cfg_argv_free(r->on_shutdown);
    cfg_argv_free(r->env);
    memset(r, 0, sizeof(*r));
}

/* Sets PRODUCT.md's defaults; takes ownership of path. Returns 0 or -1. */
int
cfg__route_init(struct cfg_route *r, char *path)
{
    memset(r, 0, sizeof(*r));
    r->path = path;
    r->mode = ROUTE_DETACH;
    r->time_limit = -1; /* by how it runs: none detached, 30 s attached */
    r->keep = -1;       /* the [server] keep */
    r->env = calloc(1, sizeof(char *));
    return r->env == NULL ? -1 : 0;
}

struct cfg *
cfg_new(void)
{
    struct cfg *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->listen = strdup("127.0.0.1:8080");
    c->db = strdup("./kick.db");
    c->access_log = strdup("stderr");
    c->workers = 8;
    c->header_timeout = CONN_DEFAULT_HEADER_TIMEOUT;
    c->body_timeout = CONN_DEFAULT_BODY_TIMEOUT;
    c->idle_timeout = CONN_DEFAULT_IDLE_TIMEOUT;
    c->max_body = HTTP_DEFAULT_MAX_BODY;
    c->max_connections = SRV_DEFAULT_MAX_CONNECTIONS;
    c->kill_grace = CGI_DEFAULT_KILL_GRACE;
    c->shutdown_timeout = RUN_DEFAULT_SHUTDOWN_TIMEOUT;
    c->output_cap = JOB_DEFAULT_OUTPUT_CAP;
    c->response_hold = CONN_DEFAULT_RESPONSE_HOLD;
    c->stop_grace = SRV_DEFAULT_STOP_GRACE;
    c->lease = JOB_DEFAULT_LEASE;
    c->lease_renew = JOB_DEFAULT_LEASE_RENEW;
    c->poll = JOB_DEFAULT_POLL;
    c->max_interruptions = JOB_DEFAULT_MAX_INTERRUPTIONS;
    c->keep = JOB_DEFAULT_KEEP;
    if (c->listen == NULL || c->db == NULL || c->access_log == NULL) {
        cfg_free(c);
        return NULL;
    }
    return c;
}

static void
cfg_close(struct cfg *c)
{
    free(c->listen);
    free(c->db);
    free(c->token);
    free(c->scripts);
    free(c->access_log);
    for (size_t i = 0; i < c->route_count; i++)
        cfg__route_close(&c->routes[i]);
    free(c->routes);
}

void
cfg_free(struct cfg *c)
{
    if (c == NULL)
        return;
    cfg_close(c);
    free(c);
}

struct cfg_route *
cfg__find_route(struct cfg *c, const char *path)
{
    for (size_t i = 0; i < c->route_count; i++)
        if (strcmp(c->routes[i].path, path) == 0)
            return &c->routes[i];
    return NULL;
}

/* Grows c->routes by one zeroed slot. Returns it, or NULL on ENOMEM. */
struct cfg_route *
cfg__add_route(struct cfg *c)
{
    struct cfg_route *r;

    r = realloc(c->routes, (c->route_count + 1) * sizeof(*r));
    if (r == NULL)
        return NULL;
    c->routes = r;
    r = &c->routes[c->route_count++];
    memset(r, 0, sizeof(*r));
    return r;
}

/* Parses decimal digits (no sign, no blanks) into *out. Returns 0 or -1. */
static int
cfg_parse_int(const char *s, size_t n, long long *out)
{
    long long v = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int
cfg_parse_size(const char *s, long long *out)
{
    size_t n = strlen(s);
    int shift = 0;

    if (n > 0) {
        switch (s[n - 1]) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        }
    }
    if (shift > 0)
        n--;
    if (cfg_parse_int(s, n, out) < 0 || *out > (INT64_MAX >> shift))
        return -1;
    *out <<= shift;
    return 0;
}

static int
cfg_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return -1;
}

static bool
cfg_env_is_valid(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return false;
    for (s++; *s != '=' && *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return *s == '=';
}

/* Checks the path of "[route /PATH]": no blanks, query, fragment or ".."
 * segment, so that it can only match what it says. */
static bool
cfg_route_path_is_valid(const char *path)
{
    if (path[0] != '/')
        return false;
    for (const char *s = path; *s != '\0'; s++) {
        if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '?' || *s == '#')
            return false;
        if (s[0] == '/' && s[1] == '.' && s[2] == '.' &&
            (s[3] == '/' || s[3] == '\0'))
            return false;
    }
    return true;
}

static char *
cfg_strdup(struct cfg_parse *p, const char *s)
{
    char *d = strdup(s);

    if (d == NULL)
        cfg_fail(p, p->lineno, "out of memory");
    return d;
}

/* Splits a command key of the route being closed into its argv. */
static char **
cfg_split_command(struct cfg_parse *p, const char *key,
                  struct cfg_command *cmd, size_t *argc)
{
    char why[64];
    char **argv = cfg_split_words(cmd->text, argc, why, sizeof(why));

    if (argv == NULL)
        cfg_fail(p, cmd->line, "%s: %s", key, why);
    return argv;
}

/* Exactly one runner per route: exec, fastcgi (with its script) or
 * forward. */
static void
cfg_end_runner(struct cfg_parse *p, struct cfg_route *r)
{
    int n = (p->exec.text != NULL) + (r->fastcgi != NULL) +
            (r->forward != NULL);

    r->runner = r->fastcgi   ? ROUTE_FASTCGI
                : r->forward ? ROUTE_FORWARD
                             : ROUTE_EXEC;
    /* A bad runner key of the section says more than its absence. */
    if (p->err_line > r->line)
        return;
    if (n == 0)
        cfg_fail(p, r->line,
                 "[route %s] has no runner: exec, fastcgi or forward",
                 r->path);
    else if (n > 1)
        cfg_fail(p, r->line,
                 "[route %s] has more than one of exec, fastcgi and forward",
                 r->path);
    else if (r->fastcgi && r->script_filename == NULL)
        cfg_fail(p, r->line, "[route %s] has fastcgi but no script",
                 r->path);
    else if (r->script_filename && r->fastcgi == NULL)
        cfg_fail(p, r->line,
                 "[route %s] has a script but no fastcgi (exec names its "
                 "script itself)",
                 r->path);
}

static void
cfg_end_route(struct cfg_parse *p)
{
    struct cfg_route *r = &p->t.routes[p->t.route_count - 1];

    cfg_end_runner(p, r);
    if (p->exec.text != NULL && r->runner == ROUTE_EXEC) {
        r->argv = cfg_split_command(p, "exec", &p->exec, &r->argc);
        if (r->argv != NULL && r->argv[0][0] == '\0')
            cfg_fail(p, p->exec.line, "exec: empty program name");
        if (r->argv != NULL)
            r->script_filename = cfg_strdup(p, r->argv[r->argc - 1]);
    }
    if (p->on_shutdown.text != NULL)
        r->on_shutdown =
            cfg_split_command(p, "on_shutdown", &p->on_shutdown, NULL);
    free(p->exec.text);
    free(p->on_shutdown.text);
    memset(&p->exec, 0, sizeof(p->exec));
    memset(&p->on_shutdown, 0, sizeof(p->on_shutdown));
}

static void
cfg_begin_route(struct cfg_parse *p, const char *name)
{
    const char *path = name + strlen("route ");
    struct cfg_route *r;
    char *copy;

    if (strncmp(name, "route ", 6) != 0 || !cfg_route_path_is_valid(path)) {
        cfg_fail(p, p->lineno,
                 "bad route section [%s]: expected [route /PATH], the path "
                 "without blanks, '?', '#' or '..' segments",
                 name);
        return;
    }
    r = cfg__find_route(&p->t, path);
    if (r != NULL) {
        cfg_fail(p, p->lineno, "duplicate route [%s] (first at line %d)",
                 name, r->line);
        return;
    }
    if (p->t.route_count >= CFG_MAX_ROUTES) {
        cfg_fail(p, p->lineno, "more than %d routes", CFG_MAX_ROUTES);
        return;
    }
    copy = cfg_strdup(p, path);
    r = copy == NULL ? NULL : cfg__add_route(&p->t);
    if (r == NULL || cfg__route_init(r, copy) < 0) {
        if (r == NULL)
            free(copy);
        cfg_fail(p, p->lineno, "out of memory");
        return;
    }
    r->line = p->lineno;
    memset(p->route_seen, 0, sizeof(p->route_seen));
    p->sect = SECT_ROUTE;
}

/* A section header, seen by the reader before inih parses it: inih tells
 * the handler neither a section's line nor about sections without keys. */
static void
cfg_begin_section(struct cfg_parse *p, const char *name, size_t n)
{
    if (p->sect == SECT_ROUTE)
        cfg_end_route(p);
    p->prev_key = false;
    p->sect = SECT_SKIP;
    if (n >= sizeof(p->sect_name)) {
        cfg_fail(p, p->lineno, "section name too long");
        return;
    }
    memcpy(p->sect_name, name, n);
    p->sect_name[n] = '\0';
    if (strcmp(p->sect_name, "server") == 0) {
        if (p->server_line != 0)
            cfg_fail(p, p->lineno,
                     "duplicate section [server] (first at line %d)",
                     p->server_line);
        else
            p->server_line = p->lineno;
        p->sect = SECT_SERVER;
    } else if (strcmp(p->sect_name, "route") == 0 ||
               strncmp(p->sect_name, "route ", 6) == 0) {
        cfg_begin_route(p, p->sect_name);
    } else {
        cfg_fail(p, p->lineno, "unknown section [%s]", p->sect_name);
    }
}

/* Like inih's own scan: stops at a char of chars, or at an inline comment
 * (';' after a blank), or at the end. */
static const char *
cfg_find_chars(const char *s, const char *chars)
{
    bool was_space = false;

    while (*s != '\0' && strchr(chars, *s) == NULL &&
           !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

/* Reads one line for inih (an ini_reader), counting lines and noting what
 * inih is about to see: a section header, a key line, a continuation. */
static char *
cfg_read_line_cb(char *buf, int num, void *user)
{
    struct cfg_parse *p = user;
    ssize_t n = getline(&p->line, &p->linecap, p->f);
    const char *s;
    size_t len;

    if (n < 0) {
        p->read_errno = ferror(p->f) ? errno : 0;
        return NULL;
    }
    p->lineno++;
    len = (size_t)n;
    if (memchr(p->line, '\0', len) != NULL)
        cfg_fail(p, p->lineno, "NUL byte in line");
    while (len > 0 && (p->line[len - 1] == '\n' || p->line[len - 1] == '\r'))
        len--;
    p->line[len] = '\0';
    /* inih needs room for "\r\n\0" besides the text. */
    if (num < 4 || len > (size_t)num - 3) {
        cfg_fail(p, p->lineno, "line longer than %d bytes", num - 3);
        p->line[0] = '\0';
        len = 0;
    }
    memcpy(buf, p->line, len);
    memcpy(buf + len, "\n", 2);
    s = p->line;
    if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    p->indented = isspace((unsigned char)*s);
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0' || *s == ';' || *s == '#' || (p->indented && p->prev_key))
        return buf;
    if (*s == '[') {
        const char *end = cfg_find_chars(s + 1, "]");
        if (*end != ']')
            cfg_fail(p, p->lineno, "no ']' after section name");
        else
            cfg_begin_section(p, s + 1, (size_t)(end - s - 1));
    } else if (*cfg_find_chars(s, "=:") != '=' &&
               *cfg_find_chars(s, "=:") != ':') {
        cfg_fail(p, p->lineno, "expected NAME = VALUE or [SECTION]");
    }
    return buf;
}

static const struct cfg_key *
cfg_find_key(const struct cfg_key *keys, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/* Replaces the string at field with a copy of v. 0, or -1 after
 * cfg_fail. */
static int
cfg_set_string(struct cfg_parse *p, char **field, const char *v)
{
    free(*field);
    *field = cfg_strdup(p, v);
    return *field == NULL ? -1 : 0;
}

/* A FastCGI pool's address: unix:/ABSOLUTE/PATH, or HOST:PORT with a port
 * of 1..65535 (the host is resolved when kickd connects). */
bool
cfg_fastcgi_address_is_valid(const char *v)
{
    if (strncmp(v, "unix:", 5) == 0)
        return v[5] == '/' && strlen(v + 5) < 108; /* sun_path */
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v || colon[1] == '\0')
        return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return *end == '\0' && port >= 1 && port <= 65535 &&
           strcspn(v, " \t") == strlen(v);
}

/* An http:// or https:// URL with a host, as libcurl will parse it when
 * the job runs (so that a port out of range stops kickd at start, not each
 * job), without blanks. */
static bool
cfg_url_is_valid(const char *v)
{
    size_t scheme = strncmp(v, "http://", 7) == 0    ? 7
                    : strncmp(v, "https://", 8) == 0 ? 8
                                                     : 0;
    /* libcurl would take http:///b for the host b. */
    bool ok = scheme > 0 && v[scheme] != '\0' && v[scheme] != '/' &&
              v[scheme] != ':' && strcspn(v, " \t\r\n") == strlen(v);
    CURLU *u = ok ? curl_url() : NULL;
    char *host = NULL;

    ok = u && curl_url_set(u, CURLUPART_URL, v, 0) == CURLUE_OK &&
         curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
         host[0] != '\0';
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* Stores the value of the word v of key k (an enum) at field. 0, or -1
 * after cfg_fail listing the words. */
static int
cfg_set_word(struct cfg_parse *p, const struct cfg_key *k, int *field,
             const char *v)
{
    const struct cfg_word *words = NULL;
    char list[128];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(key_words) / sizeof(key_words[0]); i++)
        if (strcmp(key_words[i].key, k->name) == 0)
            words = key_words[i].words;
    for (const struct cfg_word *w = words; w->word; w++) {
        if (strcmp(v, w->word) == 0) {
            *field = w->value;
            return 0;
        }
    }
    for (const struct cfg_word *w = words; w->word && n < sizeof(list); w++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
                              w == words ? ""
                              : w[1].word   ? ", "
                                            : " or ",
                              w->word);
    cfg_fail(p, p->lineno, "%s: not %s: '%s'", k->name, list, v);
    return -1;
}

/* Stores a place to reach (a FastCGI pool, a URL, a file) after checking
 * its form. 0, or -1 after cfg_fail. */
static int
cfg_set_place(struct cfg_parse *p, const struct cfg_key *k, char **field,
              const char *v)
{
    const char *want = NULL;

    if (k->kind == KEY_FASTCGI && !cfg_fastcgi_address_is_valid(v))
        want = "unix:/ABSOLUTE/PATH or HOST:PORT";
    else if (k->kind == KEY_URL && !cfg_url_is_valid(v))
        want = "an http:// or https:// URL with a host";
    else if (k->kind == KEY_FILE && v[0] != '/')
        want = "an absolute path";
    if (want) {
        cfg_fail(p, p->lineno, "%s: not %s: '%s'", k->name, want, v);
        return -1;
    }
    return cfg_set_string(p, field, v);
}

/* Stores value of key k into base (a struct cfg or cfg_route). Returns 0
 * or -1 after cfg_fail. */
static int
cfg_set(struct cfg_parse *p, const struct cfg_key *k, void *base,
        const char *v)
{
    char *field = (char *)base + k->offset;
    long long num;
    char host[INET6_ADDRSTRLEN];
    int port;
    struct stat st;

    switch (k->kind) {
    case KEY_LISTEN:
        if (cfg_parse_listen(v, host, sizeof(host), &port) < 0) {
            cfg_fail(p, p->lineno,
                     "listen: not HOST:PORT, IPV4:PORT, [IPV6]:PORT or "
                     ":PORT with a port in 1..65535 and a host that "
                     "resolves: '%s'",
                     v);
            return -1;
        }
        /* fall through */
    case KEY_STRING:
        if (*v == '\0') {
            cfg_fail(p, p->lineno, "%s: empty value", k->name);
            return -1;
        }
        return cfg_set_string(p, (char **)field, v);
    case KEY_DIR:
        errno = ENOTDIR;
        if (*v == '\0' || stat(v, &st) < 0 || !S_ISDIR(st.st_mode)) {
            cfg_fail(p, p->lineno, "%s: '%s': %s", k->name, v,
                     strerror(*v == '\0' ? ENOENT : errno));
            return -1;
        }
        free(*(char **)field);
        *(char **)field = cfg_strdup(p, v);
        return *(char **)field == NULL ? -1 : 0;
    case KEY_INT:
    case KEY_MS:
        if (cfg_parse_int(v, strlen(v), &num) < 0 || num < k->lo ||
            num > k->hi) {
            cfg_fail(p, p->lineno, "%s: not a number in %lld..%lld: '%s'",
                     k->name, k->lo, k->hi, v);
            return -1;
        }
        *(int *)field = (int)(k->kind == KEY_MS ? num * 1000 : num);
        return 0;
    case KEY_SIZE:
        if (cfg_parse_size(v, &num) < 0 || num < k->lo || num > k->hi) {
            cfg_fail(p, p->lineno,
                     "%s: not a size in %lld..%lld bytes (or with k, m, g): "
                     "'%s'",
                     k->name, k->lo, k->hi, v);
            return -1;
        }
        *(int64_t *)field = num;
        return 0;
    case KEY_DURATION:
        if (cfg_parse_duration(v, k->hi, (int64_t *)field) < 0) {
            cfg_fail(p, p->lineno,
                     "%s: not a duration of at most %lld days (digits with "
                     "s, m, h or d; bare digits are seconds; 0 for ever): "
                     "'%s'",
                     k->name, k->hi / 86400000, v);
            return -1;
        }
        return 0;
    case KEY_BOOL:
        if (cfg_parse_bool(v, (bool *)field) < 0) {
            cfg_fail(p, p->lineno,
                     "%s: not on/off, yes/no, true/false or 1/0: '%s'",
                     k->name, v);
            return -1;
        }
        return 0;
    case KEY_WORD:
        return cfg_set_word(p, k, (int *)field, v);
    case KEY_FASTCGI:
    case KEY_URL:
    case KEY_FILE:
        return cfg_set_place(p, k, (char **)field, v);
    case KEY_COMMAND:
    case KEY_ENV:
        break;
    }
    return -1;
}

static int
cfg_route_key(struct cfg_parse *p, const struct cfg_key *k, const char *v)
{
    struct cfg_route *r = &p->t.routes[p->t.route_count - 1];
    struct cfg_command *cmd;
    char *s;

    switch (k->kind) {
    case KEY_COMMAND:
        cmd = k->offset == offsetof(struct cfg_route, argv) ? &p->exec
                                                             : &p->on_shutdown;
        cmd->text = cfg_strdup(p, v);
        cmd->line = p->lineno;
        return cmd->text == NULL ? -1 : 0;
    case KEY_ENV:
        if (!cfg_env_is_valid(v)) {
            cfg_fail(p, p->lineno,
                     "env: not NAME=VALUE, NAME of letters, digits and '_' "
                     "not starting with a digit: '%s'",
                     v);
            return -1;
        }
        s = cfg_strdup(p, v);
        if (s == NULL || cfg__words_push(&r->env, &r->envc, s) < 0) {
            cfg_fail(p, p->lineno, "out of memory");
            return -1;
        }
        return 0;
    default:
        return cfg_set(p, k, r, v);
    }
}

/* An indented line after a key continues its value (INI_ALLOW_MULTILINE).
 * Only a command may span lines: it is joined as a shell joins lines. */
static int
cfg_continue(struct cfg_parse *p, const char *name, const char *v)
{
    const struct cfg_key *k = p->last_key;
    struct cfg_command *cmd;
    const char *end;
    char *joined;
    size_t n;

    if (v[0] == '[' && p->sect != SECT_SKIP) {
        /* inih reads it as more of the value, not as a section. */
        cfg_fail(p, p->lineno,
                 "indented section header continues '%s': unindent it",
                 name);
        return 0;
    }
    if (k == NULL || k->kind != KEY_COMMAND || p->sect != SECT_ROUTE) {
        if (p->sect != SECT_SKIP)
            cfg_fail(p, p->lineno,
                     "indented line continues '%s', which takes one line",
                     name);
        return p->sect == SECT_SKIP;
    }
    cmd = k->offset == offsetof(struct cfg_route, argv) ? &p->exec
                                                         : &p->on_shutdown;
    if (cmd->text == NULL)
        return 0;
    /* This inih keeps inline comments on continuation lines; drop them as
     * on the first line. */
    end = cfg_find_chars(v, "");
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    n = strlen(cmd->text);
    joined = realloc(cmd->text, n + 1 + (size_t)(end - v) + 1);
    if (joined == NULL) {
        cfg_fail(p, p->lineno, "out of memory");
        return 0;
    }
    joined[n] = ' ';
    memcpy(joined + n + 1, v, (size_t)(end - v));
    joined[n + 1 + (size_t)(end - v)] = '\0';
    cmd->text = joined;
    return 1;
}

/* The ini_handler: section is ignored, since the reader knows it whole
 * (inih cuts long names). */
static int
cfg_key_cb(void *user, const char *section, const char *name,
           const char *value)
{
    struct cfg_parse *p = user;
    const struct cfg_key *k;
    bool *seen;

    if (p->indented && p->prev_key)
        return cfg_continue(p, name, value);
    p->prev_key = true;
    p->last_key = NULL;
    switch (p->sect) {
    case SECT_NONE:
        cfg_fail(p, p->lineno, "key '%s' outside a section", name);
        return 0;
    case SECT_SKIP:
        return 1; /* the section header has its error */
    case SECT_SERVER:
        k = cfg_find_key(server_keys, N_SERVER_KEYS, name);
        seen = k == NULL ? NULL : &p->server_seen[k - server_keys];
        break;
    case SECT_ROUTE:
    default:
        k = cfg_find_key(route_keys, N_ROUTE_KEYS, name);
        seen = k == NULL ? NULL : &p->route_seen[k - route_keys];
        break;
    }
    if (k == NULL) {
        cfg_fail(p, p->lineno, "unknown key '%s' in [%s]", name,
                 p->sect_name);
        return 0;
    }
    if (*seen && k->kind != KEY_ENV) {
        cfg_fail(p, p->lineno, "duplicate key '%s' in [%s]", name,
                 p->sect_name);
        return 0;
    }
    *seen = true;
    p->last_key = k;
    if (p->sect == SECT_SERVER)
        return cfg_set(p, k, &p->t, value) == 0;
    return cfg_route_key(p, k, value) == 0;
}

/* Moves what the file set into c: server keys it named, and its routes,
 * which replace c's routes of the same path. */
static void
cfg_apply(struct cfg_parse *p, struct cfg *c)
{
    for (size_t i = 0; i < N_SERVER_KEYS; i++) {
        char *dst = (char *)c + server_keys[i].offset;
        char *src = (char *)&p->t + server_keys[i].offset;
        if (!p->server_seen[i])
            continue;
        switch (server_keys[i].kind) {
        case KEY_STRING:
        case KEY_LISTEN:
        case KEY_DIR:
            free(*(char **)dst);
            *(char **)dst = *(char **)src;
            *(char **)src = NULL;
            break;
        case KEY_SIZE:
        case KEY_DURATION:
            *(int64_t *)dst = *(int64_t *)src;
            break;
        default:
            *(int *)dst = *(int *)src;
            break;
        }
    }
    for (size_t i = 0; i < p->t.route_count; i++) {
        struct cfg_route *r = cfg__find_route(c, p->t.routes[i].path);
        if (r != NULL)
            cfg__route_close(r);
        else
            r = &c->routes[c->route_count++]; /* reserved by the caller */
        *r = p->t.routes[i];
        memset(&p->t.routes[i], 0, sizeof(p->t.routes[i]));
    }
}

/* Makes room in c for the routes of the file, so that cfg_apply cannot
 * fail half-way. Returns 0, or -1 after cfg_fail. */
static int
cfg_reserve(struct cfg_parse *p, struct cfg *c)
{
    size_t total = c->route_count;
    struct cfg_route *a;

    for (size_t i = 0; i < p->t.route_count; i++) {
        if (cfg__find_route(c, p->t.routes[i].path) != NULL)
            continue;
        if (++total > CFG_MAX_ROUTES) {
            cfg_fail(p, p->t.routes[i].line, "more than %d routes",
                     CFG_MAX_ROUTES);
            return -1;
        }
    }
    if (total == c->route_count)
        return 0;
    a = realloc(c->routes, total * sizeof(*a));
    if (a == NULL) {
        cfg_fail(p, p->lineno, "out of memory");
        return -1;
    }
    c->routes = a;
    return 0;
}

int
cfg_dashboard_parse(const char *word)
{
    for (const struct cfg_word *w = dashboard_words; w->word; w++)
        if (strcmp(word, w->word) == 0)
            return w->value;
    return -1;
}

const char *
cfg_dashboard_name(int mode)
{
    for (const struct cfg_word *w = dashboard_words; w->word; w++)
        if (mode == w->value)
            return w->word;
    return "auto";
}

int
cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
    struct cfg_parse p;
    int r, rc = -1;

    memset(&p, 0, sizeof(p));
    p.path = path;
    p.f = fopen(path, "r");
    if (p.f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    r = ini_parse_stream(cfg_read_line_cb, &p, cfg_key_cb, &p);
    if (p.read_errno != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(p.read_errno));
        goto out;
    }
    if (p.sect == SECT_ROUTE)
        cfg_end_route(&p);
    if (r > 0 && (p.err_line == 0 || r < p.err_line))
        cfg_fail(&p, r, "not a [SECTION] or NAME = VALUE line");
    else if (r < 0)
        cfg_fail(&p, p.lineno, "out of memory");
    if (p.err_line == 0 && cfg_reserve(&p, c) == 0)
        cfg_apply(&p, c);
    if (p.err_line != 0) {
        snprintf(err, errlen, "%s:%d: %s", path, p.err_line, p.reason);
        goto out;
    }
    rc = 0;
out:
    free(p.exec.text);
    free(p.on_shutdown.text);
    cfg_close(&p.t);
    free(p.line);
    fclose(p.f);
    return rc;
}
