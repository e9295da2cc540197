/* SPDX-License-Identifier: MIT */
/* The request every runner starts from, built once for attached runs and
 * detached jobs alike (cgi_request.c), and the CGI/1.1 environment (RFC
 * 3875) made of it (cgi_env.c): exec's process environment, fastcgi's
 * PARAMS. */
#ifndef KICKD_CGI_H
#define KICKD_CGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cfg.h"
#include "cgi_response.h"
#include "http_parse.h"

struct srv;

/* What a script is told about its request (the CGI meta-variables). */
struct cgi_request {
    const struct cfg_route *route;
    const struct http_request *req;
    const char *script_name; /* the route's path, script_name_len of it */
    size_t script_name_len;
    const char *path_info;   /* decoded; "" if none */
    const char *remote_addr;
    int remote_port;
    const char *server_addr; /* used when the request has no Host */
    int server_port;
    int64_t content_length; /* -1: no body */
    const char *body;       /* the whole body (content_length bytes) when
                             * it is at hand at the start, a job's or a
                             * gathered chunked one; NULL if it comes in
                             * pieces. write_body still gives it: a
                             * runner that sent it from here (fastcgi,
                             * with its request) ignores that */
    const char *run_id;     /* KICK_JOB_ID */
    int attempt;            /* KICK_ATTEMPT */
    const char *control;    /* KICK_CONTROL, or NULL */
    const char *secret_tag; /* a job's: the store's id, which starts the
                             * run's secret in KICK_CONTROL (recover.c
                             * finds a run's processes by it) */
    bool hide_authorization; /* kickd's own token: not for the script */
    const char *path_env;   /* PATH */
    int kill_grace;         /* ms from SIGTERM to SIGKILL */
    bool job;               /* a detached job: its stderr is body too, and
                             * output without a valid header block is
                             * kept whole (head_cb gets status 0) */
};

/* Fills cr from a parsed request to route: path is its decoded path,
 * body_len the length of its body (gathered or announced), remote_* the
 * client that sent it. Attached runs and detached jobs both build it
 * here; the caller then sets body, run_id, attempt, secret_tag, job.
 * Everything is borrowed and must outlive cr. */
void
cgi_request_from_http(struct cgi_request *cr, const struct srv *s,
                      const struct cfg_route *route,
                      const struct http_request *req, const char *path,
                      const char *remote_addr, int remote_port,
                      int64_t body_len);

/* The run's time limit in seconds, 0 for none: the route's, or by
 * default none for a job and RUN_ATTACHED_TIME_LIMIT on a caller's
 * connection. */
int
cgi_request_time_limit(const struct cgi_request *cr);

/* Builds the script's environment (RFC 3875 section 4.1 and PRODUCT.md):
 * a NULL-terminated array in one allocation, freed with free(). NULL on
 * ENOMEM. */
char **
cgi_env_build(const struct cgi_request *cr);

#endif
