/* SPDX-License-Identifier: MIT */
/* A CGI request built from an HTTP one, in one place for an attached run
 * and a detached job alike, so that a script sees the same request either
 * way (only the KICK_* values differ). */
#include <string.h>

#include "cgi.h"
#include "kick_limits.h"
#include "srv.h"

int
cgi_request_time_limit(const struct cgi_request *cr)
{
    if (cr->route->time_limit >= 0)
        return cr->route->time_limit;
    return cr->job ? 0 : RUN_ATTACHED_TIME_LIMIT;
}

void
cgi_request_from_http(struct cgi_request *cr, const struct srv *s,
                      const struct cfg_route *route,
                      const struct http_request *req, const char *path,
                      const char *remote_addr, int remote_port,
                      int64_t body_len)
{
    size_t n = strlen(route->path);

    /* RFC 3875 sections 4.1.5 and 4.1.13: PATH_INFO is empty or starts
     * with "/", and SCRIPT_NAME + PATH_INFO is the decoded path, so a
     * route's trailing "/" goes to PATH_INFO (/app/ and /app/x: /app and
     * /x, as nginx's fastcgi_split_path_info and Apache give). */
    if (n > 0 && route->path[n - 1] == '/')
        n--;
    *cr = (struct cgi_request){
        .route = route,
        .req = req,
        .script_name = route->path,
        .script_name_len = n,
        .path_info = strncmp(path, route->path, n) == 0 ? path + n : "",
        .remote_addr = remote_addr ? remote_addr : "",
        .remote_port = remote_port,
        /* The listen address, not the connection's: a job has none. */
        .server_addr = s->listen_host,
        .server_port = s->listen_port,
        /* A body of length 0 is a body (Content-Length: 0), none is none
         * (RFC 3875 section 4.1.2); a chunked one has its gathered
         * length. */
        .content_length = req->content_length >= 0 || req->chunked
                              ? body_len
                              : -1,
        .attempt = 1,
        .hide_authorization = s->cfg->token != NULL,
        .path_env = s->path_env,
        .kill_grace = s->cfg->kill_grace,
    };
}
