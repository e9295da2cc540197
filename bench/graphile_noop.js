// SPDX-License-Identifier: MIT
// The graphile-worker side of bench/pg.py: runs one worker (one Node.js
// process, `concurrency` jobs at once) of a no-op task on the queue that
// is already there, until `jobs` tasks have completed; prints "jobs N
// first MS last MS" (the first task's start and the last one's end,
// milliseconds since the epoch) and exits. Usage: node graphile_noop.js
// CONNSTRING CONCURRENCY JOBS TIMEOUT_S
"use strict";
const { run, Logger } = require("graphile-worker");

const [conn, concurrency, want, timeout] = process.argv.slice(2);
const jobs = Number(want);
let done = 0, first = 0, last = 0;
let runner;

const quiet = new Logger(() => (level, message) => {
  if (level === "error") console.error(message);
});

async function main() {
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  const timer = setTimeout(() => finish("timeout"), Number(timeout) * 1000);
  runner = await run({
    connectionString: conn,
    concurrency: Number(concurrency),
    noHandleSignals: true,
    pollInterval: 1000,
    logger: quiet,
    crontab: "",
    taskList: {
      noop: async () => {
        if (first === 0) first = Date.now();
        done++;
        if (done >= jobs) {
          last = Date.now();
          finish("done");
        }
      },
    },
  });
  const why = await finished;
  clearTimeout(timer);
  // The last task's end is committed once its batch of completions is:
  // stop() waits for that.
  await runner.stop();
  if (why !== "done") {
    console.error("%d of %d jobs completed in %s s", done, jobs, timeout);
    process.exit(1);
  }
  console.log("jobs %d first %d last %d stopped %d", done, first, last,
              Date.now());
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
