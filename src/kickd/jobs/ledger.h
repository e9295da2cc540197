/* SPDX-License-Identifier: MIT */
/* The ledger of job ends (PRODUCT.md: a job never shows running for a
 * script that has ended): an end that the store cannot take now (a full
 * disk, a store error) is kept and offered again every JOB_RECORD_RETRY
 * ms, in the order the ends happened, until the store has it. */
#ifndef KICKD_LEDGER_H
#define KICKD_LEDGER_H

#include <stdbool.h>
#include <uv.h>

#include "store_async.h"

struct ledger_entry;

/* The store has the end: result 0, or 1 if the job was not running. */
typedef void (*ledger_recorded_cb)(struct ledger_entry *e, int result);

/* One end; embedded in its owner, which fills op.id and op.end (their
 * strings and output live as long as the entry) and keeps the entry
 * until recorded_cb. */
struct ledger_entry {
    struct store_op op; /* first: the store's completion finds the entry */
    ledger_recorded_cb recorded_cb;
    void *data;
    struct ledger *ledger;
    struct ledger_entry *next; /* while waiting for a retry */
    int failures;
};

struct ledger {
    struct store_async *store;
    struct ledger_entry *waiting, *waiting_tail;
    uv_timer_t timer;
};

/* Sets up an empty ledger on loop for store; its timer does not keep the
 * loop running. */
void
ledger_init(struct ledger *l, uv_loop_t *loop, struct store_async *store);

/* Records e's end (store_ops.finish), behind any end still waiting. */
void
ledger_record(struct ledger *l, struct ledger_entry *e);

/* Whether e waits for a retry (the store refused it so far). */
bool
ledger_is_waiting(const struct ledger_entry *e);

/* Stops the retries: the entries still waiting are dropped (their jobs
 * stay running in the store, and the next start recovers them). close_cb
 * runs when the timer is closed. */
void
ledger_close(struct ledger *l, uv_close_cb close_cb);

#endif
