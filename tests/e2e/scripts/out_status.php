<?php
// Live-output test script for a detached php-cgi job: how=code sets the
// status with http_response_code(201), how=header with a "Status: 202
// Accepted" header; the Content-Type is text/csv; the body is three lines
// written with flushes and a short sleep between them.
if (($_GET['how'] ?? 'code') === 'header') {
    header('Status: 202 Accepted');
} else {
    http_response_code(201);
}
header('Content-Type: text/csv; charset=utf-8');
echo "a,b\n";
flush();
usleep(50000);
echo "1,2\n";
flush();
echo "Status: not a header\n";
