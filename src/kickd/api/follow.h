/* SPDX-License-Identifier: MIT */
/* GET /jobs/ID/output?follow=1: a job's output streamed as it is written
 * (chunked), ending when the job ends. */
#ifndef KICKD_FOLLOW_H
#define KICKD_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

struct conn;

/* How often the store is read for a job that does not run here (queued,
 * between runs, or on another node) and for a client that is slow to
 * read (ms). */
#define FOLLOW_POLL_MS 250

/* Answers c with job id's output, following it (head_only: HEAD). */
void
follow_start(struct conn *c, int64_t id, bool head_only);

#endif
