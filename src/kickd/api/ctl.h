/* SPDX-License-Identifier: MIT */
/* The control endpoint behind KICK_CONTROL, through which `kick ctl`
 * changes its own run: /_kick/run/ID.SECRET/VERB. */
#ifndef KICKD_CTL_H
#define KICKD_CTL_H

#include <stddef.h>

#include "http_parse.h"
#include "kick_limits.h"

struct srv;

#define CTL_PREFIX "/_kick/run/"

struct ctl_reply {
    int status;
    char text[API_MAX_REPLY]; /* the text/plain body */
    size_t len;
};

/* Serves one control request: rest is the decoded path after CTL_PREFIX,
 * body its body. Only the run whose key is in the path can be changed: a
 * wrong key is refused (403) whether or not the id exists. */
void
ctl_handle(struct srv *s, enum http_method m, const char *rest,
           const char *body, size_t len, struct ctl_reply *out);

#endif
