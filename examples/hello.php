<?php
// A PHP script run by php-cgi: reads $_GET, $_POST and $_COOKIE.
header('Content-Type: text/plain; charset=utf-8');
$name = $_POST['name'] ?? $_GET['name'] ?? 'world';
echo "hello from PHP ", PHP_VERSION, ", ", $name, "\n";
echo "GET: ", json_encode($_GET), "\nPOST: ", json_encode($_POST),
     "\nCOOKIE: ", json_encode($_COOKIE), "\n";
