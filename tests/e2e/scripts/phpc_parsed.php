<?php
// PHP client test job, run by php-cgi: writes what PHP parsed from the
// request ($_GET, $_POST, $_COOKIE) as JSON to $JOB_DIR/phpc.ID.json.
$dir = getenv('JOB_DIR') ?: __DIR__;
$id = getenv('KICK_JOB_ID') ?: 'none';
$out = json_encode([
    'method' => $_SERVER['REQUEST_METHOD'],
    'get' => (object)$_GET,
    'post' => (object)$_POST,
    'cookie' => (object)$_COOKIE,
], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
file_put_contents("$dir/phpc.$id.json.tmp", $out);
rename("$dir/phpc.$id.json.tmp", "$dir/phpc.$id.json");
echo "ok\n";
