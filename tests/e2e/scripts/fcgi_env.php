<?php
// What PHP was told of its request, as JSON: CGI variables, what PHP
// parsed, the ini settings kickd sets per request (PHP_VALUE), the body's
// length and md5, and the process that ran it (test_fastcgi.py). us: the
// microseconds it first sleeps; pad: bytes of padding it adds.
header('Content-Type: application/json');
usleep((int)($_GET['us'] ?? 0));
$keys = ['REQUEST_METHOD', 'QUERY_STRING', 'SCRIPT_NAME', 'PATH_INFO',
         'SCRIPT_FILENAME', 'CONTENT_TYPE', 'CONTENT_LENGTH',
         'SERVER_PROTOCOL', 'GATEWAY_INTERFACE', 'REMOTE_ADDR',
         'HTTP_X_TEST', 'KICK_JOB_ID', 'KICK_ATTEMPT', 'REDIRECT_STATUS'];
$server = [];
foreach ($keys as $k)
    $server[$k] = $_SERVER[$k] ?? null;
$body = file_get_contents('php://input');
echo json_encode([
    'server' => $server,
    'get' => (object)$_GET,
    'post' => (object)$_POST,
    'cookie' => (object)$_COOKIE,
    'ini' => ['ignore_user_abort' => ini_get('ignore_user_abort'),
              'max_execution_time' => ini_get('max_execution_time')],
    'body_len' => strlen($body),
    'body_md5' => md5($body),
    'pid' => getmypid(),
    'pad' => str_repeat('p', (int)($_GET['pad'] ?? 0)),
], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
