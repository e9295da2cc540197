/* SPDX-License-Identifier: MIT */
/* kick --batch FILE: one trigger per line ([METHOD] URL), sent over
 * --parallel connections at once by as many threads, each with its own
 * kick_client (and so its own kept connection); a progress bar on a
 * terminal, a summary line at the end. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* How often the progress bar is drawn. */
#define BAR_INTERVAL_NS 100000000L /* 100 ms */
#define BAR_WIDTH 30

struct line {
    char *method; /* NULL: the default, or -X */
    char *url;
    long lineno;
};

struct batch {
    const struct trigger_args *a;
    const char *file;
    struct line *lines;
    size_t n;
    pthread_mutex_t lock; /* guards what follows, and stderr */
    size_t next;          /* the next line to send */
    size_t done, ok, failed;
    int fail_code;        /* the code all failures share, or EXIT_FAIL */
    int bar;              /* 1: a progress bar on stderr */
    int bar_drawn;
};

struct worker {
    struct batch *b;
    struct kick_client *client;
    pthread_t thread;
};

static void
free_lines(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->lines[i].method);
        free(b->lines[i].url);
    }
    free(b->lines);
}

static int
is_method(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    return n > 0;
}

/* Reads FILE into b->lines, each URL checked before anything is sent.
 * 0 or an exit code. */
static int
read_lines(struct batch *b, FILE *f)
{
    char *text = NULL;
    size_t cap = 0, room = 0;
    ssize_t len;
    long lineno = 0;
    int code = 0;

    while (code == 0 && (len = getline(&text, &cap, f)) >= 0) {
        char *p = text, *word2, *end;
        struct line *l;
        char detail[256];

        lineno++;
        while (len > 0 && strchr(" \t\r\n", text[len - 1]))
            text[--len] = '\0';
        p += strspn(p, " \t");
        if (*p == '\0' || *p == '#')
            continue;
        end = p + strcspn(p, " \t");
        word2 = end + strspn(end, " \t");
        if (b->n == room) {
            size_t r = room ? room * 2 : 1024;
            l = realloc(b->lines, r * sizeof(*l));
            if (l == NULL) {
                code = EXIT_FAIL;
                break;
            }
            b->lines = l;
            room = r;
        }
        l = &b->lines[b->n];
        memset(l, 0, sizeof(*l));
        l->lineno = lineno;
        if (*word2 != '\0') {
            if (!is_method(p, (size_t)(end - p)) ||
                word2[strcspn(word2, " \t")] != '\0') {
                fprintf(stderr, "kick: %s:%ld: one [METHOD] URL per line\n",
                        b->file, lineno);
                code = EXIT_USAGE;
                break;
            }
            l->method = strndup(p, (size_t)(end - p));
            p = word2;
        }
        l->url = strdup(p);
        b->n++;
        if (l->url == NULL || (*word2 && l->method == NULL)) {
            code = EXIT_FAIL;
            break;
        }
        if (kick_url_check(l->url, detail, sizeof(detail)) < 0) {
            fprintf(stderr, "kick: %s:%ld: malformed URL '%s': %s\n",
                    b->file, lineno, l->url, detail);
            code = EXIT_URL;
        }
    }
    if (code == 0 && ferror(f)) {
        fprintf(stderr, "kick: cannot read %s: %s\n", b->file,
                strerror(errno));
        code = EXIT_USAGE;
    }
    if (code == EXIT_FAIL)
        fprintf(stderr, "kick: out of memory\n");
    free(text);
    return code;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Called with b->lock held. */
static void
draw_bar(struct batch *b)
{
    int fill = b->n ? (int)(b->done * BAR_WIDTH / b->n) : BAR_WIDTH;
    char bar[BAR_WIDTH + 1];

    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %zu/%zu  %zu failed", bar, b->done, b->n,
            b->failed);
    b->bar_drawn = 1;
}

/* Called with b->lock held: a failure's line, above the bar. */
static void
report(struct batch *b, const struct line *l, const char *msg)
{
    if (b->bar_drawn)
        fprintf(stderr, "\r\033[K");
    b->bar_drawn = 0;
    fprintf(stderr, "kick: %s:%ld: %s\n", b->file, l->lineno, msg);
}

/* One line: 0 or an exit code, with msg set. */
static int
send_line(struct worker *w, const struct line *l, char *msg, size_t size)
{
    const struct trigger_args *a = w->b->a;
    struct kick_request *r;
    struct kick_result res;
    int code, e;

    /* The common fields were checked on the first line already. */
    r = cli_request(a, l->method ? l->method : a->method, l->url, "", &code);
    if (r == NULL) {
        snprintf(msg, size, "bad request");
        return code;
    }
    e = kick_trigger(w->client, r, a->wait, &res);
    kick_request_free(r);
    if (e < 0) {
        snprintf(msg, size, "%s", *kick_client_detail(w->client)
                                      ? kick_client_detail(w->client)
                                      : kick_strerror(e));
        return cli_exit_for(e);
    }
    if (a->wait == KICK_FINISHED && res.job_id >= 0 &&
        strcmp(res.state, "succeeded") != 0) {
        if (res.exit_status >= 0)
            snprintf(msg, size, "job %lld %s (exit %d)", res.job_id,
                     res.state, res.exit_status);
        else
            snprintf(msg, size, "job %lld %s", res.job_id, res.state);
        return EXIT_JOB_FAILED;
    }
    return 0;
}

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    struct batch *b = w->b;
    char msg[600];

    for (;;) {
        size_t i;
        int code;

        pthread_mutex_lock(&b->lock);
        i = b->next < b->n ? b->next++ : b->n;
        pthread_mutex_unlock(&b->lock);
        if (i == b->n)
            break;
        code = send_line(w, &b->lines[i], msg, sizeof(msg));
        pthread_mutex_lock(&b->lock);
        b->done++;
        if (code == 0) {
            b->ok++;
        } else {
            if (b->failed == 0)
                b->fail_code = code;
            else if (b->fail_code != code)
                b->fail_code = EXIT_FAIL;
            b->failed++;
            report(b, &b->lines[i], msg);
        }
        pthread_mutex_unlock(&b->lock);
    }
    return NULL;
}

/* Sends every line over n workers; the progress bar meanwhile. */
static int
run(struct batch *b, struct worker *w, int n)
{
    int started = 0, code = 0;

    for (; started < n; started++) {
        int e;
        w[started].b = b;
        e = pthread_create(&w[started].thread, NULL, worker_run,
                           &w[started]);
        if (e != 0) {
            fprintf(stderr, "kick: cannot start a thread: %s\n",
                    strerror(e));
            code = EXIT_FAIL;
            break;
        }
    }
    while (b->bar && started > 0) {
        struct timespec ts = {0, BAR_INTERVAL_NS};
        int all;

        nanosleep(&ts, NULL);
        pthread_mutex_lock(&b->lock);
        all = b->done == b->n;
        if (!all)
            draw_bar(b);
        pthread_mutex_unlock(&b->lock);
        if (all)
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(w[i].thread, NULL);
    if (b->bar) {
        draw_bar(b);
        fprintf(stderr, "\n");
    }
    return code;
}

int
cmd_batch(const struct trigger_args *a)
{
    struct batch b = {.a = a, .file = a->batch};
    struct worker *w = NULL;
    struct kick_request *probe;
    FILE *f;
    double start;
    int code, n = 0, e = 0;
    const char *word = a->wait == KICK_SENT       ? "sent"
                       : a->wait == KICK_FINISHED ? "succeeded"
                                                  : "accepted";

    f = strcmp(a->batch, "-") == 0 ? stdin : fopen(a->batch, "r");
    if (f == NULL) {
        fprintf(stderr, "kick: cannot open %s: %s\n", a->batch,
                strerror(errno));
        return EXIT_USAGE;
    }
    code = read_lines(&b, f);
    if (f != stdin)
        fclose(f);
    if (code != 0)
        goto done;
    /* The fields common to every line are checked once, here. */
    if (b.n > 0) {
        probe = cli_request(a, b.lines[0].method ? b.lines[0].method
                                                 : a->method,
                            b.lines[0].url, "", &code);
        if (probe == NULL)
            goto done;
        kick_request_free(probe);
    }
    n = b.n < (size_t)a->parallel ? (int)b.n : a->parallel;
    w = calloc((size_t)(n ? n : 1), sizeof(*w));
    if (w == NULL) {
        code = EXIT_FAIL;
        goto done;
    }
    /* The clients are made here, before any thread: the first one
     * initializes libcurl, which is not safe to do from threads. */
    for (int i = 0; i < n && e == 0; i++)
        if ((w[i].client = kick_client_new(&a->opts, &e)) == NULL)
            fprintf(stderr, "kick: %s\n", e == KICK_EINVAL
                                              ? "bad option (--token?)"
                                              : kick_strerror(e));
    if (e < 0) {
        code = cli_exit_for(e);
        goto done;
    }
    pthread_mutex_init(&b.lock, NULL);
    b.bar = isatty(STDERR_FILENO) && b.n > 0;
    start = now_s();
    code = run(&b, w, n);
    {
        double t = now_s() - start;
        printf("%zu triggered, %zu %s, %zu failed in %.2f s (%.0f/s)\n",
               b.done, b.ok, word, b.failed, t, t > 0 ? b.done / t : 0.0);
    }
    pthread_mutex_destroy(&b.lock);
    if (code == 0 && b.failed > 0)
        code = b.fail_code;
    if (code == 0 && b.done < b.n)
        code = EXIT_FAIL;
done:
    for (int i = 0; w && i < n; i++)
        kick_client_free(w[i].client);
    free(w);
    free_lines(&b);
    return code;
}
