/* SPDX-License-Identifier: MIT */
/* The environment of a CGI script: the meta-variables of RFC 3875 section
 * 4.1, kick's own KICK_* variables, PATH and the route's env. Nothing else
 * of kickd's own environment reaches a script. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cgi.h"

/* A growing list of "NAME=VALUE" strings in one buffer of offsets. */
struct env_buf {
    char *text;
    size_t len, cap;
    size_t *offs;
    size_t count, offs_cap;
    int failed;
};

static void
env_grow(struct env_buf *e, size_t need)
{
    if (e->len + need <= e->cap)
        return;
    size_t cap = e->cap ? e->cap : 4096;
    while (cap < e->len + need)
        cap *= 2;
    char *t = realloc(e->text, cap);
    if (t == NULL) {
        e->failed = 1;
        return;
    }
    e->text = t;
    e->cap = cap;
}

/* Starts a variable; the caller appends its value with env_append. */
static void
env_start(struct env_buf *e)
{
    if (e->failed)
        return;
    if (e->count == e->offs_cap) {
        size_t cap = e->offs_cap ? e->offs_cap * 2 : 64;
        size_t *o = realloc(e->offs, cap * sizeof(*o));
        if (o == NULL) {
            e->failed = 1;
            return;
        }
        e->offs = o;
        e->offs_cap = cap;
    }
    e->offs[e->count++] = e->len;
}

static void
env_append(struct env_buf *e, const char *s, size_t n)
{
    if (e->failed)
        return;
    env_grow(e, n + 1);
    if (e->failed)
        return;
    memcpy(e->text + e->len, s, n);
    e->len += n;
}

static void
env_end(struct env_buf *e)
{
    env_append(e, "", 1);
}

static void
env_put(struct env_buf *e, const char *name, const char *value, size_t n)
{
    env_start(e);
    env_append(e, name, strlen(name));
    env_append(e, "=", 1);
    env_append(e, value, n);
    env_end(e);
}

static void
env_puts(struct env_buf *e, const char *name, const char *value)
{
    env_put(e, name, value, strlen(value));
}

static void
env_putl(struct env_buf *e, const char *name, long long v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", v);
    env_put(e, name, num, (size_t)n);
}

/* Whether a header may become an HTTP_* variable. Names with anything
 * but letters, digits and '-' are dropped, so that "Content_Length" cannot
 * pose as CONTENT_LENGTH (nginx's underscores_in_headers off). */
static int
header_is_passed(const struct http_header *h, bool hide_auth)
{
    static const char *const skip[] = {
        "content-length", "content-type",
        "proxy", /* httpoxy: HTTP_PROXY would steer the script's client */
        "connection", "transfer-encoding",
    };
    for (size_t i = 0; i < h->name_len; i++) {
        char c = h->name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (http_name_is(h->name, h->name_len, skip[i]))
            return 0;
    if (hide_auth && http_name_is(h->name, h->name_len, "authorization"))
        return 0;
    return 1;
}

/* RFC 3875 section 4.1.18: every header as HTTP_NAME; repeated fields
 * are joined with ", " (Cookie with "; ", RFC 6265 section 5.4). */
static void
env_put_headers(struct env_buf *e, const struct http_request *req,
                bool hide_auth)
{
    for (size_t i = 0; i < req->header_count; i++) {
        const struct http_header *h = &req->headers[i];
        if (!header_is_passed(h, hide_auth))
            continue;
        size_t j;
        for (j = 0; j < i; j++)
            if (req->headers[j].name_len == h->name_len &&
                strncasecmp(req->headers[j].name, h->name, h->name_len) == 0)
                break;
        if (j < i)
            continue; /* joined with its first occurrence */
        env_start(e);
        env_append(e, "HTTP_", 5);
        for (j = 0; j < h->name_len; j++) {
            char c = h->name[j];
            c = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? c - 32 : c;
            env_append(e, &c, 1);
        }
        env_append(e, "=", 1);
        env_append(e, h->value, h->value_len);
        int cookie = http_name_is(h->name, h->name_len, "cookie");
        for (j = i + 1; j < req->header_count; j++) {
            const struct http_header *o = &req->headers[j];
            if (o->name_len == h->name_len &&
                strncasecmp(o->name, h->name, h->name_len) == 0) {
                env_append(e, cookie ? "; " : ", ", 2);
                env_append(e, o->value, o->value_len);
            }
        }
        env_end(e);
    }
}

char **
cgi_env_build(const struct cgi_request *cr)
{
    const struct http_request *req = cr->req;
    struct env_buf e = {0};
    const struct http_header *ct = http_find_header(req, "content-type");

    env_puts(&e, "GATEWAY_INTERFACE", "CGI/1.1");
    env_puts(&e, "SERVER_SOFTWARE", "kickd/" KICK_VERSION);
    env_puts(&e, "SERVER_PROTOCOL",
             req->minor_version ? "HTTP/1.1" : "HTTP/1.0");
    /* RFC 3875 section 4.1.14: the name the client used, without port. */
    if (req->host && req->host_len > 0) {
        size_t n = req->host_len;
        if (req->host[0] == '[') {
            const char *end = memchr(req->host, ']', n);
            n = end ? (size_t)(end - req->host) + 1 : n;
        } else {
            const char *colon = memchr(req->host, ':', n);
            n = colon ? (size_t)(colon - req->host) : n;
        }
        env_put(&e, "SERVER_NAME", req->host, n);
    } else {
        env_puts(&e, "SERVER_NAME", cr->server_addr);
    }
    env_putl(&e, "SERVER_PORT", cr->server_port);
    env_put(&e, "REQUEST_METHOD", req->method_str, req->method_len);
    env_put(&e, "REQUEST_URI", req->target, req->target_len);
    env_put(&e, "QUERY_STRING", req->query, req->query_len);
    env_put(&e, "SCRIPT_NAME", cr->script_name, cr->script_name_len);
    if (cr->path_info[0] != '\0')
        env_puts(&e, "PATH_INFO", cr->path_info);
    if (cr->route->script_filename)
        env_puts(&e, "SCRIPT_FILENAME", cr->route->script_filename);
    env_puts(&e, "REMOTE_ADDR", cr->remote_addr);
    env_putl(&e, "REMOTE_PORT", cr->remote_port);
    if (cr->content_length >= 0)
        env_putl(&e, "CONTENT_LENGTH", cr->content_length);
    if (ct)
        env_put(&e, "CONTENT_TYPE", ct->value, ct->value_len);
    /* php-cgi runs only when it sees it was started by a web server
     * (cgi.force_redirect). */
    env_puts(&e, "REDIRECT_STATUS", "200");
    env_put_headers(&e, req, cr->hide_authorization);
    env_puts(&e, "KICK_JOB_ID", cr->run_id);
    env_putl(&e, "KICK_ATTEMPT", cr->attempt);
    if (cr->control)
        env_puts(&e, "KICK_CONTROL", cr->control);
    env_puts(&e, "PATH", cr->path_env);
    for (size_t i = 0; i < cr->route->envc; i++) {
        env_start(&e);
        env_append(&e, cr->route->env[i], strlen(cr->route->env[i]));
        env_end(&e);
    }
    if (e.failed) {
        free(e.text);
        free(e.offs);
        return NULL;
    }

    /* One allocation: the pointer array, then the strings. */
    size_t ptrs = (e.count + 1) * sizeof(char *);
    char **env = malloc(ptrs + e.len);
    if (env != NULL) {
        char *text = (char *)env + ptrs;
        memcpy(text, e.text, e.len);
        for (size_t i = 0; i < e.count; i++)
            env[i] = text + e.offs[i];
        env[e.count] = NULL;
    }
    free(e.text);
    free(e.offs);
    return env;
}
