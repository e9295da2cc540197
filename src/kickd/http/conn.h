/* SPDX-License-Identifier: MIT */
/* One client connection: reads requests (keep-alive and pipelined), checks
 * them, runs the route's script attached to the connection and streams its
 * response back. */
#ifndef KICKD_CONN_H
#define KICKD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"

struct srv;
struct conn;

/* Accepts one connection from the listener (srv has checked
 * max_connections). On any error the connection is closed at once. */
void
conn_accept(struct srv *s, uv_stream_t *listener);

/* The path of kickd's own endpoint (/healthz, /metrics, /jobs, the
 * control endpoint, the dashboard's) that answers requests for a route at
 * route_path in its stead, or NULL if none does. */
const char *
conn_own_path(const char *route_path);

/* Closes the connection that has waited longest for a request (a new one
 * that has sent nothing, or keep-alive between requests) with nothing
 * queued to it, to make room for a new one. False if there is none. */
bool
conn_close_idle(struct srv *s);

/* Part of a stop: idle connections close now, busy ones after their
 * current response. */
void
conn_drain_all(struct srv *s);

/* For api.c: the server, the client's address, and the answer to a
 * request whose reply came later (keep-alive goes on after it). */
struct srv *
conn_srv(const struct conn *c);
const char *
conn_remote_addr(const struct conn *c);
int
conn_remote_port(const struct conn *c);
/* How the current request is authenticated: the bearer token, the
 * dashboard's cookie, or no token asked (kickd has none). */
enum auth_by
conn_auth_by(const struct conn *c);
/* Closes the connection now: staged bytes are dropped, a running script
 * is aborted; c is freed once its handles are closed. */
void
conn_close(struct conn *c);

/* Calls cb(data) if the connection closes before the answer that data
 * stands for is done (an answer waiting for the store, a followed
 * output). With cb NULL, forgets data's notice if it is still the one
 * registered: by then the next pipelined request may have its own. */
void
conn_on_close(struct conn *c, void (*cb)(void *data), void *data);
/* The job a trigger made or found, for the access log's line. */
void
conn_log_job(struct conn *c, int64_t id);
/* Answers with body (len bytes of content type ctype) and extra header
 * lines (CRLF-terminated, or NULL). */
void
conn_reply(struct conn *c, int status, const char *ctype, const char *body,
           size_t len, const char *extra);

/* An answer of kickd's own that streams (a followed job's output): the
 * head now, then body bytes as they come, chunked to an HTTP/1.1 client
 * and ended by the close for an HTTP/1.0 one. A HEAD answer ends with its
 * head. */
void
conn_stream_start(struct conn *c, int status, const char *ctype);
/* Body bytes (copied). */
void
conn_stream_write(struct conn *c, const char *data, size_t len);
/* Bytes queued to the client and not yet taken: a producer holds off
 * above CONN_MAX_WRITE_QUEUE. */
size_t
conn_stream_queued(const struct conn *c);
/* The body is complete: the connection goes on to the next request. */
void
conn_stream_end(struct conn *c);
/* Caps the kernel's send buffer of the connection at bytes (SO_SNDBUF),
 * for a long stream whose client should learn soon that it is behind,
 * rather than after megabytes the kernel took (it grows the buffer up to
 * net.ipv4.tcp_wmem's maximum by itself). */
void
conn_send_buffer(struct conn *c, int bytes);

/* Closes every connection now; running scripts are ended. */
void
conn_close_all(struct srv *s);

#endif
