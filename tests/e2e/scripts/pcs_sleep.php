<?php
// Sleeps s seconds without any output, then appends "end" to the file f.
// Its shutdown function appends "status=N" (connection_status()) and
// "kick=N" (kickd's view, from `kick ctl status`).
// ign=1: ignore_user_abort(true); stl=N: set_time_limit(N); sd=N: the
// shutdown function then sleeps N seconds and appends "sd-end".
$f = $_GET['f'];
if (!empty($_GET['ign']))
    ignore_user_abort(true);
if (isset($_GET['stl']))
    set_time_limit((int)$_GET['stl']);
register_shutdown_function(function () use ($f) {
    $kick = trim((string)shell_exec('kick ctl status 2>&1'));
    file_put_contents($f, "status=" . connection_status() . "\nkick=$kick\n",
                      FILE_APPEND);
    if (!empty($_GET['sd'])) {
        sleep((int)$_GET['sd']);
        file_put_contents($f, "sd-end\n", FILE_APPEND);
    }
});
sleep((int)($_GET['s'] ?? 5));
file_put_contents($f, "end\n", FILE_APPEND);
