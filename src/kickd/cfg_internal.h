/* SPDX-License-Identifier: MIT */
/* What cfg.c, cfg_words.c and cfg_scripts.c share and no other module sees:
 * the route table of a struct cfg and the growing of a word array. */
#ifndef KICKD_CFG_INTERNAL_H
#define KICKD_CFG_INTERNAL_H

#include <stddef.h>

#include "cfg.h"

/* Appends w (owned from here on) to a NULL-terminated array. A NULL w is a
 * failed strdup. Returns 0 or -1. */
int
cfg__words_push(char ***words, size_t *n, char *w);

/* Sets PRODUCT.md's defaults; takes ownership of path. Returns 0 or -1. */
int
cfg__route_init(struct cfg_route *r, char *path);

/* Frees what r owns and zeroes it. */
void
cfg__route_close(struct cfg_route *r);

/* The route of c at path, or NULL. */
struct cfg_route *
cfg__find_route(struct cfg *c, const char *path);

/* Grows c->routes by one zeroed slot. Returns it, or NULL on ENOMEM. */
struct cfg_route *
cfg__add_route(struct cfg *c);

#endif
