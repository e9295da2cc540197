/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* close_range */
/* libcurl's multi interface on kickd's libuv loop: libcurl says which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION: one uv_poll_t per socket)
 * and when to wake it (CURLMOPT_TIMERFUNCTION: one uv_timer_t), and the
 * loop hands readiness back with curl_multi_socket_action. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "forward.h"
#include "log.h"

/* One socket libcurl asked kickd to watch. */
struct forward_sock {
    uv_poll_t poll;
    struct forward *fw;
    curl_socket_t fd;
    struct forward_sock *prev, *next; /* fw->socks */
};

struct forward {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct forward_sock *socks;
    int transfers; /* easy handles in the multi */
    int depth;     /* libcurl calls under way that may call back */
    bool refd;     /* the handles hold the loop (a transfer runs) */
    bool closing;  /* forward_free: the loop is gone */
};

/* The poll handles and the timer hold the loop while a transfer runs and
 * let it end when none does, so that kept idle connections never hold
 * kickd's stop. */
static void
refs_update(struct forward *fw)
{
    bool busy = fw->transfers > 0;

    if (busy == fw->refd)
        return;
    fw->refd = busy;
    for (struct forward_sock *k = fw->socks; k; k = k->next) {
        if (busy)
            uv_ref((uv_handle_t *)&k->poll);
        else
            uv_unref((uv_handle_t *)&k->poll);
    }
    if (busy)
        uv_ref((uv_handle_t *)&fw->timer);
    else
        uv_unref((uv_handle_t *)&fw->timer);
}

/* Hands each finished transfer to its owner, once it is out of the
 * multi. The owner may start or remove others meanwhile. */
static void
done_check(struct forward *fw)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(fw->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct forward_xfer *x = NULL;
        CURLcode result = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        forward_remove(fw, x);
        x->done_cb(x, result);
    }
}

static void
action(struct forward *fw, curl_socket_t fd, int flags)
{
    int running;

    fw->depth++;
    curl_multi_socket_action(fw->multi, fd, flags, &running);
    fw->depth--;
    done_check(fw);
}

static void
poll_cb(uv_poll_t *h, int status, int events)
{
    struct forward_sock *k = h->data;
    int flags = 0;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    action(k->fw, k->fd, flags);
}

static void
timeout_cb(uv_timer_t *t)
{
    action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static void
sock_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void
sock_close(struct forward *fw, struct forward_sock *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        fw->socks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    /* libcurl closes the socket after this returns: the poll stops now. */
    if (fw->closing)
        free(k); /* its handle was closed with the loop's */
    else
        uv_close((uv_handle_t *)&k->poll, sock_close_cb);
}

static struct forward_sock *
sock_open(struct forward *fw, curl_socket_t fd)
{
    struct forward_sock *k = calloc(1, sizeof(*k));
    int r;

    if (k == NULL)
        return NULL;
    r = uv_poll_init_socket(fw->loop, &k->poll, fd);
    if (r < 0) {
        log_error("forward: cannot watch socket %d: %s", (int)fd,
                  uv_strerror(r));
        free(k);
        return NULL;
    }
    k->poll.data = k;
    k->fw = fw;
    k->fd = fd;
    k->next = fw->socks;
    if (fw->socks)
        fw->socks->prev = k;
    fw->socks = k;
    if (!fw->refd)
        uv_unref((uv_handle_t *)&k->poll);
    return k;
}

/* CURLMOPT_SOCKETFUNCTION: what libcurl waits for on socket fd. */
static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct forward *fw = userp;
    struct forward_sock *k = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            curl_multi_assign(fw->multi, fd, NULL);
            sock_close(fw, k);
        }
        return 0;
    }
    if (k == NULL) {
        /* Without a watch the transfer waits for its own timeout. */
        if ((k = sock_open(fw, fd)) == NULL)
            return 0;
        curl_multi_assign(fw->multi, fd, k);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&k->poll, events, poll_cb);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants to be woken (-1: never).
 * Even 0 waits for the loop: libcurl may not be called from here. */
static int
timer_cb(CURLM *multi, long ms, void *userp)
{
    struct forward *fw = userp;

    (void)multi;
    if (fw->closing)
        return 0; /* the timer was closed with the loop's handles */
    if (ms < 0)
        uv_timer_stop(&fw->timer);
    else
        uv_timer_start(&fw->timer, timeout_cb, (uint64_t)ms, 0);
    return 0;
}

struct forward *
forward_new(uv_loop_t *loop)
{
    struct forward *fw;

    /* Before the store's thread starts: libcurl's global set-up is not
     * for threads that run already. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    fw = calloc(1, sizeof(*fw));
    if (fw == NULL || (fw->multi = curl_multi_init()) == NULL) {
        free(fw);
        curl_global_cleanup();
        return NULL;
    }
    fw->loop = loop;
    curl_multi_setopt(fw->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(fw->multi, CURLMOPT_SOCKETDATA, fw);
    curl_multi_setopt(fw->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(fw->multi, CURLMOPT_TIMERDATA, fw);
    uv_timer_init(loop, &fw->timer);
    fw->timer.data = fw;
    uv_unref((uv_handle_t *)&fw->timer);
    return fw;
}

void
forward_free(struct forward *fw)
{
    if (fw == NULL)
        return;
    fw->closing = true;
    curl_multi_cleanup(fw->multi);
    while (fw->socks)
        sock_close(fw, fw->socks);
    free(fw);
    curl_global_cleanup();
}

int
forward_add(struct forward *fw, struct forward_xfer *x)
{
    if (fw->depth > 0)
        return -EBUSY;
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(fw->multi, x->easy) != CURLM_OK)
        return -ENOMEM;
    x->added = true;
    fw->transfers++;
    refs_update(fw);
    return 0;
}

void
forward_remove(struct forward *fw, struct forward_xfer *x)
{
    if (!x->added)
        return;
    x->added = false;
    curl_multi_remove_handle(fw->multi, x->easy);
    fw->transfers--;
    refs_update(fw);
}

bool
forward_in_callback(const struct forward *fw)
{
    return fw->depth > 0;
}

void
forward_pause(struct forward *fw, struct forward_xfer *x, int mask)
{
    fw->depth++;
    curl_easy_pause(x->easy, mask);
    fw->depth--;
}
