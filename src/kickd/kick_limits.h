/* SPDX-License-Identifier: MIT */
/* Named limits of kickd: every buffer that outside input can grow has one,
 * with the reason for its size. */
#ifndef KICKD_KICK_LIMITS_H
#define KICKD_KICK_LIMITS_H

/* Longest request line before its version (method, SP and target). nginx's
 * default large header buffer is 8 KiB; a longer target gets 414. */
#define HTTP_MAX_REQUEST_LINE 8192

/* Most header fields in one request; more gets 431. */
#define HTTP_MAX_HEADERS 64

/* Largest header block (request line, fields and the empty line); a larger
 * one gets 431. It is also the size of a connection's read buffer. */
#define HTTP_MAX_HEADER_BYTES 16384

/* Longest chunk-size line of a chunked body, extensions included. */
#define HTTP_MAX_CHUNK_LINE 1024

/* Largest trailer section of a chunked body. */
#define HTTP_MAX_TRAILER_BYTES 4096

/* Default largest request body (bytes); `max_body` in [server] changes it.
 * Beyond it: 413. */
#define HTTP_DEFAULT_MAX_BODY (16L * 1024 * 1024)

/* Largest CGI response header block a script may write before its body. */
#define CGI_MAX_HEADER_BYTES 16384

/* Most header fields in a CGI response. */
#define CGI_MAX_HEADERS 64

/* Bytes queued towards one client before kickd stops reading the script's
 * stdout (backpressure), and before it stops taking (and reading) the
 * client's next pipelined request, so that a client which never reads
 * cannot make kickd queue its answers without bound; both resume below
 * half of it. 256 KiB keeps a fast client's socket busy. */
#define CONN_MAX_WRITE_QUEUE (256 * 1024)

/* Bytes queued towards a script's stdin before kickd stops reading the
 * request body from the client. */
#define CGI_MAX_STDIN_QUEUE (256 * 1024)

/* A script's answer of unknown length is held back while it is short and
 * young: a script that ends within [server] response_hold_ms of its header
 * block, having written at most CONN_HOLD_BYTES of body, is answered in
 * one write with a Content-Length; any other goes on streaming, chunked. */
#define CONN_HOLD_BYTES (16 * 1024)
#define CONN_DEFAULT_RESPONSE_HOLD 2 /* ms */

/* Size of one read from a script's stdout. */
#define CGI_READ_SIZE (64 * 1024)

/* A FastCGI connection kept open for the next request holds one of the
 * pool's workers (PHP-FPM's worker waits on it and serves nobody else):
 * kickd gives it back after this long without a request (ms). */
#define FCGI_IDLE_TIMEOUT 2000

/* Requests that may wait for a connection to one pool when a route's
 * concurrency caps them; more are answered 503 at once. */
#define FCGI_MAX_QUEUE 1024

/* Bytes of a request's STDIN records kept to send it again on a new
 * connection when a kept one turns out closed by the pool; a longer
 * body is not sent again (the request fails with 502). */
#define FCGI_REPLAY_MAX (64 * 1024)

/* Longest line of a pool's STDERR that reaches kickd's log for an
 * attached run; the rest of the line is dropped. */
#define FCGI_LOG_LINE_MAX 1024

/* Default timeouts (ms); [server] header_timeout, body_timeout and
 * idle_timeout (seconds) change them. */
#define CONN_DEFAULT_HEADER_TIMEOUT 10000
#define CONN_DEFAULT_BODY_TIMEOUT 30000
#define CONN_DEFAULT_IDLE_TIMEOUT 60000

/* Default most open client connections; at the limit a new one closes the
 * longest-idle connection, or is closed at accept if none is idle. */
#define SRV_DEFAULT_MAX_CONNECTIONS 4096

/* Least time (ms) between two log lines about max_connections. */
#define SRV_LIMIT_LOG_INTERVAL 1000

/* Time (ms) between SIGTERM and SIGKILL to a script's process group, and
 * the time SIGTERM to kickd gives running requests before it ends them. */
#define CGI_DEFAULT_KILL_GRACE 5000
#define SRV_DEFAULT_STOP_GRACE 10000

/* Default time (ms) one shutdown command may run before it is ended;
 * [server] shutdown_timeout changes it. */
#define RUN_DEFAULT_SHUTDOWN_TIMEOUT 30000

/* The time limit of an attached script whose route sets none (s): PHP's
 * max_execution_time for a web request. A detached job has none: it is
 * the kind of work that takes minutes or hours. */
#define RUN_ATTACHED_TIME_LIMIT 30

/* Random bytes one getrandom gives the runs' secrets (16 bytes each): a
 * page, which urandom fills whole (random(7)), for 256 runs. */
#define RUN_RANDOM_BYTES 4096

/* A forward run's transfer is ended by the run's time limit; libcurl's
 * own deadline (CURLOPT_TIMEOUT_MS) is the limit plus this (ms), a
 * backstop that never comes first. */
#define FORWARD_DEADLINE_MARGIN 1000

/* Most shutdown commands one run may register. */
#define RUN_MAX_SHUTDOWN 64

/* Largest body of a request to kickd's own endpoints (kick ctl). */
#define API_MAX_BODY (64 * 1024)

/* Largest body of a dashboard login (POST /_kick/login): a token in a
 * form or JSON; beyond it, 413. */
#define DASHBOARD_MAX_BODY 4096

/* Largest answer of kickd's own endpoints. */
#define API_MAX_REPLY 4096

/* Default bytes of a job's output kept (the newest); [server] output_cap
 * changes it. */
#define JOB_DEFAULT_OUTPUT_CAP (1024 * 1024)

/* A running job's output reaches the store at most this long or this
 * many bytes after it was written (GET /jobs/ID/output shows it);
 * followers (?follow=1) get it at once. */
#define JOB_OUTPUT_FLUSH_MS 1000
#define JOB_OUTPUT_FLUSH_BYTES (64 * 1024)

/* Runs of a job that kickd itself may end (a crash, a stop, a spawn that
 * failed for kickd's own reasons) before the job fails: enough for the
 * restarts of a bad day, few enough that a job which crashes kickd each
 * time stops; [server] max_interruptions changes it. */
#define JOB_DEFAULT_MAX_INTERRUPTIONS 5
/* A shared store (PostgreSQL): a running job's lease, how often its node
 * renews it, and how often a node looks for due jobs beside the other
 * nodes' notices (a notice may be lost while a connection is down). */
#define JOB_DEFAULT_LEASE 30000
#define JOB_DEFAULT_LEASE_RENEW 5000
#define JOB_DEFAULT_POLL 5000
/* A claim of a route with a concurrency that another node was claiming
 * of at that moment is tried again after this many ms. */
#define JOB_CLAIM_BUSY_RETRY 20
/* The PostgreSQL store's sessions a node (store_ops.lanes): the ends of
 * runs are spread over them by job, so that one node's commits do not
 * wait on one connection's round trips in turn (docs/postgresql.md). */
#define STORE_PG_LANES 2
/* At most this many ends' claims of one transaction are made as one
 * (store_ops.claim_n); more claim each on their own. */
#define STORE_CLAIMS_GATHERED 64
/* Claiming ahead: a route whose runs take less than JOB_AHEAD_RUN_MS on
 * average (and that has no concurrency) has up to JOB_AHEAD_PER_WORKER
 * jobs a worker claimed before a worker is free, each started the moment
 * a run finishes, so that a short job's worker does not wait for its
 * end's commit (a job so claimed shows as running from its claim). */
#define JOB_AHEAD_RUN_MS 20
#define JOB_AHEAD_PER_WORKER 2
/* The listener of other nodes' notices: how long one wait lasts (and so
 * how long a stop waits for it), and the pauses between reconnections. */
#define STORE_LISTEN_WAIT 500
#define STORE_LISTEN_BACKOFF_MIN 100
#define STORE_LISTEN_BACKOFF_MAX 5000

/* How long an ended job and its output are kept (ms): a week, to look at
 * what happened over a weekend; [server] keep and a route's keep change
 * it, 0 keeps them for ever. The longest keep a setting takes: ten
 * years. */
#define JOB_DEFAULT_KEEP (7LL * 86400 * 1000)
#define JOB_MAX_KEEP (3650LL * 86400 * 1000)

/* How often an end the store could not record is tried again (ms), and
 * how often recovery looks whether an earlier run's processes are gone. */
#define JOB_RECORD_RETRY 1000
#define JOB_RECLAIM_POLL 5

/* The delay before a job whose spawn failed for kickd's own reasons
 * (no free descriptors, no memory) runs again (ms). */
#define JOB_SPAWN_RETRY 1000

/* Longest Idempotency-Key. */
#define JOB_MAX_IDEM_KEY 255

/* Longest wait of GET /jobs/ID?wait= (s), and a page of GET /jobs. */
#define API_MAX_WAIT 300
#define API_MAX_PAGE 1000

/* Longest route path. */
#define CFG_PATH_MAX 1024

/* Most routes in one configuration. */
#define CFG_MAX_ROUTES 1024

#endif
