/* SPDX-License-Identifier: MIT */
/* abort_probe: the CGI program behind the benchmark's hang-up figures. It
 * answers "ready", then waits (or, run as "abort_probe write", writes one
 * byte every millisecond, for a route with abort = write, where the
 * hang-up ends the script at its next write); when SIGTERM arrives it
 * writes the wall-clock time (CLOCK_REALTIME, ns) to the file named by its
 * query string (f=PATH), so that the client can tell how long its hang-up
 * took to reach it. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longer than any file name the benchmark makes, with ".tmp" after it. */
#define PATH_MAX_LEN 512
/* With no SIGTERM after this long, something is wrong: end anyway, so that
 * no probe outlives the benchmark. SIGALRM's default action ends us. */
#define GIVE_UP 10 /* s */
/* The write mode's period: a byte every millisecond. */
#define WRITE_PERIOD 1000000 /* ns */

/* Set before the handler is installed and only read by it. */
static char out_path[PATH_MAX_LEN];
static char tmp_path[PATH_MAX_LEN + 4];

static void
write_all(int fd, const char *p, size_t left)
{
    while (left > 0) {
        ssize_t n = write(fd, p, left);

        if (n <= 0)
            return;
        p += n;
        left -= (size_t)n;
    }
}

/* Only async-signal-safe calls (POSIX.1-2017 section 2.4.3). The time goes
 * to a temporary file renamed into place, so that the reader, who polls,
 * never sees half a number. */
static void
on_term(int sig)
{
    struct timespec ts;
    char buf[32], *p = buf + sizeof(buf);
    unsigned long long ns;
    int fd;

    (void)sig;
    clock_gettime(CLOCK_REALTIME, &ts);
    ns = (unsigned long long)ts.tv_sec * 1000000000ULL +
         (unsigned long long)ts.tv_nsec;
    *--p = '\n';
    do {
        *--p = (char)('0' + ns % 10);
        ns /= 10;
    } while (ns > 0);
    fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        write_all(fd, p, (size_t)(buf + sizeof(buf) - p));
        close(fd);
        rename(tmp_path, out_path);
    }
    _exit(0);
}

/* Writes a byte every WRITE_PERIOD until a signal ends the probe. A failed
 * write (kickd closed the pipe: EPIPE, SIGPIPE being ignored) changes
 * nothing: only SIGTERM counts. */
static void
write_every_ms(void)
{
    const struct timespec period = {0, WRITE_PERIOD};

    for (;;) {
        if (write(STDOUT_FILENO, ".", 1) < 0 && errno != EPIPE)
            _exit(1);
        nanosleep(&period, NULL);
    }
}

int
main(int argc, char **argv)
{
    static const char resp[] = "Content-Type: text/plain\r\n\r\nready\n";
    const char *q = getenv("QUERY_STRING");
    struct sigaction sa;

    /* The path goes raw, not percent-encoded: the benchmark makes it out
     * of characters that need no encoding (RFC 3986 section 3.4). */
    if (q == NULL || strncmp(q, "f=", 2) != 0 || q[2] == '\0' ||
        strlen(q + 2) >= sizeof(out_path)) {
        static const char bad[] = "Status: 400\r\n"
                                  "Content-Type: text/plain\r\n\r\n"
                                  "usage: ?f=PATH\n";
        write_all(STDOUT_FILENO, bad, sizeof(bad) - 1);
        return 1;
    }
    memcpy(out_path, q + 2, strlen(q + 2) + 1);
    snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", out_path);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    alarm(GIVE_UP);

    /* One write(2): the answer reaches the client as it is written. */
    write_all(STDOUT_FILENO, resp, sizeof(resp) - 1);
    if (argc > 1 && strcmp(argv[1], "write") == 0)
        write_every_ms();
    for (;;)
        pause();
}
