<?php
// The original article's script: the caller may hang up at once.
// Works for s seconds, writing output now and then, then appends "done"
// to the file f. Its shutdown function appends "status=N".
ignore_user_abort(true);
set_time_limit(0);
$f = $_GET['f'];
register_shutdown_function(function () use ($f) {
    file_put_contents($f, "status=" . connection_status() . "\n", FILE_APPEND);
});
while (ob_get_level())
    ob_end_flush();
echo "accepted\n";
flush();
$end = microtime(true) + (float)($_GET['s'] ?? 2);
while (microtime(true) < $end) {
    echo "working\n";
    flush();
    usleep(100000);
}
file_put_contents($f, "done\n", FILE_APPEND);
