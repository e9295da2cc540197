# SPDX-License-Identifier: MIT
# The dashboard page (issue 12; docs/dashboard.md) in Debian's headless
# Chromium, driven over WebDriver, against a real kickd: the page loads
# under its CSP, jobs appear live, a running job's output grows and
# Cancel ends it, Retry and Delete, filters and paging, the keyboard,
# times in the browser's zone, a job's output as text, polling while
# /events is down, the same facts as kick ls and kick status, and
# screenshots at 360 and 1280 px kept in build/.../test-artefacts/.
# Access (read-only, the token, cross-site requests) is
# test_dashboard_access.py. One browser serves the module (dashpage.py);
# each test starts its own kickd.

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import expect, expect_eq, kick_bin, KICKD, SLOW  # noqa: E402
from dashpage import (B, LIVE, act_msg, api, buttons,  # noqa: E402
                      click_action, console_errors, dash, fields, job_state,
                      load, main, output, row_ids, rows, trigger, url,
                      wait_job, wait_state)
from webdriver import ENTER, TAB  # noqa: E402

KICK = kick_bin()
ARTEFACTS = os.path.join(os.path.dirname(KICKD), "test-artefacts")


def test_page_loads_under_csp():
    with dash() as k:
        trigger(k, "/ok")
        r = k.get("/")
        expect_eq(r.status, 200, "GET /")
        csp = r.header("Content-Security-Policy") or ""
        expect("script-src 'self'" in csp and "style-src 'self'" in csp,
               "GET / without the strict CSP: %r", r)
        for asset in (b"/_kick/ui/app.js", b"/_kick/ui/app.css"):
            expect(asset in r.body, "the page does not load %s", asset)
        expect(b"<script>" not in r.body and b" style=" not in r.body
               and b"<style" not in r.body,
               "inline script or style in the page: %r", r.body[:300])
        B.console()
        load(k)
        expect_eq(B.js("return document.title"), "kick: jobs", "title")
        B.wait("return document.querySelectorAll('#rows tr').length === 1"
               " && document.querySelector('#chart svg.plot')",
               what="one job listed and the chart drawn")
        # Counts by state (a link to the filtered list each), by route,
        # the queue depth.
        B.wait("return document.querySelector('#by-state "
               "dd[data-state=succeeded]').textContent === '1'",
               timeout=3 * SLOW, what="1 succeeded in the counts")
        B.wait("return Array.from(document.querySelectorAll("
               "'#by-route tbody tr')).some(tr => tr.cells[0].textContent "
               "=== '/ok' && tr.lastChild.textContent === '1')",
               what="/ok's 1 job in the counts by route")
        expect(B.js("return /^\\d+$/.test(document.getElementById("
                    "'queue-depth').textContent)"), "no queue depth")
        # The chart: an hour of minutes, a line per series, a band a
        # minute with its numbers on hover.
        expect_eq(B.js("return document.querySelectorAll('#chart .hit')"
                       ".length"), 60, "minute bands in the chart")
        expect_eq(B.js("return document.querySelectorAll('#chart svg.plot "
                       "path.line').length"), 3, "chart lines")
        legend = B.js("return document.querySelector('#chart .legend')"
                      ".textContent")
        for word in ("triggers accepted", "jobs succeeded", "jobs failed",
                     "queue depth"):
            expect(word in legend, "legend lacks %r: %r", word, legend)
        expect_eq(console_errors(), [], "console errors (CSP violations)")


def test_jobs_appear_live_without_reload():
    with dash() as k:
        load(k)
        B.js("window.kickNoReload = 1")
        ids = [trigger(k, "/ok") for _ in range(3)]
        t0 = time.monotonic()
        B.wait("return arguments[0].every(id => document.querySelector("
               "'#rows tr[data-id=\"' + id + '\"]'))", ids, timeout=LIVE,
               what="3 new jobs listed within %.1f s" % LIVE)
        seen = time.monotonic() - t0
        B.wait("return arguments[0].every(id => document.querySelector("
               "'#rows tr[data-id=\"' + id + '\"]').className === "
               "'s-succeeded')", ids, timeout=LIVE,
               what="the 3 jobs shown succeeded")
        expect_eq(row_ids(), sorted(ids, reverse=True), "newest first")
        expect_eq(B.js("return window.kickNoReload"), 1, "page reloaded")
        B.wait("return document.querySelector('#by-state "
               "dd[data-state=succeeded]').textContent === '3'",
               timeout=3 * SLOW, what="the counts updated to 3 succeeded")
        expect(seen < LIVE, "listed after %.2f s", seen)


def test_running_output_grows_then_cancel():
    with dash() as k:
        load(k)
        jid = trigger(k, "/tick")
        link = B.find("#rows tr[data-id='%d'] a" % jid, timeout=LIVE)
        B.click(link)
        B.wait("return location.hash === arguments[0]", "#/jobs/%d" % jid)
        wait_state("running")
        B.wait("return document.getElementById('output').textContent"
               ".includes('tick 3\\n')", timeout=3 * SLOW,
               what="the output's first lines")
        n1 = len(output())
        time.sleep(0.4)
        n2 = len(output())
        expect(n2 > n1, "output did not grow: %d then %d bytes", n1, n2)
        expect_eq(buttons(), ["Cancel"], "a running job's buttons")
        expect(B.js("return document.documentElement.dataset.following")
               == str(jid), "the output is not followed")
        click_action("Cancel")
        act_msg("Cancel")
        wait_state("aborted")
        f = fields()
        expect_eq(f["connection_status"], "1", "connection_status")
        expect_eq(f["error"], "canceled", "error")
        expect_eq(sorted(buttons()), ["Delete", "Retry"],
                  "an ended job's buttons")
        B.wait("return !document.documentElement.dataset.following",
               what="the output stream ended with the job")
        n3 = len(output())
        time.sleep(0.3)
        expect_eq(len(output()), n3, "output after the job ended")


def test_retry_a_failed_job():
    with dash() as k:
        jid = trigger(k, "/fail")
        wait_job(k, jid)
        load(k, "#/jobs/%d" % jid)
        wait_state("failed")
        expect_eq(B.js("return document.getElementById('job-error')"
                       ".textContent"), "error: exit status 3", "error box")
        expect_eq(fields()["exit_status"], "3", "exit_status")
        B.wait("return document.getElementById('output').textContent"
               ".includes('first run: failing')", what="the first output")
        click_action("Retry")
        msg = act_msg("Retried")
        expect("202" in msg, "retry's answer not said: %r", msg)
        wait_state("succeeded")
        f = fields()
        expect_eq(f["earlier_attempts"], "1", "earlier_attempts")
        expect_eq(f["exit_status"], "0", "exit_status after the retry")
        B.wait("return document.getElementById('output').textContent"
               ".includes('second run: ok')", timeout=3 * SLOW,
               what="the retry's output followed")
        expect(B.js("return document.getElementById('job-error').hidden"),
               "error box shown for a succeeded job")


def test_delete_an_ended_job():
    with dash() as k:
        keep = trigger(k, "/ok")
        jid = trigger(k, "/ok")
        wait_job(k, jid)
        wait_job(k, keep)
        load(k)
        B.wait("return document.querySelectorAll('#rows tr').length === 2")
        B.click(B.find("#rows tr[data-id='%d'] a" % jid))
        wait_state("succeeded")
        click_action("Delete")
        msg = act_msg("Deleted")
        expect("204" in msg, "delete's answer not said: %r", msg)
        expect_eq(buttons(), [], "buttons of a deleted job")
        status, _, r = api(k, "GET", "/jobs/%d" % jid)
        expect_eq(status, 404, "GET of the deleted job")
        B.back()
        B.wait("return location.hash === '' || location.hash === '#/'")
        B.wait("return !document.querySelector('#rows tr[data-id=\"' + "
               "arguments[0] + '\"]')", jid, timeout=LIVE,
               what="the deleted job gone from the list")
        expect_eq(row_ids(), [keep], "the list after the delete")


def test_filter_by_route_and_state():
    with dash() as k:
        oks = [trigger(k, "/ok") for _ in range(2)]
        fails = [trigger(k, "/fail") for _ in range(2)]
        for j in oks + fails:
            wait_job(k, j)
        load(k)
        B.wait("return document.querySelectorAll('#rows tr').length === 4")
        B.wait("return document.querySelector("
               "'#f-route option[value=\"/fail\"]')",
               what="/fail among the route filter's options")
        B.click(B.find("#f-route option[value='/fail']"))
        B.wait("return location.hash === '#/?route=%2Ffail'",
               what="the filter in the address")
        B.wait("return JSON.stringify(Array.from(document.querySelectorAll("
               "'#rows tr')).map(tr => Number(tr.dataset.id))) === "
               "arguments[0]", json.dumps(sorted(fails, reverse=True),
                                     separators=(",", ":")),
               what="only /fail's jobs listed")
        expect(all(r["route"] == "/fail" for r in rows()), "other routes")
        # Filters add up, and the back button undoes them.
        B.click(B.find("#f-state option[value='succeeded']"))
        B.wait("return location.hash === '#/?state=succeeded&route=%2Ffail'")
        B.wait("return document.querySelectorAll('#rows tr').length === 0"
               " && !document.getElementById('empty').hidden",
               what="no succeeded /fail job: the empty note")
        B.back()
        B.wait("return document.querySelectorAll('#rows tr').length === 2")
        expect_eq(B.js("return document.getElementById('f-route').value"),
                  "/fail", "route filter after back")
        # A count is a link to its filtered list.
        B.click(B.find("#by-state a[href='#/?state=failed']"))
        B.wait("return location.hash === '#/?state=failed' && "
               "document.querySelectorAll('#rows tr').length === 2 && "
               "document.getElementById('f-route').value === ''",
               what="the failed jobs of any route")
        # A live job of another route stays out of a filtered list.
        trigger(k, "/ok")
        time.sleep(0.8)
        expect_eq(sorted(row_ids()), sorted(fails), "failed list")


def test_paging():
    with dash() as k:
        # 55 jobs: a page of 50, then 5 older.
        ids = [trigger(k, "/ok") for _ in range(55)]
        wait_job(k, ids[-1])
        load(k)
        B.wait("return document.querySelectorAll('#rows tr').length === 50")
        expect_eq(row_ids(), sorted(ids, reverse=True)[:50], "first page")
        B.click(B.find("#p-older"))
        B.wait("return document.querySelectorAll('#rows tr').length === 5",
               what="the older page")
        expect_eq(row_ids(), sorted(ids, reverse=True)[50:], "older page")
        expect(B.js("return document.getElementById('p-older').hidden"),
               "an older link on the last page")
        B.click(B.find("#p-newer"))
        B.wait("return document.querySelectorAll('#rows tr').length === 50",
               what="back to the newer page")
        expect_eq(row_ids(), sorted(ids, reverse=True)[:50], "newer page")


def test_keyboard():
    with dash() as k:
        jid = trigger(k, "/ok")
        wait_job(k, jid)
        load(k)
        B.wait("return document.querySelectorAll('#rows tr').length === 1")
        B.js("document.activeElement.blur(); window.scrollTo(0, 0)")
        # Tab from the top reaches the row's link; focus is visible.
        for _ in range(80):
            B.press(TAB)
            if B.js("return document.activeElement.closest('#rows') !== "
                    "null"):
                break
        else:
            raise AssertionError("Tab never reached the job list's row")
        focus = B.js("const a = document.activeElement; const s = "
                     "getComputedStyle(a); return [a.getAttribute('href'), "
                     "s.outlineStyle, s.outlineWidth]")
        expect_eq(focus[0], "#/jobs/%d" % jid, "focused row link")
        expect(focus[1] != "none" and focus[2] != "0px",
               "focus not visible on the row link: %r", focus)
        B.press(ENTER)
        B.wait("return location.hash === arguments[0]", "#/jobs/%d" % jid,
               what="Enter opened the job")
        wait_state("succeeded")
        expect_eq(B.js("return document.activeElement.id"), "job-h",
                  "focus after opening the job")
        # Its buttons are real buttons, in the tab order.
        B.press(TAB)
        expect_eq(B.js("return document.activeElement.tagName + ' ' + "
                       "document.activeElement.textContent"), "BUTTON Retry",
                  "Tab after the job's heading")
        B.back()
        B.wait("return document.activeElement && document.activeElement"
               ".getAttribute('href') === arguments[0]", "#/jobs/%d" % jid,
               what="focus back on the row after Back")


def test_times_in_browser_zone():
    with dash() as k:
        jid = trigger(k, "/ok")
        j = wait_job(k, jid)
        B.cdp("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
        try:
            load(k)
            B.wait("return document.querySelectorAll('#rows tr').length")
            t = B.js("const t = document.querySelector('#rows time'); "
                     "return [t.getAttribute('datetime'), t.title, "
                     "t.textContent]")
        finally:
            B.cdp("Emulation.setTimezoneOverride", {"timezoneId": ""})
        expect_eq(t[0], j["created_at"], "<time datetime>")
        expect(t[1].startswith(j["created_at"]) and "UTC" in t[1],
               "title %r is not the exact UTC", t[1])
        # Kolkata is UTC+05:30 all year.
        m = re.match(r"\d{4}-\d\d-\d\dT(\d\d):(\d\d):(\d\d)", j["created_at"])
        hh, mm, ss = (int(x) for x in m.groups())
        mins = (hh * 60 + mm + 330) % 1440
        h24, m2 = divmod(mins, 60)
        h12 = h24 % 12 or 12
        shown = ["%02d:%02d:%02d" % (h, m2, ss) for h in (h24, h12)]
        expect(any(s in t[2] for s in shown), "time shown %r is not in "
               "the browser's zone (%s)", t[2], " or ".join(shown))


def test_output_is_text_never_html():
    with dash() as k:
        jid = trigger(k, "/xss")
        wait_job(k, jid)
        B.console()
        load(k, "#/jobs/%d" % jid)
        B.wait("return document.getElementById('output').textContent"
               ".includes('</script>')", what="the output shown")
        out = output()
        for s in ("<script>window.kickXss = 1; alert(1)</script>",
                  '<img src=x onerror="window.kickXss = 2; alert(2)">',
                  "<b>not bold</b> &amp; &lt;"):
            expect(s in out, "output lacks the text %r: %r", s, out)
        expect_eq(B.js("return document.querySelectorAll('#output *')"
                       ".length"), 0, "elements made from the output")
        time.sleep(0.2)
        expect_eq(B.alert_text(), None, "an alert opened")
        expect_eq(B.js("return typeof window.kickXss"), "undefined",
                  "the output's script ran")
        expect(B.js("return document.title").startswith("kick: job"),
               "title changed")
        expect_eq(fields()["response"], "200 text/html", "response")
        expect_eq(console_errors(), [], "console errors")


def test_polling_when_the_stream_is_down():
    with dash() as k:
        B.cdp("Network.enable")
        B.cdp("Network.setBlockedURLs", {"urls": ["*/events"]})
        try:
            B.get(url(k))
            B.wait("return document.documentElement.dataset.live === "
                   "'polling'", timeout=3 * SLOW, what="polling")
            note = B.js("return document.getElementById('live')"
                        ".textContent")
            expect(note.startswith("Polling every"), "note %r", note)
            B.js("window.kickNoReload = 1")
            jid = trigger(k, "/ok")
            B.wait("return document.querySelector('#rows tr[data-id=\"' + "
                   "arguments[0] + '\"]')", jid, timeout=LIVE,
                   what="a new job listed by polling within %.1f s" % LIVE)
        finally:
            B.cdp("Network.setBlockedURLs", {"urls": []})
        # The stream comes back (tried again after 3 s) and the note goes.
        B.wait("return document.documentElement.dataset.live === 'events'",
               timeout=8 * SLOW, what="the stream back")
        expect_eq(B.js("return document.getElementById('live')"
                       ".textContent"), "Live", "live note")
        expect_eq(B.js("return window.kickNoReload"), 1, "page reloaded")
        B.cdp("Network.disable")


def kick_out(k, *args):
    env = dict(os.environ, COLUMNS="")
    p = subprocess.run([KICK, "--server", "http://127.0.0.1:%d" % k.port]
                       + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=10 * SLOW)
    expect_eq(p.returncode, 0, "kick %s (%s)" % (" ".join(args),
                                                 p.stderr.decode()))
    return p.stdout.decode()


def test_same_facts_as_kick_ls_and_status():
    with dash() as k:
        ids = [trigger(k, "/ok"), trigger(k, "/fail"), trigger(k, "/tick")]
        for j in ids[:2]:
            wait_job(k, j)
        api(k, "DELETE", "/jobs/%d" % ids[2])
        wait_job(k, ids[2])
        load(k)
        B.wait("return document.querySelectorAll('#rows tr.s-aborted')"
               ".length === 1", what="the aborted job listed")
        table = kick_out(k, "ls").splitlines()
        head = table[0].split()
        expect_eq(head, ["ID", "ROUTE", "STATE", "ATTEMPT", "CREATED",
                         "DURATION", "ERROR"], "kick ls header")
        page = rows()
        expect_eq(len(page), len(table) - 1, "rows")
        for line, r in zip(table[1:], page):
            cells = re.split(r"\s{2,}", line.rstrip(), maxsplit=6)
            got = [r["id"], r["route"], r["state"], r["attempt"],
                   r["created"][:19] + "Z", r["duration"], r["error"]]
            expect_eq(got, cells, "page row beside kick ls")
            expect(r["symbol"].strip(), "no symbol beside the state")
        for jid in ids:
            B.get(url(k, "#/jobs/%d" % jid))
            job_state()
            B.wait("return document.querySelector('#fields "
                   "[data-field=id]').textContent === arguments[0]",
                   str(jid))
            shown = fields()
            for line in kick_out(k, "status", str(jid)).splitlines():
                name, _, value = line.partition(": ")
                expect(name in shown, "kick status's %s not on the page",
                       name)
                expect_eq(shown[name], value, "job %d's %s" % (jid, name))


def test_screenshots_360_and_1280():
    with dash() as k:
        for route in ("/ok", "/fail", "/ok", "/xss", "/fail"):
            trigger(k, route)
        tick = trigger(k, "/tick")
        wait_job(k, tick, ("running",))
        try:
            for width, height in ((1280, 900), (360, 780), (1920, 1080)):
                B.size(width, height)
                load(k)
                B.wait("return document.querySelectorAll('#rows tr')"
                       ".length === 6")
                time.sleep(0.3)  # the chart redrawn for the width
                over = B.js("return [document.documentElement.scrollWidth,"
                            " document.documentElement.clientWidth]")
                expect(over[0] <= over[1], "the list overflows at %d px: "
                       "%r", width, over)
                if width != 1920:
                    B.full_screenshot(os.path.join(
                        ARTEFACTS, "dashboard-%d.png" % width))
                B.get(url(k, "#/jobs/%d" % tick))
                wait_state("running")
                B.wait("return document.getElementById('output')"
                       ".textContent.length > 20")
                over = B.js("return [document.documentElement.scrollWidth,"
                            " document.documentElement.clientWidth]")
                expect(over[0] <= over[1], "the job overflows at %d px: "
                       "%r", width, over)
                if width != 1920:
                    B.screenshot(os.path.join(
                        ARTEFACTS, "dashboard-job-%d.png" % width))
        finally:
            B.size(1280, 900)
        for name in ("dashboard-360.png", "dashboard-1280.png",
                     "dashboard-job-360.png", "dashboard-job-1280.png"):
            p = os.path.join(ARTEFACTS, name)
            with open(p, "rb") as f:
                expect(f.read(8) == b"\x89PNG\r\n\x1a\n", "%s not a PNG", p)


if __name__ == "__main__":
    sys.exit(main(globals()))
