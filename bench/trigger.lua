-- SPDX-License-Identifier: MIT
-- wrk script of the benchmark's durable-trigger figure: every request is a
-- POST of a 3-byte form body with Kick-Delay far in the future, so that
-- kickd commits each trigger and answers 202 while no job starts and none
-- competes with it for the CPU.
wrk.method = "POST"
wrk.body = "a=1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Kick-Delay"] = "100000"
