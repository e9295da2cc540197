/* SPDX-License-Identifier: MIT */
/* libFuzzer target of auth.c on a request's header fields: the bearer
 * token and the session cookie among any cookies (auth_check), and the
 * rule for changes (auth_change_check, its Origin against its Host).
 * The input is the header block after a fixed request line; what the
 * request parser takes is given to both, which must not read out of the
 * fields and must agree with what the fields hold: the cookie counts
 * only when allowed, and a change is refused only with a reason. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "http_parse.h"

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static const char LINE[] = "DELETE /jobs/1 HTTP/1.1\r\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = sizeof(LINE) - 1 + size;
    char *buf = malloc(n);
    struct http_request req;

    if (buf == NULL)
        return 0;
    memcpy(buf, LINE, sizeof(LINE) - 1);
    if (size > 0)
        memcpy(buf + sizeof(LINE) - 1, data, size);
    if (http_parse_request(buf, n, &req) > 0) {
        enum auth_by off = auth_check("s3cret", &req, false);
        enum auth_by on = auth_check("s3cret", &req, true);
        REQUIRE(auth_check(NULL, &req, true) == AUTH_OPEN);
        REQUIRE(off == AUTH_BEARER || off == AUTH_NONE);
        REQUIRE(on == off || (off == AUTH_NONE && on == AUTH_COOKIE));
        for (int by = AUTH_OPEN; by <= AUTH_NONE; by++) {
            for (int ro = 0; ro < 2; ro++) {
                const char *why = NULL;
                int r = auth_change_check(&req, (enum auth_by)by, ro, &why);
                REQUIRE(r == 0 || (r == 403 && why != NULL));
                /* The bearer alone, no header, read-only or not: never
                 * refused. */
                if (by == AUTH_BEARER &&
                    http_find_header(&req, AUTH_CHANGE_HEADER) == NULL)
                    REQUIRE(r == 0);
            }
        }
    }
    free(buf);
    return 0;
}
