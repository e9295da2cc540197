/* SPDX-License-Identifier: MIT */
/* The forward runner (runner.h): a run is an HTTP request to an existing
 * URL (forward.c), made with libcurl's multi interface driven by kickd's
 * loop (forward_multi.c): one multi handle for kickd, so that connections
 * to an upstream are kept and reused across runs. */
#ifndef KICKD_FORWARD_H
#define KICKD_FORWARD_H

#include <curl/curl.h>
#include <stdbool.h>
#include <uv.h>

struct forward;

/* One transfer on the multi. CURLOPT_PRIVATE points here. */
struct forward_xfer {
    CURL *easy;
    /* The transfer is over (result says how) and already out of the
     * multi; called from the loop, outside every libcurl call. */
    void (*done_cb)(struct forward_xfer *x, CURLcode result);
    bool added; /* in the multi */
};

/* libcurl's multi handle driven by loop. NULL on failure. Its handles
 * keep the loop running only while a transfer is under way. */
struct forward *
forward_new(uv_loop_t *loop);

/* At exit, after the loop has stopped and its handles are closed: ends
 * the kept connections. */
void
forward_free(struct forward *fw);

/* Starts x's transfer. 0, -EBUSY from inside a libcurl callback (try
 * again from the loop), or -ENOMEM. */
int
forward_add(struct forward *fw, struct forward_xfer *x);

/* Takes x out of the multi; a transfer not yet over is cut short and its
 * connection closed. No done_cb follows. Not from inside a callback. */
void
forward_remove(struct forward *fw, struct forward_xfer *x);

/* Whether a libcurl call that may call back is under way. */
bool
forward_in_callback(const struct forward *fw);

/* curl_easy_pause(x->easy, mask), counted as such a call: lifting a
 * receive pause hands over what libcurl kept, from inside this call. */
void
forward_pause(struct forward *fw, struct forward_xfer *x, int mask);

#endif
