/* SPDX-License-Identifier: MIT */
/* kick_ctl_*: a running script's requests to its own run on kickd, over
 * HTTP with libcurl to the URL in KICK_CONTROL (kickd's /_kick/run/KEY,
 * where KEY holds the run's secret). */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kick.h"

/* The longest answer kept; kickd's control answers are a line. */
#define CTL_MAX_REPLY 4096

struct kick_ctl {
    CURL *curl;
    char *url;
    char detail[1400];
    char reply[CTL_MAX_REPLY];
    size_t reply_len;
};

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
    struct kick_ctl *c = arg;
    size_t len = size * n;
    size_t room = sizeof(c->reply) - 1 - c->reply_len;

    memcpy(c->reply + c->reply_len, data, len < room ? len : room);
    c->reply_len += len < room ? len : room;
    c->reply[c->reply_len] = '\0';
    return len;
}

struct kick_ctl *
kick_ctl_new(const char *control, int *err)
{
    struct kick_ctl *c;

    if (control == NULL)
        control = getenv("KICK_CONTROL");
    if (control == NULL || *control == '\0') {
        *err = KICK_ENOTSCRIPT;
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->url = strdup(control)) == NULL ||
        (c->curl = curl_easy_init()) == NULL) {
        if (c)
            free(c->url);
        free(c);
        *err = KICK_ENOMEM;
        return NULL;
    }
    return c;
}

void
kick_ctl_free(struct kick_ctl *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    free(c->url);
    free(c);
}

const char *
kick_ctl_detail(const struct kick_ctl *c)
{
    return c->detail;
}

/* Sends one request: GET without a body, PUT with one. Returns 0 with the
 * answer in c->reply, or an error code with c->detail set. */
static int
request(struct kick_ctl *c, const char *verb, const char *body,
        const char *content_type)
{
    char url[1024];
    struct curl_slist *headers = NULL;
    long status = 0;
    CURLcode cr;

    c->detail[0] = '\0';
    c->reply_len = 0;
    c->reply[0] = '\0';
    if ((size_t)snprintf(url, sizeof(url), "%s/%s", c->url, verb) >=
        sizeof(url)) {
        snprintf(c->detail, sizeof(c->detail), "KICK_CONTROL too long");
        return KICK_EINVAL;
    }
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, ct);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    }
    cr = curl_easy_perform(c->curl);
    curl_slist_free_all(headers);
    if (cr != CURLE_OK) {
        snprintf(c->detail, sizeof(c->detail), "%s: %s", url,
                 curl_easy_strerror(cr));
        return cr == CURLE_OPERATION_TIMEDOUT ? KICK_ETIMEDOUT
               : cr == CURLE_OUT_OF_MEMORY   ? KICK_ENOMEM
                                             : KICK_ECONNECT;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        size_t n = strcspn(c->reply, "\r\n");
        snprintf(c->detail, sizeof(c->detail), "%.*s", (int)n, c->reply);
        return status == 403 ? KICK_EREFUSED : KICK_EHTTP;
    }
    return 0;
}

int
kick_ctl_ignore_user_abort(struct kick_ctl *c, int on)
{
    int r = request(c, "ignore-user-abort", on ? "on" : "off", "text/plain");

    if (r < 0)
        return r;
    if (strncmp(c->reply, "on", 2) == 0)
        return 1;
    if (strncmp(c->reply, "off", 3) == 0)
        return 0;
    snprintf(c->detail, sizeof(c->detail), "unexpected answer: %.60s",
             c->reply);
    return KICK_EPROTO;
}

int
kick_ctl_set_time_limit(struct kick_ctl *c, unsigned seconds)
{
    char body[16];

    if (seconds > 999999999u)
        return KICK_EINVAL;
    snprintf(body, sizeof(body), "%u", seconds);
    return request(c, "time-limit", body, "text/plain");
}

int
kick_ctl_status(struct kick_ctl *c)
{
    int r = request(c, "status", NULL, NULL);

    if (r < 0)
        return r;
    if (c->reply[0] >= '0' && c->reply[0] <= '3' &&
        (c->reply[1] == '\n' || c->reply[1] == '\0'))
        return c->reply[0] - '0';
    snprintf(c->detail, sizeof(c->detail), "unexpected answer: %.60s",
             c->reply);
    return KICK_EPROTO;
}

int
kick_ctl_on_shutdown(struct kick_ctl *c, const char *const *argv)
{
    json_t *a;
    char *body;
    int r;

    if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
        return KICK_EINVAL;
    a = json_array();
    if (a == NULL)
        return KICK_ENOMEM;
    for (size_t i = 0; argv[i]; i++) {
        if (json_array_append_new(a, json_string(argv[i])) < 0) {
            json_decref(a);
            snprintf(c->detail, sizeof(c->detail),
                     "argument %zu is not UTF-8", i);
            return KICK_EINVAL;
        }
    }
    body = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (body == NULL)
        return KICK_ENOMEM;
    r = request(c, "on-shutdown", body, "application/json");
    free(body);
    return r;
}

int
kick_ctl_progress(struct kick_ctl *c, int percent, const char *message)
{
    char body[256];

    if (percent < 0 || percent > 100 || (message && strlen(message) > 200))
        return KICK_EINVAL;
    snprintf(body, sizeof(body), "%d%s%s", percent, message ? " " : "",
             message ? message : "");
    return request(c, "progress", body, "text/plain");
}
