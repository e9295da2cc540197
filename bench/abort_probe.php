<?php
// SPDX-License-Identifier: MIT
// abort_probe.php: the benchmark's reference for when real php-cgi notices a
// hang-up under kickd. It answers "ready", then writes one byte every 1 ms;
// PHP notices the abort only when one of its writes fails, and its shutdown
// function then writes the wall-clock time (ns) to the file named by ?f=PATH.

// Debian's php.ini sets output_buffering = 4096, which can only be changed
// per directory, not by ini_set(): empty and close PHP's buffers instead,
// or the bytes below would stay in PHP and no write would fail.
while (ob_get_level() > 0) {
    ob_end_flush();
}
ob_implicit_flush(true);

$path = $_GET['f'] ?? '';
if ($path === '') {
    header('Status: 400');
    echo "usage: ?f=PATH\n";
    exit(1);
}

register_shutdown_function(function () use ($path) {
    // microtime() as "FRACTION SECONDS", exact to the microsecond, on the
    // same clock as the client's time.time_ns() (CLOCK_REALTIME); hrtime()
    // would be monotonic and not comparable.
    [$frac, $sec] = explode(' ', microtime());
    $ns = (int)$sec * 1000000000 + (int)round((float)$frac * 1e9);
    // Written aside and renamed, so that the polling reader never sees half
    // a number.
    file_put_contents($path . '.tmp', $ns . "\n");
    rename($path . '.tmp', $path);
});

header('Content-Type: text/plain');
echo "ready\n";
flush();
// A backstop, as in the C probe: no run outlives the benchmark.
$deadline = microtime(true) + 10;
while (microtime(true) < $deadline) {
    echo '.';
    flush();
    usleep(1000);
}
