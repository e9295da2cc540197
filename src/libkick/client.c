/* SPDX-License-Identifier: MIT */
/* kick_client_* and kick_trigger: one libcurl easy handle per client keeps
 * its connection between triggers and job calls; sent mode connects with
 * CURLOPT_CONNECT_ONLY (libcurl does TLS), writes request.c's bytes and
 * closes. */
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kick_internal.h"

#define DEFAULT_CONNECT_TIMEOUT 10000 /* ms */
#define DEFAULT_TIMEOUT 30000         /* ms */
/* A trigger's answer is kept up to this much: kickd's 202 is a line, and
 * the first line of an error page is all an error message shows. */
#define BODY_MAX (64 * 1024)

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
    struct kick_client *c = arg;
    size_t len = size * n, room = c->body_max - c->body.len;
    long status = 0;

    if (c->sink) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status <= 299) {
            if (c->sink(data, len, c->sink_arg) == 0)
                return len;
            c->sink_stopped = 1;
            return 0;
        }
    }
    if (len > room) {
        /* Enough: stop reading, the transfer ends with WRITE_ERROR. */
        if (room > 0 && kick__buf_add(&c->body, data, room) < 0)
            return 0;
        c->body_full = 1;
        return 0;
    }
    if (kick__buf_add(&c->body, data, len) < 0)
        return 0;
    return len;
}

/* Parses a trailing "/jobs/ID" of a Location value; -1 if none. */
static long long
location_job(const char *v, size_t n)
{
    const char *p, *end = v + n;
    long long id = 0;

    while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
                       end[-1] == ' ' || end[-1] == '\t'))
        end--;
    p = end;
    while (p > v && p[-1] >= '0' && p[-1] <= '9')
        p--;
    if (p == end || end - p > 18 || p - v < 6 || memcmp(p - 6, "/jobs/", 6))
        return -1;
    for (; p < end; p++)
        id = id * 10 + (*p - '0');
    return id;
}

/* Keeps the reason phrase of the last status line (RFC 9112 section 4)
 * and the job named by Location. */
static size_t
header_cb(char *data, size_t size, size_t n, void *arg)
{
    struct kick_client *c = arg;
    size_t len = size * n;

    if (len > 5 && memcmp(data, "HTTP/", 5) == 0) {
        const char *p = memchr(data, ' ', len), *end = data + len;

        c->reason[0] = '\0';
        c->location_id = -1;
        if (p && end - p > 5) {
            size_t r;

            p += 5; /* SP 3DIGIT SP */
            while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
                end--;
            r = (size_t)(end - p);
            if (r >= sizeof(c->reason))
                r = sizeof(c->reason) - 1;
            memcpy(c->reason, p, r);
            c->reason[r] = '\0';
        }
    } else if (len > 9 && strncasecmp(data, "Location:", 9) == 0) {
        c->location_id = location_job(data + 9, len - 9);
    }
    return len;
}

struct kick_client *
kick_client_new(const struct kick_opts *opts, int *err)
{
    struct kick_client *c = calloc(1, sizeof(*c));

    *err = KICK_ENOMEM;
    if (c == NULL)
        return NULL;
    c->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT;
    c->timeout_ms = DEFAULT_TIMEOUT;
    if (opts) {
        if (opts->connect_timeout_ms < 0 || opts->timeout_ms < 0)
            goto invalid;
        if (opts->connect_timeout_ms > 0)
            c->connect_timeout_ms = opts->connect_timeout_ms;
        if (opts->timeout_ms > 0)
            c->timeout_ms = opts->timeout_ms;
        c->insecure = opts->insecure != 0;
        if (opts->token) {
            /* It goes into a header field. */
            for (const char *p = opts->token; *p; p++)
                if ((unsigned char)*p < 0x21 || *p == 0x7f)
                    goto invalid;
            if ((c->token = strdup(opts->token)) == NULL)
                goto fail;
        }
        if (opts->ca_file && (c->ca_file = strdup(opts->ca_file)) == NULL)
            goto fail;
    }
    if ((c->curl = curl_easy_init()) == NULL)
        goto fail;
    *err = 0;
    return c;
invalid:
    *err = KICK_EINVAL;
fail:
    kick_client_free(c);
    return NULL;
}

void
kick_client_free(struct kick_client *c)
{
    if (c == NULL)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->raw)
        curl_easy_cleanup(c->raw);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free(c->ca_file);
    free(c->token);
    free(c->addr_host);
    kick__buf_close(&c->body);
    free(c);
}

const char *
kick_client_detail(const struct kick_client *c)
{
    return c->detail;
}

const char *
kick_client_body(const struct kick_client *c, size_t *len)
{
    *len = c->body.len;
    return c->body.data ? c->body.data : "";
}

void
kick__client_setup(struct kick_client *c, CURL *h, long timeout_ms)
{
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Sent mode writes HTTP/1.1 bytes, so TLS offers only http/1.1. */
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    c->errbuf[0] = '\0';
}

static int
is_tls_error(CURLcode cr)
{
    switch (cr) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return 1;
    default:
        return 0;
    }
}

int
kick__client_fail(struct kick_client *c, CURL *h, CURLcode cr,
                  const char *url, long timeout_ms)
{
    const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cr);
    long os_errno = 0;

    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    switch (cr) {
    case CURLE_OUT_OF_MEMORY:
        snprintf(c->detail, sizeof(c->detail), "out of memory");
        return KICK_ENOMEM;
    case CURLE_COULDNT_RESOLVE_HOST: {
        struct kick__url u;
        char d[64];

        if (kick__url_parse(url, &u, d, sizeof(d)) == 0) {
            snprintf(c->detail, sizeof(c->detail),
                     "cannot resolve host '%s'", u.host);
            kick__url_close(&u);
        } else {
            snprintf(c->detail, sizeof(c->detail), "cannot resolve host: "
                     "%s", url);
        }
        return KICK_EDNS;
    }
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED)
            snprintf(c->detail, sizeof(c->detail),
                     "connection refused: %s", url);
        else if (os_errno != 0)
            snprintf(c->detail, sizeof(c->detail), "cannot connect (%s): "
                     "%s", strerror((int)os_errno), url);
        else
            snprintf(c->detail, sizeof(c->detail), "cannot connect (%s): "
                     "%s", why, url);
        return KICK_ECONNECT;
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected = 0;
        long limit = timeout_ms;

        /* Which limit ran out: before the connection, the shorter one. */
        curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
        if (connected == 0 && c->connect_timeout_ms < limit)
            limit = c->connect_timeout_ms;
        snprintf(c->detail, sizeof(c->detail), "timed out after %g s%s: %s",
                 limit / 1000.0, connected == 0 ? " connecting" : "", url);
        return KICK_ETIMEDOUT;
    }
    case CURLE_GOT_NOTHING:
        snprintf(c->detail, sizeof(c->detail),
                 "the server closed the connection without answering: %s",
                 url);
        return KICK_EPROTO;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE: /* closed inside the body: a followed output */
        snprintf(c->detail, sizeof(c->detail), "connection lost (%s): %s",
                 why, url);
        return KICK_ECONNECT;
    default:
        break;
    }
    if (is_tls_error(cr)) {
        snprintf(c->detail, sizeof(c->detail), "TLS failed: %s: %s", why,
                 url);
        return KICK_ECONNECT;
    }
    snprintf(c->detail, sizeof(c->detail), "%s: %s", why, url);
    return KICK_EPROTO;
}

/* A JSON error body: its "error" or "message", or the job it holds
 * (kickd's 409 to a cancel: "job 3 is aborted"). 1 when c->detail is
 * set. */
static int
json_detail(struct kick_client *c, long status)
{
    json_t *j = json_loadb(c->body.data, c->body.len, 0, NULL);
    json_t *msg = json_object_get(j, "error"), *id, *state;
    int done = 1;

    if (!json_is_string(msg))
        msg = json_object_get(j, "message");
    id = json_object_get(j, "id");
    state = json_object_get(j, "state");
    if (json_is_string(msg))
        snprintf(c->detail, sizeof(c->detail), "HTTP %ld %s: %.300s",
                 status, c->reason, json_string_value(msg));
    else if (json_is_integer(id) && json_is_string(state))
        snprintf(c->detail, sizeof(c->detail), "HTTP %ld %s: job %lld is "
                 "%.20s", status, c->reason,
                 (long long)json_integer_value(id), json_string_value(state));
    else
        done = 0;
    json_decref(j);
    return done;
}

/* Sets c->detail to "HTTP 404 Not Found: <first line of the body>"; a
 * first line that repeats the status (kickd's "404 Not Found: no such
 * job") gives only the rest. */
static void
http_error(struct kick_client *c, long status)
{
    const char *b = c->body.data ? c->body.data : "";
    size_t n;
    char lead[200];

    b += strspn(b, " \t\r\n");
    if (*b == '{' && json_detail(c, status))
        return;
    snprintf(lead, sizeof(lead), "%ld %s: ", status, c->reason);
    if (c->reason[0] && strncmp(b, lead, strlen(lead)) == 0)
        b += strlen(lead);
    n = strcspn(b, "\r\n");
    if (n > 300)
        n = 300;
    snprintf(c->detail, sizeof(c->detail), "HTTP %ld%s%s%s%.*s", status,
             c->reason[0] ? " " : "", c->reason, n ? ": " : "", (int)n, b);
}

int
kick__client_perform(struct kick_client *c, const char *url,
                     const char *method, const char *body, size_t body_len,
                     struct curl_slist *headers, long timeout_ms,
                     size_t body_max, long *status)
{
    CURL *h = c->curl;
    CURLcode cr;

    kick__client_setup(c, h, timeout_ms);
    c->detail[0] = '\0';
    c->reason[0] = '\0';
    c->location_id = -1;
    c->body.len = 0;
    if (c->body.data)
        c->body.data[0] = '\0';
    c->body_max = body_max;
    c->body_full = 0;
    *status = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    if (headers)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    cr = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (cr == CURLE_WRITE_ERROR && c->body_full)
        cr = CURLE_OK;
    if (cr != CURLE_OK)
        return kick__client_fail(c, h, cr, url, timeout_ms);
    if (c->body.data == NULL && kick__buf_add(&c->body, "", 0) < 0)
        return KICK_ENOMEM;
    if (*status < 200 || *status > 299) {
        http_error(c, *status);
        return KICK_EHTTP;
    }
    return 0;
}

/* Builds the curl header list from request.c's head lines; "Expect:"
 * keeps curl from waiting for a 100 Continue. */
static int
header_list(const struct kick_request *r, const char *token,
            struct curl_slist **out)
{
    struct kick__buf head = {0};
    struct curl_slist *l = NULL, *n;
    int e = kick__request_head(r, token, KICK__HEAD_ASYNC, &head);
    const char *type;
    size_t len;

    *out = NULL;
    if (e == 0 && kick__buf_adds(&head, "Expect:\r\n") < 0)
        e = KICK_ENOMEM;
    /* curl's default type for a body is a form; an empty POST has none. */
    kick__request_body(r, &type, &len);
    if (e == 0 && type == NULL &&
        kick__buf_adds(&head, "Content-Type:\r\n") < 0)
        e = KICK_ENOMEM;
    for (char *p = head.data; e == 0 && p && *p;) {
        char *eol = strstr(p, "\r\n");

        *eol = '\0';
        n = curl_slist_append(l, p);
        if (n == NULL)
            e = KICK_ENOMEM;
        else
            l = n;
        p = eol + 2;
    }
    kick__buf_close(&head);
    if (e < 0) {
        curl_slist_free_all(l);
        return e;
    }
    *out = l;
    return 0;
}

static int
is_final_state(const char *s)
{
    return strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 ||
           strcmp(s, "timed_out") == 0 || strcmp(s, "aborted") == 0 ||
           strcmp(s, "canceled") == 0;
}

/* Reads kickd's {"id":17,"state":"queued"} (or "duplicate":true). */
static void
answer_job(struct kick_client *c, struct kick_result *out)
{
    json_t *j, *id, *state;

    if (c->body.len == 0 || c->body.data[0] != '{')
        return;
    j = json_loadb(c->body.data, c->body.len, 0, NULL);
    if (j == NULL)
        return;
    id = json_object_get(j, "id");
    state = json_object_get(j, "state");
    if (json_is_integer(id) &&
        (json_is_string(state) ||
         json_is_true(json_object_get(j, "duplicate")))) {
        if (out->job_id < 0)
            out->job_id = json_integer_value(id);
        if (json_is_string(state))
            snprintf(out->state, sizeof(out->state), "%s",
                     json_string_value(state));
    }
    json_decref(j);
}

static int
trigger_accepted(struct kick_client *c, const struct kick_request *r,
                 struct kick_result *out)
{
    struct kick__buf url = {0};
    struct curl_slist *headers = NULL;
    const char *type, *body, *method = kick__request_method(r);
    size_t len;
    long status = 0;
    int e;

    body = kick__request_body(r, &type, &len);
    /* A POST without a body still says Content-Length: 0. */
    if (body == NULL && (strcmp(method, "POST") == 0 ||
                         strcmp(method, "PUT") == 0 ||
                         strcmp(method, "PATCH") == 0))
        body = "";
    e = kick__request_origin(r, &url);
    if (e == 0)
        e = kick__request_target(r, &url);
    if (e == 0)
        e = header_list(r, c->token, &headers);
    if (e < 0) {
        snprintf(c->detail, sizeof(c->detail), "out of memory");
        goto done;
    }
    e = kick__client_perform(c, url.data, method, body, len, headers,
                             c->timeout_ms, BODY_MAX, &status);
    out->status = (int)status;
    snprintf(out->reason, sizeof(out->reason), "%s", c->reason);
    if (e == 0) {
        out->job_id = c->location_id;
        if (status == 200 || status == 202)
            answer_job(c, out);
    }
done:
    curl_slist_free_all(headers);
    kick__buf_close(&url);
    return e;
}

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes all of data on h's connection, polling its socket when libcurl
 * says CURLE_AGAIN, until the client's timeout. */
static int
send_all(struct kick_client *c, CURL *h, const char *url, const char *data,
         size_t len)
{
    long long deadline = now_ms() + c->timeout_ms;
    curl_socket_t fd = CURL_SOCKET_BAD;
    CURLcode cr;

    curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd);
    while (len > 0) {
        size_t n = 0;

        cr = curl_easy_send(h, data, len, &n);
        if (cr == CURLE_AGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            long long left = deadline - now_ms();

            if (fd == CURL_SOCKET_BAD || left <= 0 ||
                poll(&p, 1, (int)left) == 0) {
                snprintf(c->detail, sizeof(c->detail),
                         "timed out after %g s: %s", c->timeout_ms / 1000.0,
                         url);
                return KICK_ETIMEDOUT;
            }
            continue;
        }
        if (cr != CURLE_OK)
            return kick__client_fail(c, h, cr, url, c->timeout_ms);
        data += n;
        len -= n;
    }
    return 0;
}

/* Connects c->raw through c->multi with CURLOPT_CONNECT_ONLY (TLS done by
 * libcurl); the connection stays until the handle leaves the multi. */
static CURLcode
connect_only(struct kick_client *c, const char *url)
{
    CURLcode result = CURLE_OK;
    int running = 1, done = 0;

    /* The options stay on the handle between triggers: setting them
     * again costs more than the connection does. */
    if (!c->raw_ready) {
        kick__client_setup(c, c->raw, c->timeout_ms);
        curl_easy_setopt(c->raw, CURLOPT_CONNECT_ONLY, 1L);
        /* Through a proxy the bytes must reach the origin: a tunnel. */
        curl_easy_setopt(c->raw, CURLOPT_HTTPPROXYTUNNEL, 1L);
        c->raw_ready = 1;
    }
    c->errbuf[0] = '\0';
    curl_easy_setopt(c->raw, CURLOPT_URL, url);
    if (curl_multi_add_handle(c->multi, c->raw) != CURLM_OK)
        return CURLE_OUT_OF_MEMORY;
    /* CURLOPT_TIMEOUT_MS ends this loop with CURLE_OPERATION_TIMEDOUT. */
    while (!done) {
        CURLMsg *msg;
        int left;

        if (curl_multi_perform(c->multi, &running) != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
        while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                result = msg->data.result;
                done = 1;
            }
        }
        if (!done && curl_multi_poll(c->multi, NULL, 0, 1000, NULL) !=
                         CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
    }
    return result;
}

/* Whether a proxy is configured for plain HTTP: then libcurl, which
 * knows proxies, sends. */
static int
http_proxy_set(void)
{
    static const char *const names[] = {"http_proxy", "HTTP_PROXY",
                                        "all_proxy", "ALL_PROXY"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return 1;
    }
    return 0;
}

/* Resolves the request's host, reusing the last answer for a minute. */
static int
resolve(struct kick_client *c, const struct kick__url *u, const char *url)
{
    long long now = now_ms();
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    char port[8];

    if (c->addr_host && c->addr_port == u->port &&
        strcmp(c->addr_host, u->host) == 0 && now - c->addr_at < 60000)
        return 0;
    snprintf(port, sizeof(port), "%u", u->port);
    int e = getaddrinfo(u->host, port, &hints, &res);
    if (e != 0) {
        if (e == EAI_NONAME || e == EAI_FAIL) {
            snprintf(c->detail, sizeof(c->detail),
                     "cannot resolve host '%s'", u->host);
            return KICK_EDNS;
        }
        snprintf(c->detail, sizeof(c->detail), "cannot resolve host "
                 "'%s': %s", u->host, gai_strerror(e));
        return e == EAI_MEMORY ? KICK_ENOMEM : KICK_EDNS;
    }
    free(c->addr_host);
    c->addr_host = strdup(u->host);
    memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
    c->addr_len = res->ai_addrlen;
    c->addr_port = u->port;
    c->addr_at = now;
    freeaddrinfo(res);
    (void)url;
    return c->addr_host ? 0 : KICK_ENOMEM;
}

/* Sent mode over plain HTTP without libcurl: connect, write, close, the
 * least a caller can do (libcurl's connection setup costs more than the
 * connection itself here). SO_SNDTIMEO bounds the connect and the write
 * (Linux applies it to connect). */
static int
send_plain(struct kick_client *c, const struct kick_request *r,
           const char *url, const char *data, size_t len)
{
    long ms = c->connect_timeout_ms < c->timeout_ms ? c->connect_timeout_ms
                                                    : c->timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    int e = resolve(c, &r->url, url);

    if (e < 0)
        return e;
    int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(c->detail, sizeof(c->detail), "socket: %s", strerror(errno));
        return KICK_ECONNECT;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&c->addr, c->addr_len) < 0) {
        int err = errno;
        close(fd);
        if (err == EINPROGRESS || err == EAGAIN || err == ETIMEDOUT) {
            snprintf(c->detail, sizeof(c->detail),
                     "timed out after %g s connecting: %s", ms / 1000.0, url);
            return KICK_ETIMEDOUT;
        }
        snprintf(c->detail, sizeof(c->detail), "%s: %s",
                 err == ECONNREFUSED ? "connection refused" : strerror(err),
                 url);
        return KICK_ECONNECT;
    }
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            snprintf(c->detail, sizeof(c->detail), "%s: %s",
                     err == EAGAIN ? "timed out writing" : strerror(err),
                     url);
            return err == EAGAIN ? KICK_ETIMEDOUT : KICK_ECONNECT;
        }
        data += n;
        len -= (size_t)n;
    }
    close(fd);
    return 0;
}

static int
trigger_sent(struct kick_client *c, const struct kick_request *r)
{
    struct kick__buf url = {0}, req = {0};
    CURLcode cr;
    int e;

    e = kick__request_origin(r, &url);
    if (e == 0)
        e = kick__request_target(r, &url);
    if (e == 0)
        e = kick__request_format(r, c->token,
                                 KICK__HEAD_CLOSE | KICK__HEAD_ASYNC, &req);
    if (e == 0 && !r->url.is_https && !http_proxy_set()) {
        e = send_plain(c, r, url.data, req.data, req.len);
        goto done;
    }
    if (e == 0 && c->raw == NULL && (c->raw = curl_easy_init()) == NULL)
        e = KICK_ENOMEM;
    if (e == 0 && c->multi == NULL && (c->multi = curl_multi_init()) == NULL)
        e = KICK_ENOMEM;
    if (e < 0) {
        snprintf(c->detail, sizeof(c->detail), "out of memory");
        goto done;
    }
    cr = connect_only(c, url.data);
    if (cr == CURLE_OK)
        e = send_all(c, c->raw, url.data, req.data, req.len);
    else
        e = kick__client_fail(c, c->raw, cr, url.data, c->timeout_ms);
    /* Leaving the multi closes a CONNECT_ONLY connection (libcurl has no
     * other call that closes one); an easy handle would keep it. */
    curl_multi_remove_handle(c->multi, c->raw);
done:
    kick__buf_close(&req);
    kick__buf_close(&url);
    return e;
}

int
kick_trigger(struct kick_client *c, const struct kick_request *r,
             enum kick_wait wait, struct kick_result *out)
{
    struct kick_result tmp;
    struct kick__buf base = {0};
    struct kick_job job;
    int e;

    if (out == NULL)
        out = &tmp;
    memset(out, 0, sizeof(*out));
    out->job_id = -1;
    out->exit_status = -1;
    c->detail[0] = '\0';
    if (r == NULL || (wait != KICK_SENT && wait != KICK_ACCEPTED &&
                      wait != KICK_FINISHED)) {
        snprintf(c->detail, sizeof(c->detail), "bad argument");
        return KICK_EINVAL;
    }
    if (wait == KICK_SENT)
        return trigger_sent(c, r);
    e = trigger_accepted(c, r, out);
    if (e < 0 || wait == KICK_ACCEPTED || out->job_id < 0)
        return e;
    if (kick__request_origin(r, &base) < 0) {
        snprintf(c->detail, sizeof(c->detail), "out of memory");
        return KICK_ENOMEM;
    }
    /* kickd holds each ?wait= until the job ends or the wait runs out. */
    do {
        e = kick_job_get(c, base.data, out->job_id, 60, &job);
    } while (e == 0 && !is_final_state(job.state));
    kick__buf_close(&base);
    if (e < 0)
        return e;
    snprintf(out->state, sizeof(out->state), "%s", job.state);
    out->exit_status = job.exit_status;
    out->term_signal = job.term_signal;
    return 0;
}
