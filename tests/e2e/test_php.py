# SPDX-License-Identifier: MIT
# Round trips through a shell script and through real php-cgi: GET, POST
# urlencoded, POST multipart with a file, and cookies, with values that
# need care (spaces, &, =, +, %, UTF-8). PHP must see exactly what was sent.

import base64
import json
import os
import shutil
import sys
from urllib.parse import quote, urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Kickd, build, chunked, expect, expect_eq,  # noqa: E402
                     run)

TRICKY = {
    "plain": "hello",
    "spaces": "a b  c ",
    "amp": "x&y=z",
    "plus": "1+1=2",
    "pct": "100% %41 %zz",
    "utf8": "héllo wörld €",
    "quotes": "it's \"q\"",
    "empty": "",
    "slash": "a/b?c#d",
    "clé": "välue",
}
COOKIES = {"sid": "abc123", "name": "Jöhn Doe & co", "eq": "a=b", "pct": "5%"}
FILE_BYTES = bytes(range(256)) + b"\r\n--not-a-boundary\r\n" + "ü".encode()


def multipart(fields, files, boundary="----kickBoundary7MA4YWxkTrZu0gW"):
    out = []
    for name, value in fields.items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\""
                    "\r\n\r\n" % (boundary, name)).encode() +
                   value.encode() + b"\r\n")
    for name, (fname, ctype, data) in files.items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                    "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n"
                    % (boundary, name, fname, ctype)).encode() + data +
                   b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return "multipart/form-data; boundary=" + boundary, b"".join(out)


def cookie_header(cookies):
    return "Cookie: " + "; ".join("%s=%s" % (k, quote(v, safe=""))
                                  for k, v in cookies.items())


def php_routes():
    if not shutil.which("php-cgi"):
        raise AssertionError("php-cgi is not installed")
    cfg = ("[server]\nlisten = {listen}\ndb = {db}\n\n"
           "[route /configured]\nexec = {php} {scripts}/echo.php\n"
           "mode = attach\n")
    return cfg


def php_call(k, route, method, query=None, ctype=None, body=b"",
             cookies=None):
    target = route + ("?" + urlencode(query) if query else "")
    hs = []
    if ctype:
        hs.append("Content-Type: " + ctype)
    if cookies:
        hs.append(cookie_header(cookies))
    r = k.request(method, target, hs, body=body)
    expect_eq(r.status, 200, "%s %s status (body %r)" % (method, route,
                                                         r.body[:300]))
    expect(r.header("Content-Type", "").startswith("application/json"),
           "Content-Type %r", r.header("Content-Type"))
    return json.loads(r.body.decode("utf-8"))


def test_php_get():
    with Kickd(config=php_routes()) as k:
        for route in ("/echo.php", "/configured"):
            j = php_call(k, route, "GET", query=TRICKY)
            expect_eq(j["method"], "GET", route + " method")
            expect_eq(j["get"], TRICKY, route + " $_GET")
            expect_eq(j["post"], {}, route + " $_POST")


def test_php_post_urlencoded():
    with Kickd(config=php_routes()) as k:
        for route in ("/echo.php", "/configured"):
            j = php_call(k, route, "POST", query={"q": "a&b"},
                         ctype="application/x-www-form-urlencoded",
                         body=urlencode(TRICKY).encode())
            expect_eq(j["post"], TRICKY, route + " $_POST")
            expect_eq(j["get"], {"q": "a&b"}, route + " $_GET")


def test_php_post_urlencoded_chunked():
    with Kickd(config=php_routes()) as k, k.connect() as c:
        body = urlencode(TRICKY).encode()
        c.send(build("POST", "/echo.php", [
            "Content-Type: application/x-www-form-urlencoded",
            "Transfer-Encoding: chunked"]) + chunked(body, [3, 10, 7]))
        r = c.response()
        expect_eq(r.status, 200, "status")
        expect_eq(json.loads(r.body)["post"], TRICKY, "$_POST")


def test_php_post_multipart_with_file():
    with Kickd(config=php_routes()) as k:
        ctype, body = multipart(TRICKY, {
            "upload": ("report 1.bin", "application/octet-stream",
                       FILE_BYTES),
            "note": ("nötes.txt", "text/plain", b"line1\nline2\n")})
        for route in ("/echo.php", "/configured"):
            j = php_call(k, route, "POST", ctype=ctype, body=body,
                         cookies=COOKIES)
            expect_eq(j["post"], TRICKY, route + " $_POST")
            expect_eq(j["cookie"], COOKIES, route + " $_COOKIE")
            files = j["files"]
            expect_eq(sorted(files), ["note", "upload"], "$_FILES names")
            up = files["upload"]
            expect_eq((up["name"], up["error"], up["size"]),
                      ("report 1.bin", 0, len(FILE_BYTES)), "upload")
            expect(base64.b64decode(up["content"]) == FILE_BYTES,
                   "uploaded file content differs")
            note = files["note"]
            expect_eq((note["name"], note["type"],
                       base64.b64decode(note["content"])),
                      ("nötes.txt", "text/plain", b"line1\nline2\n"), "note")


def test_php_cookies():
    with Kickd(config=php_routes()) as k:
        j = php_call(k, "/echo.php", "GET", cookies=COOKIES)
        expect_eq(j["cookie"], COOKIES, "$_COOKIE")
        expect_eq(j["get"], {}, "$_GET")


def test_php_sequential_keep_alive():
    with Kickd(config=php_routes()) as k, k.connect() as c:
        for i in range(5):
            c.send(build("GET", "/echo.php?" + urlencode({"i": str(i)})))
            r = c.response()
            expect_eq(json.loads(r.body)["get"], {"i": str(i)}, "get %d" % i)


def parse_echo(body):
    head, _, data = body.partition(b"\n--\n")
    return dict(ln.split("=", 1) for ln in head.decode().splitlines()), data


def test_shell_round_trip():
    with Kickd() as k:
        q = urlencode(TRICKY)
        r = k.request("GET", "/echo?" + q, [cookie_header(COOKIES)])
        meta, data = parse_echo(r.body)
        expect_eq(meta["method"], "GET", "method")
        expect_eq(meta["query"], q, "QUERY_STRING")
        expect_eq(meta["cookie"], cookie_header(COOKIES)[len("Cookie: "):],
                  "HTTP_COOKIE")
        expect_eq(data, b"", "GET body")
        body = urlencode(TRICKY).encode()
        r = k.request("POST", "/echo",
                      ["Content-Type: application/x-www-form-urlencoded"],
                      body=body)
        meta, data = parse_echo(r.body)
        expect_eq((meta["content_type"], meta["content_length"]),
                  ("application/x-www-form-urlencoded", str(len(body))),
                  "content meta")
        expect_eq(data, body, "urlencoded body")
        ctype, body = multipart(TRICKY, {"upload": ("a.bin", "x/y",
                                                    FILE_BYTES)})
        r = k.request("POST", "/echo", ["Content-Type: " + ctype,
                                        cookie_header(COOKIES)], body=body)
        meta, data = parse_echo(r.body)
        expect_eq(meta["content_type"], ctype, "multipart CONTENT_TYPE")
        expect(data == body, "multipart body differs")


if __name__ == "__main__":
    sys.exit(1 if run(globals()) else 0)
