/* SPDX-License-Identifier: MIT */
/* The route table: configured routes by path, shared by reference. */
#include <stdlib.h>
#include <string.h>

#include "route.h"

struct route_table *
route_table_new(struct cfg *cfg)
{
    struct route_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->refs = 1;
    t->cfg = cfg;
    return t;
}

struct route_table *
route_table_ref(struct route_table *t)
{
    t->refs++;
    return t;
}

void
route_table_unref(struct route_table *t)
{
    if (t == NULL || --t->refs > 0)
        return;
    cfg_free(t->cfg);
    free(t);
}

const struct cfg_route *
route_find(const struct route_table *t, const char *path, size_t len,
           size_t *script_len)
{
    const struct cfg_route *best = NULL;
    size_t best_len = 0;

    for (size_t i = 0; i < t->cfg->route_count; i++) {
        const struct cfg_route *r = &t->cfg->routes[i];
        size_t n = strlen(r->path);
        if (n > len || memcmp(r->path, path, n) != 0)
            continue;
        if (n < len && path[n] != '/' && r->path[n - 1] != '/')
            continue;
        if (n == len) {
            *script_len = n;
            return r;
        }
        if (n > best_len) {
            best = r;
            best_len = n;
        }
    }
    *script_len = best_len;
    return best;
}

static int
hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long
route_path_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int h = hex(in[i + 1]), l = hex(in[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return -1;
            c = (char)(h << 4 | l);
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

const struct cfg_route *
route_named(const struct route_table *t, const char *path)
{
    for (size_t i = 0; i < t->cfg->route_count; i++)
        if (strcmp(t->cfg->routes[i].path, path) == 0)
            return &t->cfg->routes[i];
    return NULL;
}

bool
route_runs_php_cgi(const struct cfg_route *rt)
{
    if (rt->runner != ROUTE_EXEC)
        return false;
    const char *prog = strrchr(rt->argv[0], '/');

    prog = prog ? prog + 1 : rt->argv[0];
    return strncmp(prog, "php-cgi", 7) == 0;
}
