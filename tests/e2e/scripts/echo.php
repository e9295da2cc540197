<?php
// Echoes what PHP parsed from the request, as JSON.
header('Content-Type: application/json');
$files = [];
foreach ($_FILES as $k => $f) {
    $files[$k] = [
        'name' => $f['name'], 'type' => $f['type'], 'size' => $f['size'],
        'error' => $f['error'],
        'content' => $f['error'] === 0
            ? base64_encode(file_get_contents($f['tmp_name'])) : null,
    ];
}
echo json_encode([
    'method' => $_SERVER['REQUEST_METHOD'],
    'get' => (object)$_GET,
    'post' => (object)$_POST,
    'cookie' => (object)$_COOKIE,
    'files' => (object)$files,
], JSON_UNESCAPED_UNICODE), "\n";
