/* SPDX-License-Identifier: MIT */
/* The control endpoint behind KICK_CONTROL: `kick ctl` (and libkick's
 * kick_ctl_*) changes its own run's connection handling, as PHP's
 * ignore_user_abort(), set_time_limit(), connection_status() and
 * register_shutdown_function() do. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "run.h"
#include "srv.h"

static void
reply(struct ctl_reply *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reply(struct ctl_reply *out, int status, const char *fmt, ...)
{
    va_list ap;

    out->status = status;
    va_start(ap, fmt);
    int n = vsnprintf(out->text, sizeof(out->text), fmt, ap);
    va_end(ap);
    out->len = n < 0 ? 0
               : (size_t)n >= sizeof(out->text) ? sizeof(out->text) - 1
                                                 : (size_t)n;
}

/* A body of "on"/"off" (also 1/0, true/false, yes/no), blanks trimmed. */
static int
bool_parse(const char *b, size_t n, bool *on)
{
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' '))
        n--;
    static const char *const yes[] = {"on", "1", "true", "yes"};
    static const char *const no[] = {"off", "0", "false", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (strlen(yes[i]) == n && strncmp(b, yes[i], n) == 0) {
            *on = true;
            return 0;
        }
        if (strlen(no[i]) == n && strncmp(b, no[i], n) == 0) {
            *on = false;
            return 0;
        }
    }
    return -1;
}

static int
seconds_parse(const char *b, size_t n, int *out)
{
    long v = 0;

    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' '))
        n--;
    if (n == 0 || n > 9)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (b[i] < '0' || b[i] > '9')
            return -1;
        v = v * 10 + (b[i] - '0');
    }
    *out = (int)v;
    return 0;
}

/* on-shutdown: the body is a JSON array of strings, the command's argv. */
static void
on_shutdown(struct run *r, const char *body, size_t len,
            struct ctl_reply *out)
{
    json_error_t jerr;
    json_t *a = json_loadb(body, len, 0, &jerr);
    size_t n = json_is_array(a) ? json_array_size(a) : 0;
    char **argv = NULL;

    if (n == 0 || n > 256) {
        reply(out, 400, "400 Bad Request: want a JSON array of 1 to 256 "
                        "strings\n");
        goto done;
    }
    argv = calloc(n + 1, sizeof(char *));
    if (argv == NULL) {
        reply(out, 503, "503 Service Unavailable: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        /* A NUL inside a string cannot be an argument. */
        if (!json_is_string(v) ||
            strlen(json_string_value(v)) != json_string_length(v) ||
            (i == 0 && json_string_length(v) == 0)) {
            reply(out, 400, "400 Bad Request: argument %zu is not a "
                            "string\n", i);
            goto done;
        }
        argv[i] = (char *)json_string_value(v);
    }
    int e = run_add_shutdown(r, argv);
    if (e < 0)
        reply(out, e == -E2BIG ? 409 : 503,
              "%s\n", e == -E2BIG ? "409 Conflict: too many shutdown "
                                           "commands"
                                         : "503 Service Unavailable");
    else
        reply(out, 200, "ok\n");
done:
    free(argv);
    json_decref(a);
}

/* progress: "PERCENT" or "PERCENT MESSAGE" (the message up to 200
 * bytes of text). */
static void
progress(struct run *r, const char *body, size_t len, struct ctl_reply *out)
{
    char msg[201];
    size_t i = 0;
    int pct = 0;

    while (i < len && i < 3 && body[i] >= '0' && body[i] <= '9')
        pct = pct * 10 + (body[i++] - '0');
    if (i == 0 || pct > 100 || (i < len && body[i] != ' ' &&
                                body[i] != '\n')) {
        reply(out, 400, "400 Bad Request: want PERCENT (0-100) [MESSAGE]\n");
        return;
    }
    if (i < len && body[i] == ' ')
        i++;
    size_t n = len - i;
    while (n > 0 && (body[i + n - 1] == '\n' || body[i + n - 1] == '\r'))
        n--;
    if (n >= sizeof(msg)) {
        reply(out, 400, "400 Bad Request: message longer than 200 bytes\n");
        return;
    }
    for (size_t k = 0; k < n; k++) {
        if ((unsigned char)body[i + k] < 0x20) {
            reply(out, 400, "400 Bad Request: control character in "
                            "message\n");
            return;
        }
    }
    memcpy(msg, body + i, n);
    msg[n] = '\0';
    run_progress(r, pct, n ? msg : NULL);
    reply(out, 200, "ok\n");
}

void
ctl_handle(struct srv *s, enum http_method m, const char *rest,
           const char *body, size_t len, struct ctl_reply *out)
{
    const char *slash = strchr(rest, '/');
    struct run *r;

    if (slash == NULL) {
        reply(out, 404, "404 Not Found: want %sKEY/VERB\n", CTL_PREFIX);
        return;
    }
    r = run_find(s, rest, (size_t)(slash - rest));
    if (r == NULL) {
        /* Unknown id and wrong secret look the same. */
        reply(out, 403, "403 Forbidden: no such run, or not yours\n");
        return;
    }
    const char *verb = slash + 1;
    bool is_get = m == HTTP_GET || m == HTTP_HEAD;
    bool is_set = m == HTTP_POST || m == HTTP_PUT;

    if (strcmp(verb, "status") == 0 && is_get) {
        reply(out, 200, "%d\n", run_status(r));
    } else if (strcmp(verb, "ignore-user-abort") == 0 && is_set) {
        bool on;
        if (bool_parse(body, len, &on) < 0) {
            reply(out, 400, "400 Bad Request: want on or off\n");
            return;
        }
        bool prev = run_set_ignore_user_abort(r, on);
        reply(out, 200, "%s\n", prev ? "on" : "off");
    } else if (strcmp(verb, "time-limit") == 0 && is_set) {
        int sec;
        if (seconds_parse(body, len, &sec) < 0) {
            reply(out, 400, "400 Bad Request: want whole seconds\n");
            return;
        }
        run_set_time_limit(r, sec);
        reply(out, 200, "ok\n");
    } else if (strcmp(verb, "on-shutdown") == 0 && is_set) {
        on_shutdown(r, body, len, out);
    } else if (strcmp(verb, "progress") == 0 && is_set) {
        progress(r, body, len, out);
    } else if (strcmp(verb, "status") == 0 ||
               strcmp(verb, "ignore-user-abort") == 0 ||
               strcmp(verb, "time-limit") == 0 ||
               strcmp(verb, "on-shutdown") == 0 ||
               strcmp(verb, "progress") == 0) {
        reply(out, 405, "405 Method Not Allowed: %s\n",
              strcmp(verb, "status") == 0 ? "GET only" : "POST or PUT only");
    } else {
        reply(out, 404, "404 Not Found: no control '%s'\n", verb);
    }
}
