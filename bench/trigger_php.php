<?php
// SPDX-License-Identifier: MIT
// trigger_php: the original article's way to trigger from PHP, timed: for
// each trigger fsockopen(), one fwrite() of the request, fclose(), and no
// read. The request is a correct one (the article's was malformed, issue
// 5), the same bytes libkick sends for a POST of a=1, built for each
// trigger from the URL and the fields as the article's function does.
// Usage: php trigger_php.php N URL. Prints us/trigger after 100 untimed.

const WARMUP = 100; // as trigger_libkick

require __DIR__ . '/fire_and_forget.php';

if ($argc !== 3 || (int)$argv[1] <= 0) {
    fwrite(STDERR, "usage: php trigger_php.php N URL\n");
    exit(2);
}
$n = (int)$argv[1];
$url = $argv[2];
try {
    for ($i = -WARMUP; $i < $n; $i++) {
        if ($i === 0) {
            $t0 = hrtime(true);
        }
        trigger_request($url, ['a' => '1'], "User-Agent: kick/0.1.0\r\n",
                        "Prefer: respond-async\r\n");
    }
} catch (RuntimeException $e) {
    fwrite(STDERR, "trigger_php: trigger $i: " . $e->getMessage() . "\n");
    exit(1);
}
$t = (hrtime(true) - $t0) / 1e9;
printf("triggers %d seconds %.3f us/trigger %.2f\n", $n, $t, $t * 1e6 / $n);
