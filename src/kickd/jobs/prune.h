/* SPDX-License-Identifier: MIT */
/* Retention: the pruner deletes ended jobs, with their requests and
 * output, once they are older than their route's keep, in small batches
 * on a timer of the event loop. */
#ifndef KICKD_PRUNE_H
#define KICKD_PRUNE_H

struct srv;

/* Starts the pruner of s (its first pass a second from now). Its timer
 * does not keep the loop running. 0 or -1 (out of memory). */
int
prune_start(struct srv *s);

/* kickd stops: no more passes; a batch in flight ends with the store.
 * The pruner frees itself. */
void
prune_stop(struct srv *s);

#endif
