#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The script of the follow part of `make bench`: a CGI head, then after
# 0.3 s (for a follower to be there) N lines "I NS" (N = QUERY_STRING, 100
# by default), NS the CLOCK_REALTIME in ns just before the line's write(2),
# one every 20 ms.
import os
import time

n = int(os.environ.get("QUERY_STRING") or 100)
os.write(1, b"Content-Type: text/plain\n\n")
time.sleep(0.3)
for i in range(n):
    os.write(1, b"%d %d\n" % (i, time.time_ns()))
    time.sleep(0.02)
