/* SPDX-License-Identifier: MIT */
/* The routes of a --scripts directory: one per executable file, and one per
 * NAME.php (run by php-cgi). */
#include "cfg.h"
#include "cfg_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kick_limits.h"

static int
cfg_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
cfg_name_is_safe(const char *name)
{
    if (name[0] == '.' || name[0] == '\0')
        return false;
    for (const char *s = name; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr("._-", *s) == NULL)
            return false;
    return true;
}

/* Makes the route of dir/name if it is a script: an executable file, or a
 * NAME.php for php-cgi. Returns 1 if made, 0 if not a script (*why says
 * why), -1 ENOMEM. */
static int
cfg_script_route(struct cfg *c, const char *absdir, const char *name,
                 const char **why)
{
    size_t n = strlen(name);
    bool php = n > 4 && strcmp(name + n - 4, ".php") == 0;
    size_t filelen = strlen(absdir) + n + 2;
    char *file = malloc(filelen), *path = NULL, *w;
    struct cfg_route *r;
    struct stat st;
    int rc = -1;

    if (file == NULL)
        return -1;
    snprintf(file, filelen, "%s/%s", absdir, name);
    if (stat(file, &st) < 0)
        *why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        *why = "not a regular file";
    else if (!php && access(file, X_OK) < 0)
        *why = "not executable (chmod +x it, or name it NAME.php)";
    if (*why != NULL) {
        free(file);
        return 0;
    }
    path = malloc(n + 2);
    if (path == NULL)
        goto fail;
    snprintf(path, n + 2, "/%s", name);
    if (cfg__find_route(c, path) != NULL) {
        *why = "its route is configured in the config file, which wins";
        rc = 0;
        goto fail;
    }
    r = cfg__add_route(c);
    if (r == NULL)
        goto fail;
    rc = cfg__route_init(r, path); /* r owns path from here on */
    path = NULL;
    if (rc < 0)
        goto fail_route;
    rc = -1;
    r->script_filename = strdup(file);
    if (r->script_filename == NULL)
        goto fail_route;
    if (php && cfg__words_push(&r->argv, &r->argc, strdup("php-cgi")) < 0)
        goto fail_route;
    w = file;
    file = NULL;
    if (cfg__words_push(&r->argv, &r->argc, w) < 0)
        goto fail_route;
    return 1;
fail_route:
    cfg__route_close(r);
    c->route_count--;
fail:
    free(path);
    free(file);
    return rc;
}

int
cfg_script_to_fastcgi(struct cfg_route *r, const char *address)
{
    if (r->runner != ROUTE_EXEC || r->argc != 2 ||
        strcmp(r->argv[0], "php-cgi") != 0)
        return 0;
    char *copy = strdup(address);
    if (copy == NULL)
        return -1;
    cfg_argv_free(r->argv);
    r->argv = NULL;
    r->argc = 0;
    r->fastcgi = copy;
    r->runner = ROUTE_FASTCGI;
    return 0;
}

int
cfg_load_scripts(struct cfg *c, const char *dir, cfg_skip_cb skip_cb,
                 void *arg, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    char *absdir = NULL, **names = NULL;
    size_t n = 0, cap = 0, before = c->route_count;
    struct dirent *e;
    int rc = -1;

    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    absdir = realpath(dir, NULL);
    if (absdir == NULL) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        goto out;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            char **a = realloc(names, (cap = cap * 2 + 16) * sizeof(*a));
            if (a == NULL)
                goto nomem;
            names = a;
        }
        if ((names[n] = strdup(e->d_name)) == NULL)
            goto nomem;
        n++;
    }
    /* Sorted, so that the route table does not depend on readdir's order. */
    if (n > 0)
        qsort(names, n, sizeof(*names), cfg_name_cmp);
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        int made = 0;
        if (names[i][0] == '.')
            why = "a hidden file";
        else if (!cfg_name_is_safe(names[i]))
            why = "its name has characters other than letters, digits, "
                  "'.', '_' and '-'";
        else
            made = cfg_script_route(c, absdir, names[i], &why);
        if (made < 0)
            goto nomem;
        if (made == 0 && skip_cb)
            skip_cb(arg, names[i], why);
        if (c->route_count > CFG_MAX_ROUTES) {
            snprintf(err, errlen, "%s: more than %d routes", dir,
                     CFG_MAX_ROUTES);
            goto undo;
        }
    }
    rc = 0;
    goto out;
nomem:
    snprintf(err, errlen, "%s: %s", dir, strerror(ENOMEM));
undo:
    while (c->route_count > before)
        cfg__route_close(&c->routes[--c->route_count]);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(absdir);
    closedir(d);
    return rc;
}
