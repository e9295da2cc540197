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
