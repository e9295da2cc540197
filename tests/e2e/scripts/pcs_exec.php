<?php
// Blocks in a child command: kickd's SIGPROF cannot end it, PHP's second
// (hard) timeout does; the child's process group must not outlive it.
file_put_contents($_GET['f'], getmypid() . "\n");
exec('sleep ' . (int)$_GET['s']);
echo "end\n";
