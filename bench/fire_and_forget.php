<?php
// SPDX-License-Identifier: MIT
// The original article's fire-and-forget trigger, as trigger_php.php and
// article_caller.php both send it: fsockopen(), one fwrite() of a correct
// form POST (the article's was malformed, issue 5), fclose() at once, and
// no read. $after_host and $last: more header lines there, each ending in
// "\r\n" (trigger_php.php sends libkick's bytes, in libkick's order).

function trigger_request(string $url, array $fields,
                         string $after_host = '', string $last = ''): void
{
    $u = parse_url($url);
    $port = $u['port'] ?? 80;
    $target = ($u['path'] ?? '/') .
        (isset($u['query']) ? '?' . $u['query'] : '');
    // Form encoding (a space as +), as a browser sends a form.
    $body = http_build_query($fields, '', '&', PHP_QUERY_RFC1738);
    $req = "POST $target HTTP/1.1\r\n" .
        "Host: {$u['host']}:$port\r\n" .
        $after_host .
        "Content-Type: application/x-www-form-urlencoded\r\n" .
        "Content-Length: " . strlen($body) . "\r\n" .
        "Connection: close\r\n" .
        $last .
        "\r\n" . $body;
    $fp = fsockopen($u['host'], $port, $errno, $errstr, 30);
    if ($fp === false) {
        throw new RuntimeException("$url: $errstr ($errno)");
    }
    if (fwrite($fp, $req) !== strlen($req)) {
        fclose($fp);
        throw new RuntimeException("$url: short write");
    }
    fclose($fp);
}
