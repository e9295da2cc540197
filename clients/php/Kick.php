<?php
// SPDX-License-Identifier: MIT
// Kick.php: trigger a URL from PHP, fire-and-forget or until kickd has
// accepted or finished the job. A correct replacement for the old
// fsockopen "triggerRequest" trick; no dependencies beyond PHP 8.

declare(strict_types=1);

namespace Kick;

/** Every error of this file is a KickException (or a subclass). */
class KickException extends \RuntimeException
{
}

/** A bad argument: a malformed URL, header, cookie or option. */
class UsageException extends KickException
{
}

/** The server cannot be reached: refused, unreachable, TLS failure. */
class ConnectException extends KickException
{
}

/** The host name does not resolve. */
class DnsException extends ConnectException
{
}

/** Connecting, writing or waiting for the answer took too long. */
class TimeoutException extends KickException
{
}

/** The answer is not HTTP/1.x, or is cut short. */
class ProtocolException extends KickException
{
}

/** The server answered with a status other than 2xx. */
class HttpException extends KickException
{
    public function __construct(
        string $message,
        public int $status,
        public string $reason,
        public string $body
    ) {
        parent::__construct($message, $status);
    }
}

/**
 * A client: connection and TLS options shared by many triggers. Each
 * trigger uses its own connection and closes it (Connection: close).
 */
final class Client
{
    /** Return once the request is written; read nothing. */
    public const SENT = 'sent';
    /** Return once the server has answered (kickd: the job is stored). */
    public const ACCEPTED = 'accepted';
    /** Return once the job has ended (kickd's job API). */
    public const FINISHED = 'finished';

    public const FINAL_STATES = ['succeeded', 'failed', 'timed_out',
                                 'aborted', 'canceled'];

    /* Limits on what is read back: a trigger's answer is small. */
    private const MAX_LINE = 8192;          /* bytes of one head line */
    private const MAX_HEADERS = 100;
    private const MAX_BODY = 1048576;       /* bytes of body kept */
    private const TOKEN = '/^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$/';

    private float $connectTimeout = 10.0;   /* s */
    private float $timeout = 30.0;          /* s, one request's I/O */
    private ?string $caFile = null;
    private bool $verify = true;
    private ?string $token = null;
    private int $pollWait = 30;             /* s, GET /jobs/ID?wait= */
    private ?float $maxWait = null;         /* s, FINISHED overall */
    private string $userAgent = 'kick-php/0.1';

    /**
     * Options: connect_timeout (s, default 10), timeout (s for one
     * request's writes and reads, default 30), ca_file (PEM CA bundle for
     * https), verify (bool, default true; false accepts any certificate),
     * token (sent as "Authorization: Bearer"), poll_wait (s per job poll,
     * default 30), max_wait (s a FINISHED trigger waits for the job,
     * default null: no limit), user_agent.
     */
    public function __construct(array $options = [])
    {
        foreach ($options as $k => $v) {
            switch ($k) {
                case 'connect_timeout':
                    $this->connectTimeout = self::seconds($k, $v);
                    break;
                case 'timeout':
                    $this->timeout = self::seconds($k, $v);
                    break;
                case 'ca_file':
                    if ($v !== null && (!is_string($v) || !is_readable($v))) {
                        throw new UsageException(
                            "ca_file: not a readable file: " . self::show($v));
                    }
                    $this->caFile = $v;
                    break;
                case 'verify':
                    if (!is_bool($v)) {
                        throw new UsageException("verify: not a bool");
                    }
                    $this->verify = $v;
                    break;
                case 'token':
                    if ($v !== null && (!is_string($v) || $v === '' ||
                            preg_match('/[\x00-\x20\x7f]/', $v))) {
                        throw new UsageException(
                            "token: empty or with a blank or control character");
                    }
                    $this->token = $v;
                    break;
                case 'poll_wait':
                    if (!is_int($v) || $v < 1 || $v > 300) {
                        throw new UsageException("poll_wait: not 1 to 300 s");
                    }
                    $this->pollWait = $v;
                    break;
                case 'max_wait':
                    $this->maxWait = $v === null ? null : self::seconds($k, $v);
                    break;
                case 'user_agent':
                    self::checkValue('User-Agent', (string)$v);
                    $this->userAgent = (string)$v;
                    break;
                default:
                    throw new UsageException("unknown client option '$k'");
            }
        }
    }

    /**
     * Sends a request to $url and waits as $mode says (SENT, ACCEPTED,
     * FINISHED). $request: method, query (array), form (array), json
     * (a value to encode, or a JSON string), body + content_type (raw),
     * cookies (array name => value), headers (array name => value).
     *
     * Returns an array: mode, status and reason (null in SENT mode),
     * headers (lower-case name => list of values), body, job_id and
     * state (from kickd's 202 JSON or its Location, else null),
     * duplicate (an Idempotency-Key repeat), and in FINISHED mode job
     * (kickd's job object) and exit_status. Throws a KickException.
     */
    public function trigger(string $url, array $request = [],
                            string $mode = self::ACCEPTED): array
    {
        if (!in_array($mode, [self::SENT, self::ACCEPTED, self::FINISHED],
                      true)) {
            throw new UsageException("unknown mode '$mode': not sent, "
                                     . "accepted or finished");
        }
        [$u, $method, $bytes] = $this->build($url, $request);
        $deadline = microtime(true) + $this->timeout;
        $s = $this->open($u);
        try {
            $this->writeAll($s, $u, $bytes, $deadline);
            if ($mode === self::SENT) {
                return ['mode' => $mode, 'status' => null, 'reason' => null,
                        'headers' => [], 'body' => '', 'job_id' => null,
                        'state' => null, 'duplicate' => false,
                        'job' => null, 'exit_status' => null];
            }
            $res = $this->readResponse($s, $u, $method, $deadline);
        } finally {
            fclose($s);
        }
        $res['mode'] = $mode;
        $res += self::jobOf($res);
        $res['job'] = null;
        $res['exit_status'] = null;
        if ($mode === self::FINISHED && $res['job_id'] !== null) {
            $job = $this->waitJob($u['origin'], $res['job_id'],
                                  $this->maxWait);
            $res['job'] = $job;
            $res['state'] = $job['state'];
            $res['exit_status'] = $job['exit_status'] ?? null;
        }
        return $res;
    }

    /** The request $trigger would send, as bytes (for tests and logs). */
    public function buildRequest(string $url, array $request = []): string
    {
        return $this->build($url, $request)[2];
    }

    /**
     * GET /jobs/ID of the kickd at $server ("http://host:port"); with
     * $wait > 0 kickd answers when the job ends or $wait s have passed.
     * Returns the job object as an array.
     */
    public function getJob(string $server, int $id, int $wait = 0): array
    {
        $u = self::parseUrl($server);
        $target = '/jobs/' . $id . ($wait > 0 ? '?wait=' . $wait : '');
        return $this->jobCall($u, 'GET', $target, $wait);
    }

    /**
     * DELETE /jobs/ID?only=cancel: cancels a queued or running job;
     * returns it. An ended job stays (409), never deleted.
     */
    public function cancelJob(string $server, int $id): array
    {
        return $this->jobCall(self::parseUrl($server), 'DELETE',
                              '/jobs/' . $id . '?only=cancel', 0);
    }

    /**
     * Polls GET /jobs/ID?wait= until the job's state is final; $maxWait s
     * at most (null: no limit), then a TimeoutException. Returns the job.
     */
    public function waitJob(string $server, int $id,
                            ?float $maxWait = null): array
    {
        $u = self::parseUrl($server);
        $end = $maxWait === null ? null : microtime(true) + $maxWait;
        for (;;) {
            $wait = $this->pollWait;
            if ($end !== null) {
                $left = $end - microtime(true);
                $wait = (int)max(0, min($wait, ceil($left)));
            }
            $job = $this->jobCall($u, 'GET', '/jobs/' . $id
                                  . ($wait > 0 ? '?wait=' . $wait : ''), $wait);
            if (in_array($job['state'], self::FINAL_STATES, true)) {
                return $job;
            }
            if ($end !== null && microtime(true) >= $end) {
                throw new TimeoutException(sprintf(
                    "job %d at %s is still %s after %.1f s", $id,
                    $u['origin'], $job['state'], $maxWait));
            }
            if ($wait === 0) {
                usleep(200000);
            }
        }
    }

    /** Runs one job API call; returns the decoded job object. */
    private function jobCall(array $u, string $method, string $target,
                             int $wait): array
    {
        $head = "$method $target HTTP/1.1\r\n"
            . "Host: {$u['hostport']}\r\n"
            . "User-Agent: {$this->userAgent}\r\n"
            . "Accept: application/json\r\n"
            . ($this->token !== null
               ? "Authorization: Bearer {$this->token}\r\n" : '')
            . "Connection: close\r\n\r\n";
        $deadline = microtime(true) + $wait + $this->timeout;
        $s = $this->open($u);
        try {
            $this->writeAll($s, $u, $head, $deadline);
            $res = $this->readResponse($s, $u, $method, $deadline, $target);
        } finally {
            fclose($s);
        }
        $job = json_decode($res['body'], true);
        if (!is_array($job) || !isset($job['id'], $job['state'])) {
            throw new ProtocolException(sprintf(
                "%s %s%s: the answer is not a job object: %s", $method,
                $u['origin'], $target, self::show(substr($res['body'], 0, 200))));
        }
        return $job;
    }

    /** [parsed URL, method, request bytes] for $url and $request. */
    private function build(string $url, array $request): array
    {
        $u = self::parseUrl($url);
        $method = null;
        $query = [];
        $body = null;
        $ctype = null;
        $cookies = [];
        $headers = [];
        foreach ($request as $k => $v) {
            switch ($k) {
                case 'method':
                    if (!is_string($v) || !preg_match(self::TOKEN, $v)) {
                        throw new UsageException(
                            "method: not an HTTP token: " . self::show($v));
                    }
                    $method = $v;
                    break;
                case 'query':
                    $query = self::arrayOption($k, $v);
                    break;
                case 'form':
                    // RFC 3986 encoding: a space is %20, "+" is %2B, so
                    // that every value decodes back exactly.
                    $body = http_build_query(self::arrayOption($k, $v), '',
                                             '&', PHP_QUERY_RFC3986);
                    $ctype = 'application/x-www-form-urlencoded';
                    break;
                case 'json':
                    if (is_string($v)) {
                        json_decode($v);
                        if (json_last_error() !== JSON_ERROR_NONE) {
                            throw new UsageException(
                                "json: not valid JSON: " . json_last_error_msg());
                        }
                        $body = $v;
                    } else {
                        try {
                            $body = json_encode($v, JSON_THROW_ON_ERROR
                                | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
                        } catch (\JsonException $e) {
                            throw new UsageException(
                                "json: cannot encode: " . $e->getMessage());
                        }
                    }
                    $ctype = 'application/json';
                    break;
                case 'body':
                    if (!is_string($v)) {
                        throw new UsageException("body: not a string");
                    }
                    $body = $v;
                    $ctype ??= 'application/octet-stream';
                    break;
                case 'content_type':
                    self::checkValue('Content-Type', (string)$v);
                    $ctype = (string)$v;
                    break;
                case 'cookies':
                    $cookies = self::arrayOption($k, $v);
                    break;
                case 'headers':
                    $headers = self::arrayOption($k, $v);
                    break;
                default:
                    throw new UsageException("unknown request option '$k'");
            }
        }
        if (count(array_intersect_key($request, ['form' => 1, 'json' => 1,
                                                 'body' => 1])) > 1) {
            throw new UsageException("give one of form, json and body");
        }
        $method ??= $body === null ? 'GET' : 'POST';

        $target = $u['path'];
        $q = $u['query'];
        $extra = http_build_query($query, '', '&', PHP_QUERY_RFC3986);
        if ($extra !== '') {
            $q = $q === '' ? $extra : $q . '&' . $extra;
        }
        if ($q !== '') {
            $target .= '?' . $q;    // no bare "?" when there is no query
        }

        // RFC 9112 section 2.1: CRLF after every line, and an empty line
        // ending the head, whatever follows.
        $lines = ["$method $target HTTP/1.1"];
        $given = [];
        foreach ($headers as $name => $value) {
            if (is_int($name)) {
                // "Name: value" strings are accepted too.
                if (!is_string($value) || !str_contains($value, ':')) {
                    throw new UsageException(
                        "header: not 'Name: value': " . self::show($value));
                }
                [$name, $value] = explode(':', $value, 2);
                $value = trim($value, " \t");
            }
            $name = (string)$name;
            $value = (string)$value;
            if (!preg_match(self::TOKEN, $name)) {
                throw new UsageException(
                    "header name is not an HTTP token: " . self::show($name));
            }
            self::checkValue($name, $value);
            $lower = strtolower($name);
            if (in_array($lower, ['content-length', 'transfer-encoding',
                                  'connection'], true)) {
                throw new UsageException(
                    "header $name is set by Kick from the request");
            }
            $given[$lower] = true;
            $lines[] = "$name: $value";
        }
        if (!isset($given['host'])) {
            array_splice($lines, 1, 0, ["Host: {$u['hostport']}"]);
        }
        if (!isset($given['user-agent'])) {
            $lines[] = "User-Agent: {$this->userAgent}";
        }
        if (!isset($given['authorization'])) {
            if ($this->token !== null) {
                $lines[] = "Authorization: Bearer {$this->token}";
            } elseif ($u['auth'] !== null) {
                $lines[] = 'Authorization: Basic ' . base64_encode($u['auth']);
            }
        }
        if (!isset($given['prefer'])) {
            // RFC 7240: a kickd route in auto mode then stores a job and
            // answers 202 at once instead of running attached; other
            // servers ignore a preference they do not know.
            $lines[] = 'Prefer: respond-async';
        }
        if ($cookies) {
            $pairs = [];
            foreach ($cookies as $name => $value) {
                $name = (string)$name;
                if (!preg_match(self::TOKEN, $name)) {
                    throw new UsageException(
                        "cookie name is not a token: " . self::show($name));
                }
                if (!is_scalar($value)) {
                    throw new UsageException("cookie $name: not a scalar");
                }
                // PHP and most servers url-decode cookie values; %20, not
                // "+", so that a "+" in a value survives.
                $pairs[] = $name . '=' . rawurlencode((string)$value);
            }
            $lines[] = 'Cookie: ' . implode('; ', $pairs);
        }
        if ($body !== null) {
            if (!isset($given['content-type'])) {
                $lines[] = "Content-Type: $ctype";
            }
            $lines[] = 'Content-Length: ' . strlen($body);
        } elseif (in_array($method, ['POST', 'PUT', 'PATCH'], true)) {
            // A server may answer 411 to a POST without framing.
            $lines[] = 'Content-Length: 0';
        }
        $lines[] = 'Connection: close';
        return [$u, $method,
                implode("\r\n", $lines) . "\r\n\r\n" . ($body ?? '')];
    }

    /** The parts of an http or https URL; a UsageException if malformed. */
    private static function parseUrl(string $url): array
    {
        $bad = fn(string $why) => new UsageException(
            "malformed URL " . self::show($url) . ": $why");
        if (preg_match('/[\x00-\x20\x7f]/', $url)) {
            throw $bad("it contains a blank or a control character");
        }
        $p = parse_url($url);
        if ($p === false || !isset($p['scheme'])) {
            throw $bad("expected http://HOST[:PORT]/PATH or https://...");
        }
        $scheme = strtolower($p['scheme']);
        if ($scheme !== 'http' && $scheme !== 'https') {
            throw $bad("the scheme is not http or https");
        }
        if (!isset($p['host']) || $p['host'] === '') {
            throw $bad("no host");
        }
        $host = $p['host'];
        if ($host[0] === '[') {
            $ip = substr($host, 1, -1);
            if (substr($host, -1) !== ']' ||
                    !filter_var($ip, FILTER_VALIDATE_IP, FILTER_FLAG_IPV6)) {
                throw $bad("not an IPv6 address in brackets: $host");
            }
            $name = $ip;
        } else {
            if (!preg_match('/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/',
                            $host)) {
                throw $bad("not a host name or address: $host");
            }
            $name = $host;
        }
        $default = $scheme === 'https' ? 443 : 80;
        $port = $p['port'] ?? $default;
        if ($port < 1 || $port > 65535) {
            throw $bad("port out of range");
        }
        $hostport = $port === $default ? $host : "$host:$port";
        $auth = null;
        if (isset($p['user'])) {
            $auth = rawurldecode($p['user']) . ':'
                . rawurldecode($p['pass'] ?? '');
        }
        return [
            'scheme' => $scheme,
            'host' => $host,          // as in the URL: [::1] in brackets
            'name' => $name,          // for TLS: ::1, example.com
            'port' => $port,
            'hostport' => $hostport,  // the Host field (RFC 9110 7.2)
            'origin' => "$scheme://$host:$port",
            'path' => self::encodeTarget($p['path'] ?? '/'),
            'query' => self::encodeTarget($p['query'] ?? ''),
            'auth' => $auth,
        ];
    }

    /** Percent-encodes what may not appear in a request target as is
     * (RFC 3986 section 3.3 and 3.4), keeping existing %XX escapes. */
    private static function encodeTarget(string $s): string
    {
        return preg_replace_callback(
            '/%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&\'()*+,;=:@\/?%]/',
            fn(array $m) => rawurlencode($m[0]), $s);
    }

    /** Connects (and for https does the TLS handshake) or throws. */
    private function open(array $u)
    {
        $ctx = stream_context_create(['ssl' => [
            'verify_peer' => $this->verify,
            'verify_peer_name' => $this->verify,
            'allow_self_signed' => !$this->verify,
            'peer_name' => $u['name'],
            // SNI carries a name, never an address (RFC 6066 section 3).
            'SNI_enabled' => !filter_var($u['name'], FILTER_VALIDATE_IP),
        ] + ($this->caFile !== null ? ['cafile' => $this->caFile] : [])]);
        $tls = $u['scheme'] === 'https';
        $remote = ($tls ? 'ssl' : 'tcp') . "://{$u['host']}:{$u['port']}";
        $errno = 0;
        $errstr = '';
        $warnings = [];
        set_error_handler(function (int $no, string $msg) use (&$warnings) {
            $warnings[] = preg_replace('/^[a-z_]+\(\): /', '', $msg);
            return true;
        });
        try {
            $s = stream_socket_client($remote, $errno, $errstr,
                                      $this->connectTimeout,
                                      STREAM_CLIENT_CONNECT, $ctx);
        } finally {
            restore_error_handler();
        }
        if ($s !== false) {
            return $s;
        }
        $where = "{$u['host']}:{$u['port']}";
        $all = trim($errstr . ' ' . implode(' ', $warnings));
        if (preg_match('/getaddrinfo|Name or service not known|'
                       . 'No address associated|nodename nor servname|'
                       . 'Temporary failure in name resolution/i', $all)) {
            throw new DnsException("cannot resolve host '{$u['name']}': "
                                   . self::firstLine($errstr ?: $all));
        }
        if ($errno === 111 || stripos($all, 'refused') !== false) {
            throw new ConnectException(
                "connection refused by $where (nothing listens there)");
        }
        if ($errno === 110 || stripos($all, 'timed out') !== false) {
            throw new TimeoutException(sprintf(
                "connecting to %s timed out after %.1f s", $where,
                $this->connectTimeout));
        }
        if ($tls && preg_match('/SSL|crypto|certificate/i', $all)) {
            throw new ConnectException("TLS handshake with $where failed: "
                                       . self::tlsReason($warnings, $all));
        }
        throw new ConnectException("cannot connect to $where: "
                                   . ($all !== '' ? $all : "error $errno"));
    }

    /** Writes all of $data, or throws. */
    private function writeAll($s, array $u, string $data,
                              float $deadline): void
    {
        $off = 0;
        $n = strlen($data);
        $warning = '';
        while ($off < $n) {
            $this->arm($s, $u, $deadline, 'writing the request');
            set_error_handler(function (int $no, string $msg) use (&$warning) {
                $warning = preg_replace('/^[a-z_]+\(\): /', '', $msg);
                return true;
            });
            try {
                $w = fwrite($s, $off === 0 && $n <= 65536
                            ? $data : substr($data, $off, 65536));
            } finally {
                restore_error_handler();
            }
            if ($w === false || $w === 0) {
                if (stream_get_meta_data($s)['timed_out']) {
                    throw new TimeoutException(sprintf(
                        "writing the request to %s:%d timed out after %.1f s",
                        $u['host'], $u['port'], $this->timeout));
                }
                throw new ConnectException(sprintf(
                    "writing the request to %s:%d failed%s", $u['host'],
                    $u['port'], $warning !== '' ? ": $warning" : ''));
            }
            $off += $w;
        }
    }

    /** Sets the stream's timeout to what is left before $deadline. */
    private function arm($s, array $u, float $deadline, string $what): void
    {
        $left = $deadline - microtime(true);
        if ($left <= 0) {
            throw new TimeoutException(sprintf(
                "%s %s:%d timed out after %.1f s", $what, $u['host'],
                $u['port'], $this->timeout));
        }
        stream_set_timeout($s, (int)$left,
                           (int)(($left - (int)$left) * 1e6));
    }

    /** Reads a status line, the header fields and the body; throws an
     * HttpException for a status other than 2xx. */
    private function readResponse($s, array $u, string $method,
                                  float $deadline, ?string $what = null): array
    {
        do {
            $line = $this->readLine($s, $u, $deadline);
            if (!preg_match('#^HTTP/1\.[0-9] ([1-9][0-9]{2})(?: (.*))?$#',
                            $line, $m)) {
                throw new ProtocolException(sprintf(
                    "%s:%d did not answer with an HTTP/1.x status line: %s",
                    $u['host'], $u['port'], self::show(substr($line, 0, 80))));
            }
            $status = (int)$m[1];
            $reason = $m[2] ?? '';
            $headers = [];
            $count = 0;
            while (($line = $this->readLine($s, $u, $deadline)) !== '') {
                if (++$count > self::MAX_HEADERS ||
                        !preg_match('/^([!#$%&\'*+.^_`|~0-9A-Za-z-]+):'
                                    . '[ \t]*(.*?)[ \t]*$/', $line, $h)) {
                    throw new ProtocolException(sprintf(
                        "%s:%d sent a malformed header field: %s",
                        $u['host'], $u['port'], self::show(substr($line, 0, 80))));
                }
                $headers[strtolower($h[1])][] = $h[2];
            }
            // 1xx answers (100 Continue) come before the final one.
        } while ($status < 200);
        $body = $this->readBody($s, $u, $method, $status, $headers, $deadline);
        if ($status >= 300) {
            // A short text body is the server's reason (kickd: "404 Not
            // Found: no such route"); its repeat of the status line goes.
            $text = self::firstLine(trim(substr($body, 0, 200)));
            if (str_starts_with($text, "$status $reason")) {
                $text = ltrim(substr($text, strlen("$status $reason")), ': ');
            }
            // kickd's job API answers {"error": "reason"}.
            $j = str_starts_with($text, '{') ? json_decode($body, true) : null;
            if (is_array($j) && is_string($j['error'] ?? null)) {
                $text = self::firstLine(substr($j['error'], 0, 200));
            }
            throw new HttpException(sprintf(
                "%s:%d answered %d %s%s", $u['host'], $u['port'], $status,
                $reason, $text !== '' ? ": $text" : ''),
                $status, $reason, $body);
        }
        return ['status' => $status, 'reason' => $reason,
                'headers' => $headers, 'body' => $body];
    }

    /** One line of the head without its CRLF (a bare LF is accepted,
     * RFC 9112 section 2.2). */
    private function readLine($s, array $u, float $deadline): string
    {
        $this->arm($s, $u, $deadline, 'waiting for the answer of');
        $line = fgets($s, self::MAX_LINE);
        if ($line === false) {
            $this->readFailed($s, $u);
        }
        if (substr($line, -1) !== "\n") {
            if (strlen($line) >= self::MAX_LINE - 1) {
                throw new ProtocolException(sprintf(
                    "%s:%d sent a head line longer than %d bytes",
                    $u['host'], $u['port'], self::MAX_LINE));
            }
            $this->readFailed($s, $u);
        }
        return rtrim($line, "\r\n");
    }

    private function readFailed($s, array $u): void
    {
        if (stream_get_meta_data($s)['timed_out']) {
            throw new TimeoutException(sprintf(
                "no answer from %s:%d within %.1f s", $u['host'], $u['port'],
                $this->timeout));
        }
        throw new ProtocolException(sprintf(
            "%s:%d closed the connection before a complete answer",
            $u['host'], $u['port']));
    }

    /** The body as RFC 9112 section 6.3 frames it, at most MAX_BODY. */
    private function readBody($s, array $u, string $method, int $status,
                              array $headers, float $deadline): string
    {
        if ($method === 'HEAD' || $status === 204 || $status === 304) {
            return '';
        }
        if (isset($headers['transfer-encoding'])) {
            $codings = array_map('trim', explode(',', strtolower(
                implode(',', $headers['transfer-encoding']))));
            if (end($codings) !== 'chunked') {
                return $this->readUpTo($s, $u, self::MAX_BODY, $deadline, true);
            }
            $body = '';
            for (;;) {
                $line = $this->readLine($s, $u, $deadline);
                $size = trim(explode(';', $line, 2)[0]);
                if (!preg_match('/^[0-9A-Fa-f]{1,8}$/', $size)) {
                    throw new ProtocolException(sprintf(
                        "%s:%d sent a bad chunk size: %s", $u['host'],
                        $u['port'], self::show(substr($line, 0, 40))));
                }
                $n = hexdec($size);
                if ($n === 0) {
                    while ($this->readLine($s, $u, $deadline) !== '') {
                    }
                    return $body;
                }
                if (strlen($body) + $n > self::MAX_BODY) {
                    return $body;     // enough; the connection is closed
                }
                $body .= $this->readUpTo($s, $u, $n, $deadline, false);
                $this->readLine($s, $u, $deadline);
            }
        }
        if (isset($headers['content-length'])) {
            $cl = array_unique($headers['content-length']);
            if (count($cl) !== 1 || !preg_match('/^[0-9]{1,15}$/', $cl[0])) {
                throw new ProtocolException(sprintf(
                    "%s:%d sent a bad Content-Length", $u['host'], $u['port']));
            }
            return $this->readUpTo($s, $u, min((int)$cl[0], self::MAX_BODY),
                                   $deadline, false);
        }
        return $this->readUpTo($s, $u, self::MAX_BODY, $deadline, true);
    }

    /** Reads $n bytes, or until the end of the stream when $toEof. */
    private function readUpTo($s, array $u, int $n, float $deadline,
                              bool $toEof): string
    {
        $out = '';
        while (strlen($out) < $n) {
            $this->arm($s, $u, $deadline, 'reading the answer of');
            $d = fread($s, min(65536, $n - strlen($out)));
            if ($d === false || $d === '') {
                if (feof($s) && $toEof) {
                    break;
                }
                $this->readFailed($s, $u);
            }
            $out .= $d;
        }
        return $out;
    }

    /** job_id, state, duplicate of kickd's answer to a trigger. */
    private static function jobOf(array $res): array
    {
        $id = null;
        $state = null;
        $dup = false;
        $ctype = strtolower($res['headers']['content-type'][0] ?? '');
        if (str_starts_with($ctype, 'application/json')) {
            $j = json_decode($res['body'], true);
            if (is_array($j) && isset($j['id']) && is_int($j['id'])) {
                $id = $j['id'];
                $state = is_string($j['state'] ?? null) ? $j['state'] : null;
                $dup = ($j['duplicate'] ?? false) === true;
            }
        }
        $loc = $res['headers']['location'][0] ?? '';
        if ($id === null && preg_match('#/jobs/([0-9]+)$#', $loc, $m)) {
            $id = (int)$m[1];
        }
        return ['job_id' => $id, 'state' => $state, 'duplicate' => $dup];
    }

    private static function seconds(string $k, mixed $v): float
    {
        if ((!is_int($v) && !is_float($v)) || $v <= 0) {
            throw new UsageException("$k: not a positive number of seconds");
        }
        return (float)$v;
    }

    private static function arrayOption(string $k, mixed $v): array
    {
        if (!is_array($v)) {
            throw new UsageException("$k: not an array");
        }
        return $v;
    }

    /** A header value must not end the line early (header injection). */
    private static function checkValue(string $name, string $value): void
    {
        if (preg_match('/[\x00-\x08\x0a-\x1f\x7f]/', $value)) {
            throw new UsageException("header $name: the value contains CR, "
                                     . "LF or another control character");
        }
    }

    private static function show(mixed $v): string
    {
        return is_string($v) ? json_encode($v, JSON_UNESCAPED_SLASHES
                                           | JSON_INVALID_UTF8_SUBSTITUTE
                                           | JSON_UNESCAPED_UNICODE)
                             : get_debug_type($v);
    }

    private static function firstLine(string $s): string
    {
        return trim(strtok($s, "\n") ?: $s);
    }

    /** The most telling OpenSSL line of a failed handshake. */
    private static function tlsReason(array $warnings, string $all): string
    {
        foreach ($warnings as $w) {
            if (preg_match('/error:[0-9A-F]+:[^:]*:[^:]*:(.*)$/', $w, $m)) {
                return trim($m[1]);
            }
        }
        return self::firstLine($all);
    }
}

/**
 * One trigger with a throw-away Client: trigger($url, ['form' => [...]],
 * Client::SENT) is the old triggerRequest($url, $post), done right.
 */
function trigger(string $url, array $request = [],
                 string $mode = Client::ACCEPTED,
                 array $options = []): array
{
    return (new Client($options))->trigger($url, $request, $mode);
}
