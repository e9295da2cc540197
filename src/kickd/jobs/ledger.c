/* SPDX-License-Identifier: MIT */
/* The ledger of job ends (ledger.h): a FIFO of the ends the store refused,
 * offered again together, in order, on a timer. */
#include <inttypes.h>
#include <stddef.h>

#include "kick_limits.h"
#include "ledger.h"
#include "log.h"

static void
waiting_add(struct ledger *l, struct ledger_entry *e)
{
    e->next = NULL;
    if (l->waiting_tail)
        l->waiting_tail->next = e;
    else
        l->waiting = e;
    l->waiting_tail = e;
}

static void
retry_cb(uv_timer_t *t)
{
    struct ledger *l = t->data;
    struct ledger_entry *e = l->waiting;

    /* Offered again in order; those refused again come back in order,
     * since the store completes a batch's ops in the order they came. */
    l->waiting = l->waiting_tail = NULL;
    while (e) {
        struct ledger_entry *next = e->next;
        e->next = NULL;
        /* A claim that went with the end is not made again: its worker's
         * pool claims by itself once the end is in. */
        if (e->op.claim) {
            job_clear(&e->op.job);
            e->op.claim = false;
            e->op.claim_result = 0;
        }
        ledger_record(l, e);
        e = next;
    }
}

static void
done_cb(struct store_op *op)
{
    struct ledger_entry *e = (struct ledger_entry *)op;
    struct ledger *l = e->ledger;

    if (op->result < 0) {
        /* Said once per end, and once more when it is recorded. */
        if (e->failures++ == 0)
            log_error("job %" PRId64 ": recording its end failed: %s; "
                      "kept, and tried again every %d ms",
                      op->id, op->error, JOB_RECORD_RETRY);
        waiting_add(l, e);
        if (!uv_is_active((uv_handle_t *)&l->timer))
            uv_timer_start(&l->timer, retry_cb, JOB_RECORD_RETRY, 0);
        return;
    }
    if (e->failures > 0)
        log_info("job %" PRId64 ": its end is recorded, after %d failed "
                 "tries",
                 op->id, e->failures);
    e->recorded_cb(e, op->result);
}

void
ledger_init(struct ledger *l, uv_loop_t *loop, struct store_async *store)
{
    l->store = store;
    l->waiting = l->waiting_tail = NULL;
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    uv_unref((uv_handle_t *)&l->timer);
}

void
ledger_record(struct ledger *l, struct ledger_entry *e)
{
    e->ledger = l;
    e->op.kind = SOP_FINISH;
    e->op.done_cb = done_cb;
    if (l->waiting != NULL) {
        /* Behind the ends that wait: order is kept. */
        waiting_add(l, e);
        return;
    }
    e->op.result = 0;
    e->op.error[0] = '\0';
    store_submit(l->store, &e->op);
}

bool
ledger_is_waiting(const struct ledger_entry *e)
{
    const struct ledger *l = e->ledger;

    for (const struct ledger_entry *w = l ? l->waiting : NULL; w;
         w = w->next)
        if (w == e)
            return true;
    return false;
}

void
ledger_close(struct ledger *l, uv_close_cb close_cb)
{
    for (struct ledger_entry *e = l->waiting; e; e = e->next)
        log_error("job %" PRId64 ": its end was never recorded; it runs "
                  "again at the next start",
                  e->op.id);
    l->waiting = l->waiting_tail = NULL;
    uv_close((uv_handle_t *)&l->timer, close_cb);
}
