/* SPDX-License-Identifier: MIT */
/* kick URL: one trigger through libkick, in the mode asked (sent,
 * accepted, finished), or a batch of them (cmd_batch.c); the command line
 * of both. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    OPT_JSON = 256,
    OPT_NO_WAIT,
    OPT_WAIT,
    OPT_BATCH,
    OPT_PARALLEL,
    OPT_DATA_BINARY,
};

static const struct option long_opts[] = {
    {"request", required_argument, NULL, 'X'},
    {"data", required_argument, NULL, 'd'},
    {"data-binary", required_argument, NULL, OPT_DATA_BINARY},
    {"query", required_argument, NULL, 'q'},
    {"header", required_argument, NULL, 'H'},
    {"cookie", required_argument, NULL, 'b'},
    {"json", required_argument, NULL, OPT_JSON},
    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
    {"wait", no_argument, NULL, OPT_WAIT},
    CLI_CLIENT_OPTIONS,
    {"batch", required_argument, NULL, OPT_BATCH},
    {"parallel", required_argument, NULL, OPT_PARALLEL},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

int
cli_client_option(int c, const char *arg, struct kick_opts *opts,
                  char *why, size_t n)
{
    long ms;

    switch (c) {
    case CLI_OPT_CONNECT_TIMEOUT:
    case CLI_OPT_TIMEOUT:
        if (cli_seconds(arg, &ms) < 0) {
            snprintf(why, n, "%s takes seconds, not '%s'",
                     c == CLI_OPT_TIMEOUT ? "--timeout"
                                          : "--connect-timeout",
                     arg);
            return -1;
        }
        if (c == CLI_OPT_TIMEOUT)
            opts->timeout_ms = ms;
        else
            opts->connect_timeout_ms = ms;
        return 1;
    case CLI_OPT_CACERT:
        opts->ca_file = arg;
        return 1;
    case 'k':
        opts->insecure = 1;
        return 1;
    case CLI_OPT_TOKEN:
        opts->token = arg;
        return 1;
    default:
        return 0;
    }
}

int
cli_seconds(const char *s, long *ms)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end != '\0' || !(v > 0) || v > 1e6)
        return -1;
    *ms = (long)(v * 1000 + 0.5);
    if (*ms < 1)
        *ms = 1;
    return 0;
}

int
cli_exit_for(int err)
{
    switch (err) {
    case KICK_OK:
        return EXIT_OK;
    case KICK_ENOTSCRIPT:
        return EXIT_NOTSCRIPT;
    case KICK_EREFUSED:
        return EXIT_REFUSED;
    case KICK_ECONNECT:
    case KICK_ETIMEDOUT:
        return EXIT_UNREACHABLE;
    case KICK_EDNS:
        return EXIT_DNS;
    case KICK_EINVAL:
        return EXIT_USAGE;
    default:
        return EXIT_FAIL;
    }
}

void
cli_origin(const char *url, char *base, size_t size)
{
    const char *p = strstr(url, "://");
    size_t n = p ? (size_t)(p + 3 - url) : 0;

    n += strcspn(url + n, "/?#");
    snprintf(base, size, "%.*s", (int)n, url);
}

/* Adds NAME=VALUE items with add(); the items are left as they are (the
 * threads of --batch share them). */
static int
add_pairs(struct kick_request *r, char *const *items, int n,
          const char *flag,
          int (*add)(struct kick_request *, const char *, const char *),
          const char *where)
{
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(items[i], '=');
        char *name;
        int e;

        if (eq == NULL) {
            fprintf(stderr, "kick: %s%s takes NAME=VALUE, not '%s'\n",
                    where, flag, items[i]);
            return EXIT_USAGE;
        }
        name = strndup(items[i], (size_t)(eq - items[i]));
        if (name == NULL)
            return EXIT_FAIL;
        e = add(r, name, eq + 1);
        free(name);
        if (e < 0) {
            fprintf(stderr, "kick: %s%s %s: %s\n", where, flag, items[i],
                    e == KICK_EINVAL ? kick_request_detail(r)
                                     : kick_strerror(e));
            return cli_exit_for(e);
        }
    }
    return 0;
}

/* Adds the -d and --data-binary items in their order: a NAME=VALUE
 * encoded, bytes as they are. */
static int
add_data(struct kick_request *r, const struct trigger_args *a,
         const char *where)
{
    for (int i = 0; i < a->n_data; i++) {
        const struct cli_data *d = &a->data[i];
        int e;

        if (d->pair) {
            e = add_pairs(r, &d->pair, 1, "-d", kick_request_form, where);
            if (e != 0)
                return e;
            continue;
        }
        e = kick_request_data(r, d->bytes, d->len);
        if (e < 0) {
            fprintf(stderr, "kick: %s-d: %s\n", where, kick_strerror(e));
            return cli_exit_for(e);
        }
    }
    return 0;
}

static int
add_headers(struct kick_request *r, const struct trigger_args *a,
            const char *where)
{
    for (int i = 0; i < a->n_headers; i++) {
        const char *h = a->headers[i], *colon = strchr(h, ':');
        char name[256];
        const char *value;
        size_t n, vlen;
        int e;

        if (colon == NULL || colon == h || (size_t)(colon - h) >= 256) {
            fprintf(stderr, "kick: %s-H takes 'Name: value', not '%s'\n",
                    where, h);
            return EXIT_USAGE;
        }
        n = (size_t)(colon - h);
        memcpy(name, h, n);
        name[n] = '\0';
        /* RFC 9110 section 5.5: whitespace around the value is not
         * part of it. */
        value = colon + 1 + strspn(colon + 1, " \t");
        vlen = strlen(value);
        while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
            vlen--;
        {
            char *v = strndup(value, vlen);
            if (v == NULL)
                return EXIT_FAIL;
            e = kick_request_header(r, name, v);
            free(v);
        }
        if (e < 0) {
            fprintf(stderr, "kick: %s-H: %s\n", where,
                    e == KICK_EINVAL ? kick_request_detail(r)
                                     : kick_strerror(e));
            return cli_exit_for(e);
        }
    }
    return 0;
}

struct kick_request *
cli_request(const struct trigger_args *a, const char *method,
            const char *url, const char *where, int *code)
{
    char detail[256];
    struct kick_request *r;
    int e;

    if (kick_url_check(url, detail, sizeof(detail)) < 0) {
        fprintf(stderr, "kick: %smalformed URL '%s': %s\n", where, url,
                detail);
        *code = EXIT_URL;
        return NULL;
    }
    r = kick_request_new(url, &e);
    if (r == NULL) {
        fprintf(stderr, "kick: %s%s\n", where, kick_strerror(e));
        *code = cli_exit_for(e);
        return NULL;
    }
    *code = 0;
    if (method && (e = kick_request_method(r, method)) < 0) {
        fprintf(stderr, "kick: %s%s\n", where, kick_request_detail(r));
        *code = EXIT_USAGE;
    }
    if (*code == 0)
        *code = add_pairs(r, a->query, a->n_query, "-q", kick_request_query,
                          where);
    if (*code == 0)
        *code = add_data(r, a, where);
    if (*code == 0)
        *code = add_pairs(r, a->cookies, a->n_cookies, "-b",
                          kick_request_cookie, where);
    if (*code == 0)
        *code = add_headers(r, a, where);
    if (*code == 0 && a->json && (e = kick_request_json(r, a->json)) < 0) {
        fprintf(stderr, "kick: %s--json: %s\n", where,
                e == KICK_EINVAL ? kick_request_detail(r) : kick_strerror(e));
        *code = cli_exit_for(e);
    }
    if (*code != 0) {
        kick_request_free(r);
        return NULL;
    }
    return r;
}

/* Appends an item to a list of argv strings. */
static int
push(char ***list, int *n, char *item)
{
    char **l = realloc(*list, (size_t)(*n + 1) * sizeof(**list));

    if (l == NULL)
        return -1;
    l[(*n)++] = item;
    *list = l;
    return 0;
}

int
cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;

    if (verb)
        fprintf(stderr, "kick %s: ", verb);
    else
        fprintf(stderr, "kick: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'kick --help'.\n");
    return EXIT_USAGE;
}

/* Reads all of f into d->bytes; with strip set, CR and LF are dropped
 * (curl's -d @FILE: a file of lines makes one value). */
static int
data_slurp(FILE *f, bool strip, struct cli_data *d)
{
    size_t cap = 4096;
    char *buf = malloc(cap);
    int c;

    if (buf == NULL)
        return -ENOMEM;
    d->len = 0;
    while ((c = getc(f)) != EOF) {
        if (strip && (c == '\r' || c == '\n'))
            continue;
        if (d->len == cap) {
            char *b = realloc(buf, cap *= 2);
            if (b == NULL) {
                free(buf);
                return -ENOMEM;
            }
            buf = b;
        }
        buf[d->len++] = (char)c;
    }
    if (ferror(f)) {
        free(buf);
        return -EIO;
    }
    d->bytes = buf;
    return 0;
}

/* Adds a -d (binary unset) or --data-binary item: NAME=VALUE, @FILE or
 * @- (stdin), read now so that --batch sends the same bytes each time. */
static int
push_data(struct trigger_args *a, const char *flag, char *arg, bool binary)
{
    struct cli_data *l = realloc(a->data, (size_t)(a->n_data + 1) *
                                              sizeof(*l));
    struct cli_data d = {0};
    int e = 0;

    if (l == NULL)
        return -ENOMEM;
    a->data = l;
    if (arg[0] == '@') {
        bool in = strcmp(arg + 1, "-") == 0;
        FILE *f = in ? stdin : fopen(arg + 1, "rb");
        if (f == NULL) {
            e = -errno;
        } else {
            errno = 0;
            e = data_slurp(f, !binary, &d);
            if (e == -EIO && errno)
                e = -errno;
            if (!in)
                fclose(f);
        }
        if (e < 0) {
            fprintf(stderr, "kick: %s %s: %s\n", flag, arg, strerror(-e));
            return e == -ENOMEM ? -ENOMEM : -EINVAL;
        }
    } else if (binary) {
        d.len = strlen(arg);
        if ((d.bytes = malloc(d.len + 1)) == NULL)
            return -ENOMEM;
        memcpy(d.bytes, arg, d.len + 1);
    } else {
        d.pair = arg;
    }
    a->data[a->n_data++] = d;
    return 0;
}

/* A word that is not a URL: a mistyped verb. */
static int
is_command_like(const char *s)
{
    return strstr(s, "://") == NULL && strpbrk(s, ".:/[") == NULL;
}

static int
parse(int argc, char **argv, struct trigger_args *a)
{
    int c, e = 0;

    a->wait = KICK_ACCEPTED;
    a->parallel = 16;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":X:d:q:H:b:khV", long_opts,
                            NULL)) != -1) {
        char why[128];
        int k = cli_client_option(c, optarg, &a->opts, why, sizeof(why));
        if (k < 0)
            return cli_usage_error(NULL, "%s", why);
        if (k > 0)
            continue;
        switch (c) {
        case 'X':
            a->method = optarg;
            break;
        case 'd':
        case OPT_DATA_BINARY:
            e = push_data(a, c == 'd' ? "-d" : "--data-binary", optarg,
                          c == OPT_DATA_BINARY);
            if (e == -EINVAL)
                return EXIT_USAGE;
            break;
        case 'q':
            e = push(&a->query, &a->n_query, optarg);
            break;
        case 'H':
            e = push(&a->headers, &a->n_headers, optarg);
            break;
        case 'b':
            e = push(&a->cookies, &a->n_cookies, optarg);
            break;
        case OPT_JSON:
            a->json = optarg;
            break;
        case OPT_NO_WAIT:
            a->wait = KICK_SENT;
            break;
        case OPT_WAIT:
            a->wait = KICK_FINISHED;
            break;
        case OPT_BATCH:
            a->batch = optarg;
            break;
        case OPT_PARALLEL: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || n < 1 || n > 1024)
                return cli_usage_error(
                    NULL, "--parallel takes 1 to 1024, not '%s'", optarg);
            a->parallel = (int)n;
            break;
        }
        case 'h':
            cli_usage(stdout);
            return -1;
        case 'V':
            printf("kick " KICK_VERSION "\n");
            return -1;
        case ':':
            return cli_usage_error(NULL, "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage_error(NULL, "unknown option '%s'",
                                   argv[optind - 1]);
        }
        if (e < 0) {
            fprintf(stderr, "kick: out of memory\n");
            return EXIT_FAIL;
        }
    }
    if (a->batch) {
        if (optind != argc)
            return cli_usage_error(NULL, "--batch takes no URL: '%s'",
                                   argv[optind]);
        return 0;
    }
    if (optind == argc)
        return cli_usage_error(NULL, "%s", "no URL");
    if (optind + 1 != argc)
        return cli_usage_error(
            NULL, "one URL only (or --batch); '%s' is one too many",
            argv[optind + 1]);
    a->url = argv[optind];
    if (is_command_like(a->url))
        return cli_usage_error(NULL, "unknown command '%s'", a->url);
    return 0;
}

static void
free_args(struct trigger_args *a)
{
    for (int i = 0; i < a->n_data; i++)
        free(a->data[i].bytes);
    free(a->data);
    free(a->query);
    free(a->headers);
    free(a->cookies);
}

/* Prints what the answer says: the job id, or the status line. */
static void
print_answer(const struct kick_result *res)
{
    if (res->job_id >= 0)
        printf("%lld\n", res->job_id);
    else
        printf("HTTP %d%s%s\n", res->status, res->reason[0] ? " " : "",
               res->reason);
}

static int
trigger(const struct trigger_args *a)
{
    struct kick_request *r;
    struct kick_client *c;
    struct kick_result res;
    int code, e;

    r = cli_request(a, a->method, a->url, "", &code);
    if (r == NULL)
        return code;
    c = kick_client_new(&a->opts, &e);
    if (c == NULL) {
        fprintf(stderr, "kick: %s\n", e == KICK_EINVAL
                                          ? "bad option (a --token with "
                                            "spaces or control characters?)"
                                          : kick_strerror(e));
        kick_request_free(r);
        return cli_exit_for(e);
    }
    e = kick_trigger(c, r, a->wait, &res);
    if (e < 0) {
        const char *d = kick_client_detail(c);
        fprintf(stderr, "kick: %s\n", *d ? d : kick_strerror(e));
        code = cli_exit_for(e);
    } else if (a->wait == KICK_ACCEPTED) {
        print_answer(&res);
        code = EXIT_OK;
    } else if (a->wait == KICK_FINISHED) {
        if (res.job_id >= 0) {
            char base[512];
            cli_origin(a->url, base, sizeof(base));
            code = cli_job_end(c, base, res.job_id, res.state,
                               res.exit_status, res.term_signal);
        } else {
            /* No job: the answer was the run itself. */
            size_t len;
            const char *body = kick_client_body(c, &len);
            fwrite(body, 1, len, stdout);
            code = EXIT_OK;
        }
    } else {
        code = EXIT_OK;
    }
    kick_client_free(c);
    kick_request_free(r);
    return code;
}

int
cmd_trigger(int argc, char **argv)
{
    struct trigger_args a = {0};
    int code = parse(argc, argv, &a);

    if (code == 0)
        code = a.batch ? cmd_batch(&a) : trigger(&a);
    else if (code < 0)
        code = EXIT_OK; /* --help, --version */
    free_args(&a);
    if (fflush(stdout) != 0 && code == EXIT_OK)
        code = EXIT_FAIL;
    return code;
}
