<?php
// Writes a 100-byte line every us microseconds, n times, then "end" to the
// file f. Its shutdown function appends "status=N" (connection_status()).
// ign=1: ignore_user_abort(true). buf=1: keeps PHP's output buffer (Debian:
// output_buffering = 4096), otherwise every line reaches kickd at once.
$f = $_GET['f'];
$n = (int)($_GET['n'] ?? 40);
$us = (int)($_GET['us'] ?? 100000);
if (!empty($_GET['ign']))
    ignore_user_abort(true);
register_shutdown_function(function () use ($f) {
    file_put_contents($f, "status=" . connection_status() . "\n", FILE_APPEND);
});
if (empty($_GET['buf']))
    while (ob_get_level())
        ob_end_flush();
for ($i = 0; $i < $n; $i++) {
    echo str_repeat("x", 99), "\n";
    flush();
    file_put_contents($f, "step=$i cs=" . connection_status() . "\n",
                      FILE_APPEND);
    usleep($us);
}
file_put_contents($f, "end\n", FILE_APPEND);
