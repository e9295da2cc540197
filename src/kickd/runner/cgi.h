/* SPDX-License-Identifier: MIT */
/* The exec runner: one CGI/1.1 script process (RFC 3875) with its body on
 * stdin and its response read from stdout, handed to a sink through hooks
 * so that an attached connection and, later, a detached job consume it the
 * same way. */
#ifndef KICKD_CGI_H
#define KICKD_CGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cfg.h"
#include "cgi_response.h"
#include "http_parse.h"
#include "proc.h"

struct cgi;
struct srv;

/* What a script is told about its request (the CGI meta-variables). */
struct cgi_request {
    const struct cfg_route *route;
    char *const *argv; /* the program's argv; NULL: the route's */
    const struct http_request *req;
    const char *script_name; /* the route's path, script_name_len of it */
    size_t script_name_len;
    const char *path_info;   /* decoded; "" if none */
    const char *remote_addr;
    int remote_port;
    const char *server_addr; /* used when the request has no Host */
    int server_port;
    int64_t content_length; /* -1: no body */
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

/* The sink's side. Hooks are called from the loop, never from inside a
 * cgi_* call, and none after cgi_detach. */
struct cgi_hooks {
    /* The script's header block, valid during the call, and the body
     * bytes read with it (len may be 0; the sink owns body). For a job
     * whose output has no valid header block, r->status is 0, r->error
     * says why and body is the whole output so far. */
    void (*head_cb)(struct cgi *g, const struct cgi_response *r, char *body,
                    size_t len);
    /* Body bytes; the sink owns buf and frees it with free(). */
    void (*body_cb)(struct cgi *g, char *buf, size_t len);
    /* stdout ended: the body is complete (error NULL), or the script
     * failed: error is a short reason; if no head was given, the sink
     * answers 502. The last hook. */
    void (*end_cb)(struct cgi *g, const char *error);
    /* The stdin queue went below CGI_MAX_STDIN_QUEUE. */
    void (*stdin_drain_cb)(struct cgi *g);
    /* The process was reaped: its exit status, or the signal that ended
     * it (0 if none). */
    void (*exit_cb)(struct cgi *g, int64_t exit_status, int term_signal);
    /* Optional: bytes came from the script's stdout, called before they
     * are handed on. The sink may end the script from here (PHP's rule:
     * an abort takes effect at the script's next write); the bytes are
     * then dropped. */
    void (*output_cb)(struct cgi *g);
};

/* Fills cr from a parsed request to route: path is its decoded path,
 * body_len the length of its body (gathered or announced), remote_* the
 * client that sent it. Attached runs and detached jobs both build it
 * here; the caller then sets run_id, attempt, secret_tag, job.
 * Everything is borrowed and must outlive cr. */
void
cgi_request_from_http(struct cgi_request *cr, const struct srv *s,
                      const struct cfg_route *route,
                      const struct http_request *req, const char *path,
                      const char *remote_addr, int remote_port,
                      int64_t body_len);

/* Starts the route's exec with the environment of cr. Returns the run, or
 * NULL with *err set to a negative errno (the script could not start). */
struct cgi *
cgi_start(uv_loop_t *loop, struct proc_reaper *reaper,
          const struct cgi_request *cr, const struct cgi_hooks *hooks,
          void *data, int *err);

void *
cgi_data(const struct cgi *g);

/* Queues len bytes (copied) for the script's stdin. */
void
cgi_write_stdin(struct cgi *g, const char *buf, size_t len);

/* Closes stdin once the queued bytes are written: the body is complete. */
void
cgi_close_stdin(struct cgi *g);

/* Bytes queued for stdin and not yet written. */
size_t
cgi_stdin_queued(const struct cgi *g);

/* Stops and restarts reading stdout: backpressure from a slow sink. */
void
cgi_pause(struct cgi *g);
void
cgi_resume(struct cgi *g);

/* Ends the script as a web server would: its pipes are closed, SIGTERM
 * goes to its process group, and SIGKILL after the grace period. */
void
cgi_terminate(struct cgi *g);

/* Ends the script by signals alone: SIGTERM to its process group now,
 * SIGKILL after the grace period, what is left of the group killed when
 * it exits. Its output is still read and handed on (a job keeps it). A
 * no-op once the script is being ended or has exited. */
void
cgi_stop(struct cgi *g);

/* Nobody wants the output any more: it is read and dropped, unparsed (a
 * header block that never comes or is malformed no longer ends the
 * script), and no head_cb or body_cb follows; output_cb still does. */
void
cgi_drain(struct cgi *g);

/* Closes kickd's ends of the script's pipes, as a web server does when
 * its client leaves: the script's next write fails (EPIPE, or SIGPIPE
 * unless it ignores it). No end_cb follows. */
void
cgi_close_output(struct cgi *g);

/* Sends sig to the script, or with group set to its process group. */
void
cgi_signal(struct cgi *g, int sig, bool group);

/* When the script exits, what is left of its process group is killed
 * (for a script that is being ended by other means than SIGTERM). */
void
cgi_end_group_on_exit(struct cgi *g);

/* Sends SIGKILL to the process group in ms unless the script exits. */
void
cgi_kill_after(struct cgi *g, int ms);

bool
cgi_has_exited(const struct cgi *g);

/* The script's environment, for commands that share it; valid until the
 * run is freed. */
char *const *
cgi_env(const struct cgi *g);

/* The sink lets go: no more hooks. With terminate set, a script still
 * running is ended as by cgi_terminate. The run frees itself once the
 * process is reaped and its handles are closed. */
void
cgi_detach(struct cgi *g, bool terminate);

/* The script's process id. */
int
cgi_pid(const struct cgi *g);

/* Builds the script's environment (RFC 3875 section 4.1 and PRODUCT.md):
 * a NULL-terminated array in one allocation, freed with free(). NULL on
 * ENOMEM. */
char **
cgi_env_build(const struct cgi_request *cr);

#endif
