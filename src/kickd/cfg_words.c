/* SPDX-License-Identifier: MIT */
/* Shell-like splitting of a command into words, the argv that it makes, the
 * "HOST:PORT" of a listen key (and whether it is loopback), and
 * durations. */
#include "cfg.h"
#include "cfg_internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cfg_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (char **a = argv; *a != NULL; a++)
        free(*a);
    free(argv);
}

/* Appends w (owned from here on) to a NULL-terminated array. A NULL w is a
 * failed strdup. Returns 0 or -1. */
int
cfg__words_push(char ***words, size_t *n, char *w)
{
    char **a;

    if (w == NULL)
        return -1;
    a = realloc(*words, (*n + 2) * sizeof(char *));
    if (a == NULL) {
        free(w);
        return -1;
    }
    a[(*n)++] = w;
    a[*n] = NULL;
    *words = a;
    return 0;
}

char **
cfg_split_words(const char *s, size_t *count, char *err, size_t errlen)
{
    char **words = calloc(1, sizeof(char *));
    size_t n = 0, len = 0;
    char *w = malloc(strlen(s) + 1); /* no word is longer than s */
    bool in_word = false;
    const char *why = NULL;

    if (words == NULL || w == NULL) {
        why = "out of memory";
        goto fail;
    }
    for (; *s != '\0'; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n') {
            if (in_word) {
                w[len] = '\0';
                if (cfg__words_push(&words, &n, strdup(w)) < 0) {
                    why = "out of memory";
                    goto fail;
                }
                len = 0;
                in_word = false;
            }
        } else if (*s == '\'') {
            /* POSIX 2.2.2: everything up to the next ' is literal. */
            const char *end = strchr(s + 1, '\'');
            if (end == NULL) {
                why = "unterminated single quote";
                goto fail;
            }
            memcpy(w + len, s + 1, (size_t)(end - s - 1));
            len += (size_t)(end - s - 1);
            s = end;
            in_word = true;
        } else if (*s == '"') {
            /* POSIX 2.2.3: backslash escapes only \ " $ ` and newline. */
            for (s++; *s != '"'; s++) {
                if (*s == '\0') {
                    why = "unterminated double quote";
                    goto fail;
                }
                if (*s == '\\' && s[1] == '\n')
                    s++;
                else if (*s == '\\' && s[1] != '\0' &&
                         strchr("\\\"$`", s[1]) != NULL)
                    w[len++] = *++s;
                else
                    w[len++] = *s;
            }
            in_word = true;
        } else if (*s == '\\') {
            /* POSIX 2.2.1: escapes the next character; with a newline it
             * joins lines and makes no word. */
            if (s[1] == '\0') {
                why = "trailing backslash";
                goto fail;
            }
            s++;
            if (*s != '\n') {
                w[len++] = *s;
                in_word = true;
            }
        } else {
            w[len++] = *s;
            in_word = true;
        }
    }
    if (in_word) {
        w[len] = '\0';
        if (cfg__words_push(&words, &n, strdup(w)) < 0) {
            why = "out of memory";
            goto fail;
        }
    }
    if (n == 0) {
        why = "no command";
        goto fail;
    }
    free(w);
    if (count != NULL)
        *count = n;
    return words;
fail:
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", why);
    free(w);
    cfg_argv_free(words);
    return NULL;
}

/* Whether s is a host name (RFC 1123 section 2.1): letters, digits, '-'
 * and '.', not starting with '-', and with a letter somewhere, so that
 * a malformed dotted address is never sent to the resolver. */
static bool
is_host_name(const char *s)
{
    bool letter = false;
    size_t n = strlen(s);

    if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.')
        return false;
    for (const char *c = s; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))
            letter = true;
        else if (!((*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
            return false;
    }
    return letter;
}

/* The address name resolves to (/etc/hosts, then DNS), an IPv4 one if it
 * has one, as text into addr (INET6_ADDRSTRLEN). 0 or -1. */
static int
resolve(const char *name, char *addr)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res, *pick = NULL;

    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
        if (a->ai_family == AF_INET6 && pick == NULL)
            pick = a;
    }
    int r = -1;
    if (pick != NULL && pick->ai_family == AF_INET)
        r = inet_ntop(AF_INET, &((struct sockaddr_in *)pick->ai_addr)->sin_addr,
                      addr, INET6_ADDRSTRLEN)
                ? 0
                : -1;
    else if (pick != NULL)
        r = inet_ntop(AF_INET6,
                      &((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr,
                      addr, INET6_ADDRSTRLEN)
                ? 0
                : -1;
    freeaddrinfo(res);
    return r;
}

int
cfg_parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned char bin[sizeof(struct in6_addr)];
    const char *h, *p;
    size_t hlen;
    int family = AF_INET;
    long v = 0;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        p = close + 2;
        family = AF_INET6;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        h = s;
        hlen = (size_t)(colon - s);
        p = colon + 1;
    }
    if (hlen == 0 && family == AF_INET) {
        h = "0.0.0.0";
        hlen = strlen(h);
    }
    if (hlen >= sizeof(addr) || hlen >= hostlen)
        return -1;
    memcpy(addr, h, hlen);
    addr[hlen] = '\0';
    if (*p == '\0' || strlen(p) > 5)
        return -1;
    if (inet_pton(family, addr, bin) != 1 &&
        (family != AF_INET || !is_host_name(addr) || resolve(addr, addr) < 0))
        return -1;
    hlen = strlen(addr);
    if (hlen >= hostlen)
        return -1;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    memcpy(host, addr, hlen + 1);
    *port = (int)v;
    return 0;
}

bool
cfg_host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) != 1)
        return false;
    if (IN6_IS_ADDR_LOOPBACK(&a6))
        return true;
    /* An IPv4-mapped address (RFC 4291 section 2.5.5.2) of 127/8. */
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

enum cfg_dashboard
cfg_dashboard_mode(int setting, const char *listen_host)
{
    if (setting != DASHBOARD_AUTO)
        return (enum cfg_dashboard)setting;
    return cfg_host_is_loopback(listen_host) ? DASHBOARD_ON : DASHBOARD_OFF;
}

int
cfg_parse_duration(const char *s, int64_t max_ms, int64_t *ms)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
    int64_t v = 0, scale = 1000; /* bare digits are seconds */
    size_t n = strlen(s);

    if (n > 0 && (s[n - 1] < '0' || s[n - 1] > '9')) {
        scale = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (s[n - 1] == units[i].unit)
                scale = units[i].ms;
        if (scale == 0)
            return -1;
        n--;
    }
    if (n == 0 || n > 12)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max_ms / scale)
        return -1;
    *ms = v * scale;
    return 0;
}
