/* SPDX-License-Identifier: MIT */
/* The FastCGI 1.0 record layer: records written for a Responder request,
 * and the reader of a pool's answer. Section numbers are those of the
 * FastCGI Specification. */
#include <errno.h>
#include <string.h>

#include "fcgi_record.h"

/* Writes a record's header for len bytes of content, and the padding
 * after that content; returns the record's size. */
static size_t
header_put(unsigned char *out, enum fcgi_type type, uint16_t id, size_t len)
{
    size_t padding = FCGI_RECORD_SIZE(len) - FCGI_HEADER_LEN - len;

    /* FCGI_Header (section 8): version, type, requestId and
     * contentLength big-endian, paddingLength, reserved. */
    out[0] = FCGI_VERSION_1;
    out[1] = (unsigned char)type;
    out[2] = (unsigned char)(id >> 8);
    out[3] = (unsigned char)id;
    out[4] = (unsigned char)(len >> 8);
    out[5] = (unsigned char)len;
    out[6] = (unsigned char)padding;
    out[7] = 0;
    memset(out + FCGI_HEADER_LEN + len, 0, padding);
    return FCGI_HEADER_LEN + len + padding;
}

size_t
fcgi_record_format(unsigned char *out, enum fcgi_type type, uint16_t id,
                   const void *content, size_t len)
{
    if (len > 0)
        memcpy(out + FCGI_HEADER_LEN, content, len);
    return header_put(out, type, id, len);
}

size_t
fcgi_begin_request_format(unsigned char *out, uint16_t id, bool keep_conn)
{
    /* FCGI_BeginRequestBody: role (2 bytes), flags, reserved[5]. */
    unsigned char body[8] = {0, FCGI_RESPONDER, keep_conn ? FCGI_KEEP_CONN : 0};

    return fcgi_record_format(out, FCGI_BEGIN_REQUEST, id, body, sizeof(body));
}

/* A length of a name-value pair (section 3.4): one byte below 128, else
 * four with the high bit set. */
static size_t
length_size(size_t n)
{
    return n < 128 ? 1 : 4;
}

static unsigned char *
length_put(unsigned char *p, size_t n)
{
    if (n < 128) {
        *p++ = (unsigned char)n;
        return p;
    }
    *p++ = (unsigned char)(0x80 | (n >> 24));
    *p++ = (unsigned char)(n >> 16);
    *p++ = (unsigned char)(n >> 8);
    *p++ = (unsigned char)n;
    return p;
}

/* A "NAME=VALUE" string's name length, and its encoded pair's size. */
static size_t
pair_size(const char *s, size_t *name_len)
{
    const char *eq = strchr(s, '=');
    size_t total = strlen(s);
    size_t n = eq ? (size_t)(eq - s) : total;
    size_t v = eq ? total - n - 1 : 0;

    *name_len = n;
    return length_size(n) + length_size(v) + n + v;
}

static unsigned char *
pair_put(unsigned char *p, const char *s, size_t name_len)
{
    const char *value = s[name_len] == '=' ? s + name_len + 1 : "";
    size_t v = strlen(value);

    p = length_put(p, name_len);
    p = length_put(p, v);
    memcpy(p, s, name_len);
    memcpy(p + name_len, value, v);
    return p + name_len + v;
}

/* Packs whole pairs into records, writing them to out unless it is NULL.
 * Returns the bytes of the records and the empty one that ends the
 * stream, or -E2BIG. */
static ssize_t
params_walk(char *const *pairs, uint16_t id, unsigned char *out)
{
    size_t total = 0, i = 0, name_len;

    while (pairs[i]) {
        size_t first = i, content = 0;
        while (pairs[i]) {
            size_t n = pair_size(pairs[i], &name_len);
            if (n > FCGI_MAX_CONTENT)
                return -E2BIG;
            if (content + n > FCGI_MAX_CONTENT)
                break;
            content += n;
            i++;
        }
        if (out) {
            unsigned char *p = out + total + FCGI_HEADER_LEN;
            for (size_t k = first; k < i; k++) {
                pair_size(pairs[k], &name_len);
                p = pair_put(p, pairs[k], name_len);
            }
            /* The content is in place: the header and padding go around
             * it. */
            header_put(out + total, FCGI_PARAMS, id, content);
        }
        total += FCGI_RECORD_SIZE(content);
    }
    if (out)
        fcgi_record_format(out + total, FCGI_PARAMS, id, NULL, 0);
    return (ssize_t)(total + FCGI_RECORD_SIZE(0));
}

ssize_t
fcgi_params_size(char *const *pairs)
{
    return params_walk(pairs, 0, NULL);
}

size_t
fcgi_params_format(unsigned char *out, uint16_t id, char *const *pairs)
{
    return (size_t)params_walk(pairs, id, out);
}

size_t
fcgi_stdin_size(size_t len)
{
    size_t full = len / FCGI_MAX_CONTENT, rest = len % FCGI_MAX_CONTENT;

    return full * FCGI_RECORD_SIZE(FCGI_MAX_CONTENT) +
           (rest ? FCGI_RECORD_SIZE(rest) : 0);
}

size_t
fcgi_stdin_format(unsigned char *out, uint16_t id, const char *data,
                  size_t len)
{
    size_t n = 0;

    while (len > 0) {
        size_t k = len < FCGI_MAX_CONTENT ? len : FCGI_MAX_CONTENT;
        n += fcgi_record_format(out + n, FCGI_STDIN, id, data, k);
        data += k;
        len -= k;
    }
    return n;
}

void
fcgi_parser_init(struct fcgi_parser *p, uint16_t id)
{
    *p = (struct fcgi_parser){.id = id};
}

static ssize_t
bad(struct fcgi_parser *p, const char *why)
{
    p->error = why;
    return FCGI_BAD;
}

/* Checks a complete record header and starts its record. 0 or FCGI_BAD. */
static int
header_take(struct fcgi_parser *p)
{
    const unsigned char *h = p->head;
    unsigned id = (unsigned)h[2] << 8 | h[3];
    size_t len = (size_t)h[4] << 8 | h[5];

    if (h[0] != FCGI_VERSION_1)
        return bad(p, "not FastCGI version 1");
    p->type = h[1];
    p->content_left = len;
    p->padding_left = h[6];
    p->body_len = 0;
    switch (p->type) {
    case FCGI_STDOUT:
    case FCGI_STDERR:
        return id == p->id ? 0 : bad(p, "a record of another request");
    case FCGI_END_REQUEST:
        if (id != p->id)
            return bad(p, "a record of another request");
        return len == 8 ? 0 : bad(p, "FCGI_END_REQUEST of a bad length");
    case FCGI_UNKNOWN_TYPE:
        /* The answer to a management record of ours (section 4.2): kickd
         * sends none, and skips it. */
        if (len != 8)
            return bad(p, "FCGI_UNKNOWN_TYPE of a bad length");
        /* fall through */
    case FCGI_GET_VALUES_RESULT:
        return id == 0 ? 0 : bad(p, "a management record with a request id");
    default:
        return bad(p, "a record type a server does not send");
    }
}

/* The record is complete: an END_REQUEST's event, or nothing. */
static void
record_end(struct fcgi_parser *p, struct fcgi_event *ev)
{
    const unsigned char *b = p->body;

    p->head_len = 0;
    if (p->type != FCGI_END_REQUEST)
        return;
    /* FCGI_EndRequestBody: appStatus (4 bytes, big-endian),
     * protocolStatus, reserved[3]. */
    ev->kind = FCGI_EV_END;
    ev->app_status = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                     (uint32_t)b[2] << 8 | b[3];
    ev->protocol_status = b[4];
    p->ended = true;
}

ssize_t
fcgi_parse(struct fcgi_parser *p, const char *buf, size_t len,
           struct fcgi_event *ev)
{
    size_t used = 0;

    *ev = (struct fcgi_event){.kind = FCGI_EV_NONE};
    if (p->ended && len > 0)
        return bad(p, "bytes after FCGI_END_REQUEST");
    while (used < len) {
        size_t avail = len - used, k;
        if (p->head_len < FCGI_HEADER_LEN) {
            k = FCGI_HEADER_LEN - p->head_len;
            k = k < avail ? k : avail;
            memcpy(p->head + p->head_len, buf + used, k);
            p->head_len += k;
            used += k;
            if (p->head_len < FCGI_HEADER_LEN)
                break;
            if (header_take(p) < 0)
                return FCGI_BAD;
            avail = len - used;
        }
        k = p->content_left < avail ? p->content_left : avail;
        if (k > 0 && (p->type == FCGI_STDOUT || p->type == FCGI_STDERR)) {
            /* A piece of a stream: handed on as it is, in place. */
            ev->kind = p->type == FCGI_STDOUT ? FCGI_EV_STDOUT
                                              : FCGI_EV_STDERR;
            ev->data = buf + used;
            ev->len = k;
            p->content_left -= k;
            ev->last = p->content_left == 0;
            return (ssize_t)(used + k);
        }
        if (k > 0 && p->type == FCGI_END_REQUEST)
            memcpy(p->body + p->body_len, buf + used, k);
        p->body_len += k;
        p->content_left -= k;
        used += k;
        avail -= k;
        k = p->padding_left < avail ? p->padding_left : avail;
        p->padding_left -= k;
        used += k;
        if (p->content_left > 0 || p->padding_left > 0)
            break;
        record_end(p, ev);
        if (ev->kind == FCGI_EV_END)
            break;
    }
    return (ssize_t)used;
}
