/* SPDX-License-Identifier: MIT */
/* The job API's errors (api_error.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "conn.h"
#include "kick_limits.h"

void
api_error_reply(struct conn *c, int status, const char *reason,
                const char *extra)
{
    static const char oom[] = "{\"error\":\"out of memory\"}\n";
    char clean[API_MAX_REPLY / 4];
    size_t i = 0;

    if (c == NULL) /* its client has gone (a retry is carried out still) */
        return;
    for (; reason[i] && i + 1 < sizeof(clean); i++)
        clean[i] = reason[i] >= 0x20 && reason[i] < 0x7f ? reason[i] : '?';
    clean[i] = '\0';
    json_t *j = json_pack("{s:s}", "error", clean);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (text == NULL) {
        conn_reply(c, 503, "application/json", oom, sizeof(oom) - 1, NULL);
        return;
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* over the NUL: conn_reply takes a length */
    conn_reply(c, status, "application/json", text, n + 1, extra);
    free(text);
}
