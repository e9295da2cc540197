/* SPDX-License-Identifier: MIT */
/* kickd's log: one line per event on stderr, with time and level. */
#ifndef KICKD_LOG_H
#define KICKD_LOG_H

void
log_msg(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_info(...) log_msg("info", __VA_ARGS__)
#define log_warn(...) log_msg("warn", __VA_ARGS__)
#define log_error(...) log_msg("error", __VA_ARGS__)

#endif
