<?php
// SPDX-License-Identifier: MIT
// article_caller: the original article's fire-and-forget caller, as it
// was written: for each trigger fsockopen(), one fwrite() of the request,
// fclose() at once, and no read. The request is a correct POST (the
// article's was malformed, issue 5) of "a=1" to URL with "&i=N" added to
// its query, N = 0 .. COUNT-1, so that each trigger's script can leave
// its own mark. Usage: php article_caller.php COUNT URL. Prints "sent N".

require __DIR__ . '/fire_and_forget.php';

if ($argc !== 3 || (int)$argv[1] <= 0) {
    fwrite(STDERR, "usage: php article_caller.php COUNT URL\n");
    exit(2);
}
$n = (int)$argv[1];
$url = $argv[2];
$sep = strpos($url, '?') === false ? '?' : '&';
try {
    for ($i = 0; $i < $n; $i++) {
        trigger_request("$url{$sep}i=$i", ['a' => '1']);
    }
} catch (RuntimeException $e) {
    fwrite(STDERR, "article_caller: trigger $i: " . $e->getMessage() . "\n");
    exit(1);
}
echo "sent $n\n";
