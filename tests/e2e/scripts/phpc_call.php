<?php
// Runs clients/php/Kick.php for the PHP client tests (php-cli, not a
// route): reads a JSON call from stdin and prints one JSON line:
// {"ok": result} or {"error": class, "message": text, "status": code}.
// Call: {"url", "mode", "request", "options"}, or {"build": true, ...}
// for the request bytes (base64), or {"job": "get|cancel|wait", "server",
// "id", "wait"}.
$kick = getenv('KICK_PHP_CLIENT');
if ($kick === false || !is_file($kick)) {
    fwrite(STDERR, "phpc_call: KICK_PHP_CLIENT is not a file\n");
    exit(2);
}
require $kick;

$call = json_decode(stream_get_contents(STDIN), true, 512,
                    JSON_THROW_ON_ERROR);
try {
    $client = new Kick\Client($call['options'] ?? []);
    if (isset($call['job'])) {
        $r = match ($call['job']) {
            'get' => $client->getJob($call['server'], $call['id'],
                                     $call['wait'] ?? 0),
            'cancel' => $client->cancelJob($call['server'], $call['id']),
            'wait' => $client->waitJob($call['server'], $call['id'],
                                       $call['max_wait'] ?? null),
        };
    } elseif (!empty($call['build'])) {
        $r = base64_encode($client->buildRequest($call['url'],
                                                 $call['request'] ?? []));
    } else {
        $r = $client->trigger($call['url'], $call['request'] ?? [],
                              $call['mode'] ?? Kick\Client::ACCEPTED);
        $r['body'] = base64_encode($r['body']);
    }
    echo json_encode(['ok' => $r], JSON_UNESCAPED_SLASHES), "\n";
} catch (Kick\KickException $e) {
    echo json_encode(['error' => get_class($e), 'message' => $e->getMessage(),
                      'status' => $e instanceof Kick\HttpException
                                  ? $e->status : null],
                     JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE),
        "\n";
}
