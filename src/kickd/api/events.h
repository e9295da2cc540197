/* SPDX-License-Identifier: MIT */
/* GET /events (docs/dashboard.md): server-sent events of job changes and
 * of the counts, for the dashboard's page and for scripts (curl -N).
 * Changes are coalesced in windows of EVENTS_WINDOW_MS shared by every
 * stream (event_batch.h), so that a busy kickd sends each stream a few
 * writes a second, not one per change; a stream that its client does
 * not read stays within the connection's output bound and is told to
 * resync. */
#ifndef KICKD_EVENTS_H
#define KICKD_EVENTS_H

#include "http_parse.h"
#include "job_event.h"

struct conn;
struct events;
struct srv;

/* The shortest time between two windows' writes to the streams (ms): at
 * most one event per job per window. */
#define EVENTS_WINDOW_MS 100
/* The counts go out at most this often, and only when they changed. */
#define EVENTS_COUNTS_MS 1000
/* A comment line this often keeps proxies and clients from timing the
 * stream out (ms). */
#define EVENTS_PING_MS 15000

/* The kernel's send buffer of a stream (bytes; Linux doubles it): a
 * client that does not read is found behind after this and the
 * connection's own CONN_MAX_WRITE_QUEUE, not after the megabytes the
 * kernel would take by itself. Far above what events need. */
#define EVENTS_SNDBUF (64 * 1024)

/* The event streams of s (none yet). NULL if out of memory. */
struct events *
events_start(struct srv *s);

/* kickd stops: every stream ends (its last chunk), new ones are refused
 * (503), the timers close. */
void
events_stop(struct events *ev);

/* Ends every open stream (its last chunk): the dashboard was turned off
 * by a reload. */
void
events_end_streams(struct events *ev);

/* Frees ev once the loop has ended (NULL: nothing). */
void
events_free(struct events *ev);

/* A job changed: it reaches every open stream in the next window. */
void
events_job_event(struct events *ev, const struct job_event *e);

/* GET /events (conn's handler): the stream starts. */
void
events_serve(struct conn *c, const struct http_request *req);

#endif
