<?php
// SPDX-License-Identifier: MIT
// article_job.php: the slow script of the runners benchmark's caller
// part, as the article's scripts are written when the author forgets
// ignore_user_abort(): no ignore_user_abort() at its top; it works a
// little (sleeps), then leaves its mark, the file ?d=DIR&i=N names as
// DIR/N, at its very end. A mark means the script ran to its end.

$dir = $_GET['d'] ?? '';
$i = (int)($_GET['i'] ?? -1);
if ($dir === '' || $i < 0) {
    header('Status: 400');
    echo "usage: ?d=DIR&i=N\n";
    exit(1);
}
usleep(100000); // the work: 100 ms
file_put_contents("$dir/$i", "done\n");
