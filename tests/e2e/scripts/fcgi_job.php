<?php
// A job's script for the fastcgi runner: answers 201 with a type of its
// own, writes a line of output and a message to stderr (PHP-FPM sends it
// as FCGI_STDERR). f: a file that gets "attempt N" when it starts; s:
// seconds it then sleeps on its first attempt (KICK_ATTEMPT 1).
http_response_code(201);
header('Content-Type: application/x-kick-test');
while (ob_get_level())
    ob_end_flush();
$attempt = (int)($_SERVER['KICK_ATTEMPT'] ?? 0);
echo "job ", $_SERVER['KICK_JOB_ID'] ?? '', " attempt $attempt\n";
flush();
error_log("a message to stderr");
if (isset($_GET['f']))
    file_put_contents($_GET['f'], "attempt $attempt\n", FILE_APPEND);
if ($attempt == 1)
    sleep((int)($_GET['s'] ?? 0));
echo "finished\n";
