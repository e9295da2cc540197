/* SPDX-License-Identifier: MIT */
/* A script's CGI header block as its output arrives (RFC 3875 section 6),
 * for every runner that reads one (exec, fastcgi): gathered up to
 * CGI_MAX_HEADER_BYTES, parsed by cgi_response_parse, and for a job whose
 * output has no valid block, all of that output handed on as body. */
#ifndef KICKD_CGI_HEAD_H
#define KICKD_CGI_HEAD_H

#include <stdbool.h>
#include <stddef.h>

#include "cgi_response.h"

#define CGI_HEAD_BAD (-1) /* no valid block: the answer failed */
#define CGI_HEAD_WAIT 0   /* more output is needed, or none is due */
#define CGI_HEAD_READY 1  /* a head to hand on */

struct cgi_head {
    char *buf;  /* CGI_MAX_HEADER_BYTES: the block as it arrives */
    size_t len;
    bool done;  /* handed on, or not wanted any more */
    bool job;   /* a job keeps output without a valid block whole */
};

/* A head to hand on: resp points into the head's buffer until the next
 * call; body (malloc'd, NULL when len is 0) is the caller's. A job's
 * output without a valid block comes with resp.status 0, resp.error
 * saying why, and body all of it. */
struct cgi_head_result {
    struct cgi_response resp;
    char *body;
    size_t len;
    const char *error; /* CGI_HEAD_BAD: why (static) */
};

/* 0, or -ENOMEM. */
int
cgi_head_init(struct cgi_head *h, bool job);

void
cgi_head_close(struct cgi_head *h);

/* Room left for the block: a runner may read straight into buf + len. */
size_t
cgi_head_room(const struct cgi_head *h);

/* Copies what fits of n bytes at p; returns how many it took. */
size_t
cgi_head_add(struct cgi_head *h, const char *p, size_t n);

/* Parses what was gathered: CGI_HEAD_WAIT while it is incomplete,
 * CGI_HEAD_READY with *out filled, or CGI_HEAD_BAD with out->error (a
 * malformed block of an attached run, or no memory). */
int
cgi_head_parse(struct cgi_head *h, struct cgi_head_result *out);

/* The output ended: CGI_HEAD_WAIT if nothing more is due (the head was
 * handed on, or a job wrote nothing), CGI_HEAD_READY with a job's output
 * kept whole, CGI_HEAD_BAD with out->error when an attached run's output
 * ended without a block. */
int
cgi_head_end(struct cgi_head *h, struct cgi_head_result *out);

#endif
