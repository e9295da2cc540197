/* SPDX-License-Identifier: MIT */
/* libkick's private interface between request.c (URLs, encoding, the
 * request head) and client.c (libcurl). Not installed. */
#ifndef KICK_INTERNAL_H
#define KICK_INTERNAL_H

#include <curl/curl.h>
#include <sys/socket.h>
#include <stddef.h>

#include "kick.h"

/* A growing byte buffer, always NUL-terminated when data is not NULL. */
struct kick__buf {
    char *data;
    size_t len;
    size_t cap;
};

void
kick__buf_close(struct kick__buf *b);
/* Appends n bytes; 0 or KICK_ENOMEM. */
int
kick__buf_add(struct kick__buf *b, const char *s, size_t n);
int
kick__buf_adds(struct kick__buf *b, const char *s);

/* A parsed http or https URL. The strings are owned by the struct. */
struct kick__url {
    int is_https;
    int is_ipv6;    /* host is an IPv6 address, held without brackets */
    char *host;     /* as written (the brackets removed) */
    unsigned port;  /* the default port when none was written */
    char *path;     /* "/" at least; unsafe bytes percent-encoded */
    char *query;    /* without the '?', or NULL when empty */
};

/* Parses text into u (which it initializes). 0, or KICK_EINVAL with a
 * one-line reason in detail, or KICK_ENOMEM. */
int
kick__url_parse(const char *text, struct kick__url *u, char *detail,
                size_t size);
void
kick__url_close(struct kick__url *u);

/* Appends s encoded as application/x-www-form-urlencoded: ALPHA, DIGIT and
 * "-._~" kept, space as '+', every other byte as %XX (uppercase). */
int
kick__form_encode(struct kick__buf *b, const char *s);
/* Appends a cookie value: as is when every byte is a cookie-octet
 * (RFC 6265 section 4.1.1), else with the other bytes, '%' and '+' as
 * %XX. */
int
kick__cookie_encode(struct kick__buf *b, const char *s);

/* Flags of kick__request_head and kick__request_format. */
#define KICK__HEAD_HOST 1   /* Host and Content-Length (the raw request) */
#define KICK__HEAD_CLOSE 2  /* Connection: close */
#define KICK__HEAD_ASYNC 4  /* Prefer: respond-async unless one is set */

struct kick__header {
    char *name;
    char *value;
};

struct kick_request {
    struct kick__url url;
    char *method;             /* NULL: GET, or POST with a body */
    struct kick__buf query;   /* added parameters, encoded, '&'-joined */
    struct kick__buf form;    /* form fields, encoded, '&'-joined */
    int has_form;             /* 1 once a form field was added */
    char *json;               /* a JSON body, or NULL */
    struct kick__buf cookies; /* "a=1; b=2" */
    struct kick__header *headers;
    size_t n_headers;
    char detail[256];
};

/* The method that goes on the request line. */
const char *
kick__request_method(const struct kick_request *r);
/* The body and its type; NULL with *len 0 when there is none. */
const char *
kick__request_body(const struct kick_request *r, const char **type,
                   size_t *len);
/* Appends the request target: path, then '?' and the query only when
 * there is one. */
int
kick__request_target(const struct kick_request *r, struct kick__buf *b);
/* Appends scheme://host[:port] (the origin, IPv6 in brackets). */
int
kick__request_origin(const struct kick_request *r, struct kick__buf *b);
/* Appends the header fields, each "Name: value\r\n", in this order: Host
 * (flag), User-Agent, Content-Type, Content-Length (flag), Connection
 * (flag), Prefer (flag), the caller's fields, Cookie, Authorization.
 * A caller's field of the same name replaces kick's own. */
int
kick__request_head(const struct kick_request *r, const char *token,
                   int flags, struct kick__buf *b);
/* Appends the complete HTTP/1.1 request: request line, the head with
 * Host and Content-Length, the empty line, the body. 0 or KICK_ENOMEM. */
int
kick__request_format(const struct kick_request *r, const char *token,
                     int flags, struct kick__buf *b);

struct kick_client {
    CURL *curl;              /* answers: accepted mode, the job API */
    CURL *raw;               /* sent mode (CURLOPT_CONNECT_ONLY) */
    CURLM *multi;            /* raw's: removing it closes its connection */
    int raw_ready;           /* raw has its options */
    long connect_timeout_ms; /* ms */
    long timeout_ms;         /* ms, a whole request */
    char *ca_file;
    char *token;
    int insecure;
    struct kick__buf body;   /* the last answer's body, up to body_max */
    size_t body_max;
    int body_full;           /* the body reached body_max: reading stopped */
    /* A 2xx answer's body goes here instead of body (kick_job_follow);
     * non-zero from it stops the transfer. */
    int (*sink)(const char *data, size_t len, void *arg);
    void *sink_arg;
    int sink_stopped;        /* the sink asked to stop */
    char reason[160];        /* the last status line's reason phrase */
    long long location_id;   /* the job of the last Location, or -1 */
    char errbuf[CURL_ERROR_SIZE];
    char detail[512];
    /* Sent mode over plain HTTP: the last host resolved, reused for a
     * minute (as libcurl's DNS cache does). */
    char *addr_host;
    unsigned addr_port;
    long long addr_at; /* ms, monotonic */
    struct sockaddr_storage addr;
    socklen_t addr_len;
};

/* Resets h and sets the options every transfer of c has. */
void
kick__client_setup(struct kick_client *c, CURL *h, long timeout_ms);
/* Turns a failed transfer to url into a code and c->detail. */
int
kick__client_fail(struct kick_client *c, CURL *h, CURLcode cr,
                  const char *url, long timeout_ms);
/* One transfer on c->curl; the body of the answer goes to c->body (at
 * most body_max bytes). 0 on a 2xx answer, KICK_EHTTP with *status and
 * c->detail on another, or another code for a failure. */
int
kick__client_perform(struct kick_client *c, const char *url,
                     const char *method, const char *body, size_t body_len,
                     struct curl_slist *headers, long timeout_ms,
                     size_t body_max, long *status);

#endif
