/* SPDX-License-Identifier: MIT */
/* A script's CGI header block as its output arrives, shared by the exec
 * and fastcgi runners. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgi_head.h"
#include "kick_limits.h"

int
cgi_head_init(struct cgi_head *h, bool job)
{
    *h = (struct cgi_head){.job = job};
    h->buf = malloc(CGI_MAX_HEADER_BYTES);
    return h->buf ? 0 : -ENOMEM;
}

void
cgi_head_close(struct cgi_head *h)
{
    free(h->buf);
    h->buf = NULL;
}

size_t
cgi_head_room(const struct cgi_head *h)
{
    return CGI_MAX_HEADER_BYTES - h->len;
}

size_t
cgi_head_add(struct cgi_head *h, const char *p, size_t n)
{
    size_t room = cgi_head_room(h);

    if (n > room)
        n = room;
    memcpy(h->buf + h->len, p, n);
    h->len += n;
    return n;
}

/* Hands on len bytes from at as body; CGI_HEAD_READY, or CGI_HEAD_BAD out
 * of memory. */
static int
ready(struct cgi_head *h, size_t at, struct cgi_head_result *out)
{
    h->done = true;
    out->len = h->len - at;
    out->body = NULL;
    if (out->len == 0)
        return CGI_HEAD_READY;
    out->body = malloc(out->len);
    if (out->body == NULL) {
        out->error = "out of memory";
        return CGI_HEAD_BAD;
    }
    memcpy(out->body, h->buf + at, out->len);
    return CGI_HEAD_READY;
}

/* A job's output without a valid header block (why): all of it is body,
 * with a response of status 0. */
static int
fallback(struct cgi_head *h, const char *why, struct cgi_head_result *out)
{
    out->resp = (struct cgi_response){
        .status = 0, .content_length = -1, .error = why};
    return ready(h, 0, out);
}

int
cgi_head_parse(struct cgi_head *h, struct cgi_head_result *out)
{
    ssize_t n = cgi_response_parse(h->buf, h->len, &out->resp);

    if (n == CGI_INCOMPLETE)
        return CGI_HEAD_WAIT;
    if (n == CGI_BAD && h->job)
        return fallback(h, out->resp.error, out);
    if (n == CGI_BAD) {
        out->error = out->resp.error;
        return CGI_HEAD_BAD;
    }
    /* Body bytes that came with the head go out with it, in one write. */
    return ready(h, (size_t)n, out);
}

int
cgi_head_end(struct cgi_head *h, struct cgi_head_result *out)
{
    if (h->done)
        return CGI_HEAD_WAIT;
    if (h->job && h->len == 0) {
        /* A job may write no output at all. */
        h->done = true;
        return CGI_HEAD_WAIT;
    }
    if (h->job)
        return fallback(h, "the output ended inside its header block", out);
    out->error = h->len == 0 ? "script wrote no response"
                             : "script ended inside its header block";
    return CGI_HEAD_BAD;
}
