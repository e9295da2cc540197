<?php
// kick ctl from a PHP-FPM script: a child process gets the worker's
// environment, not the request's, so KICK_CONTROL is handed on with
// putenv() (PHP undoes it at the request's end). KICK_BIN: the kick
// binary (the route's env). Prints what kick ctl status says.
header('Content-Type: text/plain');
$kick = escapeshellarg($_SERVER['KICK_BIN']);
echo "before=", getenv('KICK_CONTROL') !== false ? 'param' : 'none', "\n";
putenv('KICK_CONTROL=' . $_SERVER['KICK_CONTROL']);
shell_exec("$kick ctl progress 50 halfway 2>&1");
echo "status=", trim((string)shell_exec("$kick ctl status 2>&1")), "\n";
