/* SPDX-License-Identifier: MIT */
/* The choice of store backend from the db setting. */
#include <stdio.h>
#include <string.h>

#include "store.h"

static int
has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

const struct store_ops *
store_backend(const char *uri, char *err, size_t errlen)
{
    if (uri == NULL || uri[0] == '\0') {
        snprintf(err, errlen, "empty db setting");
        return NULL;
    }
    if (has_prefix(uri, "postgresql://") || has_prefix(uri, "postgres://")) {
        /* Work in progress (issue 13, docs/postgresql.md): some ops
         * still fail with "not implemented". */
        return &store_pg_ops;
    }
    return &store_sqlite_ops;
}

void
store_uri_format(const char *uri, char *buf, size_t len)
{
    const char *at, *colon, *pw;

    snprintf(buf, len, "%s", uri != NULL ? uri : "");
    if (!has_prefix(buf, "postgresql://") && !has_prefix(buf, "postgres://"))
        return;
    /* postgresql://user:PASSWORD@host/...: the userinfo ends at the first
     * '@' before the path (RFC 3986 section 3.2.1). */
    char *auth = strstr(buf, "://") + 3;
    size_t auth_len = strcspn(auth, "/?");
    at = memchr(auth, '@', auth_len);
    colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon != NULL) {
        size_t off = (size_t)(colon - buf) + 1;
        snprintf(buf + off, len - off, "***%s", uri + (at - buf));
    }
    /* ...?password=PASSWORD&... */
    while ((pw = strstr(buf, "password=")) != NULL &&
           (pw == buf || pw[-1] == '?' || pw[-1] == '&')) {
        size_t off = (size_t)(pw - buf) + 9;
        size_t end = off + strcspn(buf + off, "&");
        if (strncmp(buf + off, "***", 3) == 0 && end == off + 3)
            break;
        memmove(buf + off + 3, buf + end, strlen(buf + end) + 1);
        memcpy(buf + off, "***", 3);
    }
}
