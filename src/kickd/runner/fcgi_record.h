/* SPDX-License-Identifier: MIT */
/* The FastCGI 1.0 record layer (the FastCGI Specification, Open Market,
 * 1996): the records a web server writes for a Responder request
 * (BEGIN_REQUEST, PARAMS, STDIN) and an incremental reader of those a
 * pool answers (STDOUT, STDERR, END_REQUEST). Pure: no I/O, no
 * allocation. */
#ifndef KICKD_FCGI_RECORD_H
#define KICKD_FCGI_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FCGI_VERSION_1 1
#define FCGI_HEADER_LEN 8
#define FCGI_MAX_CONTENT 65535 /* contentLength is 16 bits */

/* Record types (section 8). */
enum fcgi_type {
    FCGI_BEGIN_REQUEST = 1,
    FCGI_ABORT_REQUEST = 2,
    FCGI_END_REQUEST = 3,
    FCGI_PARAMS = 4,
    FCGI_STDIN = 5,
    FCGI_STDOUT = 6,
    FCGI_STDERR = 7,
    FCGI_DATA = 8,
    FCGI_GET_VALUES = 9,
    FCGI_GET_VALUES_RESULT = 10,
    FCGI_UNKNOWN_TYPE = 11,
};

#define FCGI_RESPONDER 1 /* role */
#define FCGI_KEEP_CONN 1 /* flag: the server keeps the connection open */

/* FCGI_END_REQUEST's protocolStatus (section 5.5). */
enum fcgi_protocol_status {
    FCGI_REQUEST_COMPLETE = 0,
    FCGI_CANT_MPX_CONN = 1,
    FCGI_OVERLOADED = 2,
    FCGI_UNKNOWN_ROLE = 3,
};

/* The bytes of one record of len bytes of content, padded to a multiple
 * of 8 as section 3.3 recommends (and libfcgi does). */
#define FCGI_RECORD_SIZE(len)                                                  \
    (FCGI_HEADER_LEN + (((size_t)(len) + 7) & ~(size_t)7))

/* Writes one record (len <= FCGI_MAX_CONTENT) to out, which has room for
 * FCGI_RECORD_SIZE(len); returns that size. content may be NULL when len
 * is 0: the empty record that ends a stream. */
size_t
fcgi_record_format(unsigned char *out, enum fcgi_type type, uint16_t id,
                   const void *content, size_t len);

/* FCGI_BEGIN_REQUEST for a Responder (section 5.1), with FCGI_KEEP_CONN
 * if keep_conn; out has room for FCGI_RECORD_SIZE(8). */
size_t
fcgi_begin_request_format(unsigned char *out, uint16_t id, bool keep_conn);

/* The PARAMS stream (sections 3.4 and 5.2) of pairs, "NAME=VALUE"
 * strings (NULL-ended): records holding whole name-value pairs (PHP-FPM
 * reads each record's pairs alone), then the empty record that ends the
 * stream. fcgi_params_size gives the bytes, or -E2BIG if one pair does
 * not fit in a record; fcgi_params_format writes them. */
ssize_t
fcgi_params_size(char *const *pairs);
size_t
fcgi_params_format(unsigned char *out, uint16_t id, char *const *pairs);

/* len (> 0) bytes of the STDIN stream, in records of at most
 * FCGI_MAX_CONTENT. The stream ends with an empty record
 * (fcgi_record_format). */
size_t
fcgi_stdin_size(size_t len);
size_t
fcgi_stdin_format(unsigned char *out, uint16_t id, const char *data,
                  size_t len);

/* What a pool's bytes gave. */
enum fcgi_event_kind {
    FCGI_EV_NONE,   /* nothing yet: more bytes are needed */
    FCGI_EV_STDOUT, /* data, len: a piece of the STDOUT stream */
    FCGI_EV_STDERR, /* data, len: a piece of the STDERR stream */
    FCGI_EV_END,    /* FCGI_END_REQUEST: the request is over */
};

struct fcgi_event {
    enum fcgi_event_kind kind;
    const char *data; /* in the caller's buffer */
    size_t len;
    bool last;        /* the piece ends its record (PHP-FPM writes a
                       * STDERR message as one record, with no newline) */
    uint32_t app_status;  /* END */
    int protocol_status;  /* END: enum fcgi_protocol_status, or other */
};

/* The reader of one request's answer. */
struct fcgi_parser {
    uint16_t id;        /* the request's id */
    unsigned char head[FCGI_HEADER_LEN];
    size_t head_len;    /* bytes of the record's header read */
    int type;
    size_t content_left; /* of the current record */
    size_t padding_left;
    unsigned char body[8]; /* END_REQUEST's content */
    size_t body_len;
    bool ended;         /* END_REQUEST read: nothing may follow */
    const char *error;  /* why, after FCGI_BAD (static) */
};

#define FCGI_BAD (-1)

void
fcgi_parser_init(struct fcgi_parser *p, uint16_t id);

/* Reads buf (len bytes, any split of the stream) up to the next event:
 * returns the bytes consumed (more than 0 when len is) with *ev, or
 * FCGI_BAD with p->error: a version other than 1, a record type a server
 * does not send, another request's record, a bad length, or bytes after
 * FCGI_END_REQUEST. Management records (FCGI_GET_VALUES_RESULT,
 * FCGI_UNKNOWN_TYPE) are skipped. */
ssize_t
fcgi_parse(struct fcgi_parser *p, const char *buf, size_t len,
           struct fcgi_event *ev);

#endif
