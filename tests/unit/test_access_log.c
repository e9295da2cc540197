/* SPDX-License-Identifier: MIT */
/* access_log: the Combined Log Format line with the time taken and the
 * job, fields escaped so that a request cannot forge a line, "-" for what
 * is missing; nothing written while off; a reopen after the file was
 * moved starts a new file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "access_log.h"

static char dir[] = "/tmp/kick-access-XXXXXX";
static char path[256], moved[256];

/* The whole file, NUL-terminated, in a static buffer. */
static const char *
slurp(const char *p)
{
    static char buf[8192];
    FILE *f = fopen(p, "r");
    size_t n = 0;

    if (f != NULL) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

/* The line without its time: what follows "] ". */
static const char *
after_time(const char *line)
{
    const char *p = strstr(line, "] \"");

    assert_non_null(p);
    return p + 2;
}

static int
setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/access.log", dir);
    snprintf(moved, sizeof(moved), "%s/access.log.1", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(path);
    unlink(moved);
    rmdir(dir);
    return 0;
}

static void
test_line_format(void **state)
{
    struct access_log a;
    struct access_entry e = {
        .remote_addr = "::1",
        .method = "POST", .method_len = 4,
        .target = "/report?a=1", .target_len = 11,
        .minor_version = 1,
        .status = 202, .bytes = 25,
        .user_agent = "kick/0.1.0", .user_agent_len = 10,
        .ns = 2345678901ULL, /* 2.345 s */
        .job = 42,
    };
    struct stat st;

    (void)state;
    unlink(path);
    assert_int_equal(access_log_open(&a, path), 0);
    access_log_add(&a, &e);
    /* Nothing is written before the flush (the end of a loop turn). */
    assert_string_equal(slurp(path), "");
    access_log_flush(&a);
    const char *text = slurp(path);
    assert_int_equal(strncmp(text, "::1 - - [", 9), 0);
    /* "06/Dec/2026:23:40:01 +0000" */
    assert_int_equal(text[9 + 2], '/');
    assert_int_equal(strncmp(text + 9 + 20, " +0000]", 7), 0);
    assert_string_equal(after_time(text),
                        "\"POST /report?a=1 HTTP/1.1\" 202 25 \"-\" "
                        "\"kick/0.1.0\" 2.345 job=42\n");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    access_log_close(&a);
}

static void
test_escaping_and_missing_fields(void **state)
{
    struct access_log a;
    /* A quote, a backslash, a newline, a tab, a byte above 0x7e: a
     * request cannot end a field or a line early. */
    static const char target[] = "/x\"y\\z\n\t\xc3\xa9";
    static const char referer[] = "http://e/\" 200 1 \"-\"";
    struct access_entry e = {
        .remote_addr = "127.0.0.1",
        .method = "GET", .method_len = 3,
        .target = target, .target_len = sizeof(target) - 1,
        .minor_version = 0,
        .status = 200, .bytes = 0,
        .referer = referer, .referer_len = sizeof(referer) - 1,
        .ns = 999999, /* 0.000 s */
        .job = -1,
    };
    struct access_entry bad = {
        .remote_addr = "",
        .status = 400, .bytes = 34,
        .ns = 1000000, /* 0.001 s */
        .job = -1,
    };

    (void)state;
    unlink(path);
    assert_int_equal(access_log_open(&a, path), 0);
    access_log_add(&a, &e);
    access_log_add(&a, &bad);
    access_log_close(&a);
    const char *text = slurp(path);
    const char *second = strchr(text, '\n');
    assert_non_null(second);
    assert_int_equal(strncmp(text, "127.0.0.1 - - [", 15), 0);
    char first[512];
    snprintf(first, sizeof(first), "%.*s", (int)(second + 1 - text), text);
    assert_string_equal(after_time(first),
                        "\"GET /x\\x22y\\x5Cz\\x0A\\x09\\xC3\\xA9 HTTP/1.0\" "
                        "200 0 \"http://e/\\x22 200 1 \\x22-\\x22\" \"-\" "
                        "0.000 job=-\n");
    /* Bytes that made no request, from an address not known. */
    assert_int_equal(strncmp(second + 1, "- - - [", 7), 0);
    assert_string_equal(after_time(second + 1),
                        "\"-\" 400 34 \"-\" \"-\" 0.001 job=-\n");
    assert_string_equal(strchr(second + 1, '\n'), "\n");
}

static void
test_off_writes_nothing_and_reopen_follows(void **state)
{
    struct access_log a;
    struct access_entry e = {
        .remote_addr = "127.0.0.1",
        .method = "GET", .method_len = 3,
        .target = "/one", .target_len = 4,
        .minor_version = 1, .status = 200, .job = -1,
    };

    (void)state;
    unlink(path);
    unlink(moved);
    assert_int_equal(access_log_open(&a, "off"), 0);
    access_log_add(&a, &e);
    access_log_flush(&a);
    assert_int_equal(access(path, F_OK), -1);
    /* off to a file, then the file is moved and opened again: the line
     * before the reopen is in the moved file, the next in a new one. */
    assert_int_equal(access_log_reopen(&a, path), 0);
    access_log_add(&a, &e);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(access_log_reopen(&a, path), 0);
    e.target = "/two";
    access_log_add(&a, &e);
    access_log_flush(&a);
    assert_non_null(strstr(slurp(moved), "\"GET /one HTTP/1.1\""));
    assert_null(strstr(slurp(moved), "/two"));
    assert_non_null(strstr(slurp(path), "\"GET /two HTTP/1.1\""));
    assert_null(strstr(slurp(path), "/one"));
    /* A file that cannot be opened: an error, and the old file stays. */
    assert_int_equal(access_log_reopen(&a, "/nonexistent/dir/log"),
                     -ENOENT);
    e.target = "/three";
    e.target_len = 6;
    access_log_add(&a, &e);
    access_log_close(&a);
    assert_non_null(strstr(slurp(path), "/three"));
    assert_int_equal(access_log_open(&a, "/nonexistent/dir/log"), -ENOENT);
    access_log_close(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_escaping_and_missing_fields),
        cmocka_unit_test(test_off_writes_nothing_and_reopen_follows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
