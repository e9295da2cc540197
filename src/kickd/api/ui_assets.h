/* SPDX-License-Identifier: MIT */
/* The dashboard page's files, built into kickd: tools/embed.py writes
 * build/gen/ui_assets.c from the files directly in ui/ at build time, so
 * that nothing is read from disk or fetched elsewhere when kickd runs. */
#ifndef KICKD_UI_ASSETS_H
#define KICKD_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
    const char *path;  /* "/" (ui/index.html) or "/_kick/ui/NAME" */
    const char *ctype; /* by the file's extension */
    const unsigned char *data;
    size_t len;
    const char *etag;  /* a quoted hash of the bytes (RFC 9110 8.8.3) */
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_asset_count;

#endif
