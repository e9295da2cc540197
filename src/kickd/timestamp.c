/* SPDX-License-Identifier: MIT */
/* RFC 3339 date-times (section 5.6's grammar) and epoch milliseconds
 * parsed by hand: the text comes from a request's query. */
#include <stdbool.h>
#include <time.h>

#include "timestamp.h"

/* 9999-12-31T23:59:59.999Z: the largest a date-time can say. */
#define TIMESTAMP_MAX_MS 253402300799999LL

/* The k digits at s as a number, or -1 if one is no digit. */
static int
digits(const char *s, int k)
{
    int v = 0;

    for (int i = 0; i < k; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool
is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* RFC 3339 section 5.7: the days of a month. */
static int
month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int
epoch_ms(const char *s, size_t n, int64_t *ms)
{
    int64_t v = 0;

    if (n == 0 || n > 15)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > TIMESTAMP_MAX_MS)
        return -1;
    *ms = v;
    return 0;
}

/* time-offset = "Z" / ("+" / "-") time-hour ":" time-minute, at s (n
 * bytes): its shift east of UTC in minutes into *east. 0 or -1. */
static int
offset_parse(const char *s, size_t n, int *east)
{
    if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
        *east = 0;
        return 0;
    }
    if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
        return -1;
    int h = digits(s + 1, 2), m = digits(s + 4, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59)
        return -1;
    *east = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
    return 0;
}

/* date-time = full-date "T" partial-time time-offset. */
static int
rfc3339_parse(const char *s, size_t n, int64_t *ms)
{
    int y, mo, d, h, mi, sec, east, frac = 0;
    size_t i = 19;

    if (n < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
        return -1;
    y = digits(s, 4);
    mo = digits(s + 5, 2);
    d = digits(s + 8, 2);
    h = digits(s + 11, 2);
    mi = digits(s + 14, 2);
    sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h < 0 ||
        h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return -1;
    /* time-secfrac = "." 1*DIGIT; ms are kept, the rest cut. */
    if (s[i] == '.') {
        size_t start = ++i;
        int scale = 100; /* 0 from the fourth digit on */
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac += (s[i] - '0') * scale;
        if (i == start)
            return -1;
    }
    if (offset_parse(s + i, n - i, &east) < 0)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    int64_t t = (int64_t)timegm(&tm) - (int64_t)east * 60;
    /* An offset or a leap second can move the instant out of 1970-9999. */
    if (t < 0 || t * 1000 + frac > TIMESTAMP_MAX_MS)
        return -1;
    *ms = t * 1000 + frac;
    return 0;
}

int
timestamp_parse(const char *s, size_t n, int64_t *ms)
{
    if (n == 0 || n > TIMESTAMP_MAX_LEN)
        return -1;
    if (n > 4 && s[4] == '-')
        return rfc3339_parse(s, n, ms);
    return epoch_ms(s, n, ms);
}
