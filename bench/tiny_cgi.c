/* SPDX-License-Identifier: MIT */
/* tiny_cgi: the trivial CGI program the benchmark runs: one header, one
 * line of body, exit 0. One write(2) and no stdio, so that what is measured
 * is the cost of running a program, not the program. */

#include <unistd.h>

int
main(void)
{
    static const char resp[] = "Content-Type: text/plain\r\n\r\nok\n";
    const char *p = resp;
    size_t left = sizeof(resp) - 1;

    while (left > 0) {
        ssize_t n = write(STDOUT_FILENO, p, left);

        if (n < 0)
            return 1;
        p += n;
        left -= (size_t)n;
    }
    return 0;
}
