// PouchDB side of the side-by-side sync benchmark; bench/pouchdb_peer.py starts the server
// and runs this script. Prints exactly one JSON line on stdout; anything else goes to stderr.
//
//   node run.mjs sync     WORKLOAD BATCH    SERVER_URL SCRATCH_DIR
//   node run.mjs conflict WORKLOAD FRACTION SERVER_URL SCRATCH_DIR
//
// Local databases use PouchDB 9's default Node adapter, LevelDB (leveldown), in SCRATCH_DIR.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import PouchDB from 'pouchdb';

const LOAD_CHUNK = 1000; // docs per untimed bulkDocs call when filling the first tablet
const CONFLICT_BATCH = 500; // replication batch size in conflict mode
const MAX_QUIET_ROUNDS = 10; // conflict mode gives up if replication is not quiet by then

function fail(message) {
  process.stderr.write(`run.mjs: ${message}\n`);
  process.exit(1);
}

function readWorkload(file) {
  const docs = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
  if (docs.length === 0) fail(`no documents in ${file}`);
  for (const doc of docs) {
    if (typeof doc._id !== 'string') fail('every workload line needs a string _id');
  }
  return docs;
}

// Counts one leg's traffic to the server. Wire bytes are counted on the sockets (request and
// response lines, headers and bodies as sent, gzip included); body bytes are the JSON bodies
// before compression; round trips are HTTP requests. The agent does not keep connections
// alive, as PouchDB in Node does without an agent (node-fetch then sends `Connection: close`,
// so every request opens a new connection).
class LegMeter {
  constructor() {
    this.requests = 0;
    this.requestBodyBytes = 0;
    this.responseBodyBytes = 0;
    this.sockets = [];
    const sockets = this.sockets;
    this.agent = new (class extends http.Agent {
      createConnection(options, callback) {
        const socket = super.createConnection(options, callback);
        sockets.push(socket);
        return socket;
      }
    })({ keepAlive: false });
  }

  fetch = async (url, options = {}) => {
    this.requests += 1;
    const body = options.body;
    if (typeof body === 'string') this.requestBodyBytes += Buffer.byteLength(body);
    else if (body != null && body.length !== undefined) this.requestBodyBytes += body.length;
    const response = await PouchDB.fetch(url, { ...options, agent: this.agent });
    // pouchdb-server gzips most answers, so a body's length is known only once it is read:
    // count it as PouchDB reads it (decompressed), without an extra copy.
    const buffer = response.buffer.bind(response);
    response.buffer = async () => {
      const buf = await buffer();
      this.responseBodyBytes += buf.length;
      return buf;
    };
    response.text = async () => (await response.buffer()).toString();
    response.json = async () => JSON.parse(await response.text());
    return response;
  };

  wireBytes() {
    return this.sockets.reduce((sum, s) => sum + s.bytesRead + s.bytesWritten, 0);
  }

  remote(url) {
    return new PouchDB(url, { fetch: this.fetch });
  }
}

function local(scratch, name) {
  return new PouchDB(path.join(scratch, name));
}

async function load(db, docs) {
  for (let i = 0; i < docs.length; i += LOAD_CHUNK) {
    const results = await db.bulkDocs(docs.slice(i, i + LOAD_CHUNK));
    const bad = results.find((r) => r.error);
    if (bad) fail(`bulkDocs refused ${bad.id}: ${bad.error} ${bad.reason ?? ''}`);
  }
}

// CPU seconds (user + system) the server process has used so far, read off /proc (Linux); null
// where that cannot be read. The benchmark names the process in PEER_SERVER_PID.
function serverCpuS() {
  const pid = process.env.PEER_SERVER_PID;
  if (!pid) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

async function timedReplication(run) {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const serverBefore = serverCpuS();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const serverAfter = serverCpuS();
  if (!result.ok || (result.errors && result.errors.length > 0)) {
    fail(`replication failed: ${JSON.stringify(result.errors ?? result)}`);
  }
  const cpuS = {
    tablet: (used.user + used.system) / 1e6,
    server: serverBefore === null || serverAfter === null ? null : serverAfter - serverBefore,
  };
  return { seconds, cpuS, result };
}

async function runSync(workloadFile, batch, serverUrl, scratch) {
  if (!Number.isInteger(batch) || batch < 1) fail(`batch must be a positive integer, got ${batch}`);
  const docs = readWorkload(workloadFile);
  const dbUrl = `${serverUrl.replace(/\/$/, '')}/bench_sync`;

  const a = local(scratch, 'tablet_a');
  await load(a, docs);
  const loaded = (await a.info()).doc_count;
  if (loaded !== docs.length) fail(`tablet A holds ${loaded} docs, expected ${docs.length}`);

  // PouchDB's default batches_limit, as it replicates out of the box: up to 10 batches are
  // read ahead from the source's changes feed while one batch at a time is written.
  const pushMeter = new LegMeter();
  const pushRemote = pushMeter.remote(dbUrl);
  const push = await timedReplication(() => a.replicate.to(pushRemote, { batch_size: batch }));
  if (push.result.docs_written !== docs.length) {
    fail(`push wrote ${push.result.docs_written} docs, expected ${docs.length}`);
  }
  pushMeter.agent.destroy();

  const b = local(scratch, 'tablet_b');
  const pullMeter = new LegMeter();
  const pullRemote = pullMeter.remote(dbUrl);
  const pull = await timedReplication(() => b.replicate.from(pullRemote, { batch_size: batch }));
  pullMeter.agent.destroy();
  const bInfo = await b.info();
  const pulled = bInfo.doc_count;
  if (pulled !== docs.length) fail(`tablet B holds ${pulled} docs after pull, expected ${docs.length}`);

  await a.close();
  await b.close();
  const n = docs.length;
  return {
    protocols: n,
    batch,
    push_s: push.seconds,
    pull_s: pull.seconds,
    push_cpu_s: push.cpuS,
    pull_cpu_s: pull.cpuS,
    push_protocols_per_s: n / push.seconds,
    pull_protocols_per_s: n / pull.seconds,
    push_bytes: pushMeter.wireBytes(),
    pull_bytes: pullMeter.wireBytes(),
    push_body_bytes: pushMeter.requestBodyBytes + pushMeter.responseBodyBytes,
    pull_body_bytes: pullMeter.requestBodyBytes + pullMeter.responseBodyBytes,
    push_round_trips: pushMeter.requests,
    pull_round_trips: pullMeter.requests,
    client_peak_rss_mb: peakRssMb(),
    client_adapter: bInfo.adapter,
  };
}

// This process's own peak resident set. Not resourceUsage().maxRSS: Linux carries that across
// exec from the parent that spawned us, so it would report the benchmark's own memory.
function peakRssMb() {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return line ? Number(line.split(/\s+/)[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

// The two offline edits made to every edited protocol: tablet 1 writes its findings,
// tablet 2 flips the conclusion. Different fields of the same document.
function edit1(doc, i) {
  return { ...doc, findings: `tablet 1 finding ${i}` };
}
function edit2(doc) {
  return { ...doc, conclusion: doc.conclusion === 'compliant' ? 'non_compliant' : 'compliant' };
}

async function winners(db, ids) {
  const out = new Map();
  const res = await db.allDocs({ keys: ids, include_docs: true, conflicts: true });
  for (const row of res.rows) {
    if (!row.doc) fail(`missing ${row.key}: ${row.error ?? 'deleted'}`);
    out.set(row.key, row.doc);
  }
  return out;
}

async function syncUntilQuiet(t1, t2, remote) {
  const opts = { batch_size: CONFLICT_BATCH };
  for (let round = 1; round <= MAX_QUIET_ROUNDS; round += 1) {
    let written = 0;
    for (const run of [
      () => t1.replicate.to(remote, opts),
      () => t2.replicate.to(remote, opts),
      () => t1.replicate.from(remote, opts),
      () => t2.replicate.from(remote, opts),
    ]) {
      written += (await timedReplication(run)).result.docs_written;
    }
    if (written === 0) return round;
  }
  fail(`replication still moving documents after ${MAX_QUIET_ROUNDS} rounds`);
  return MAX_QUIET_ROUNDS;
}

async function runConflict(workloadFile, fraction, serverUrl, scratch) {
  if (!(fraction > 0 && fraction <= 1)) fail(`fraction must be in (0, 1], got ${fraction}`);
  const docs = readWorkload(workloadFile);
  const remote = new PouchDB(`${serverUrl.replace(/\/$/, '')}/bench_conflict`);
  const t1 = local(scratch, 'tablet_1');
  const t2 = local(scratch, 'tablet_2');

  // Everyone starts from the same synced state: tablet 1 -> server -> tablet 2.
  await load(t1, docs);
  await timedReplication(() => t1.replicate.to(remote, { batch_size: CONFLICT_BATCH }));
  await timedReplication(() => t2.replicate.from(remote, { batch_size: CONFLICT_BATCH }));
  const start = (await t2.info()).doc_count;
  if (start !== docs.length) fail(`tablet 2 holds ${start} docs, expected ${docs.length}`);

  // Offline: every k-th protocol is edited on both tablets, each on its own field.
  const k = Math.max(1, Math.round(1 / fraction));
  const picked = docs.filter((_, i) => i % k === 0);
  const ids = picked.map((d) => d._id);
  const expected1 = new Map();
  const expected2 = new Map();
  const on1 = await winners(t1, ids);
  const on2 = await winners(t2, ids);
  const writes1 = [];
  const writes2 = [];
  picked.forEach((doc, i) => {
    const e1 = edit1(on1.get(doc._id), i);
    const e2 = edit2(on2.get(doc._id));
    expected1.set(doc._id, e1.findings);
    expected2.set(doc._id, e2.conclusion);
    writes1.push(e1);
    writes2.push(e2);
  });
  for (const [db, writes] of [[t1, writes1], [t2, writes2]]) {
    const results = await db.bulkDocs(writes);
    const bad = results.find((r) => r.error);
    if (bad) fail(`offline edit refused ${bad.id}: ${bad.error}`);
  }

  const rounds = await syncUntilQuiet(t1, t2, remote);

  const kept = {};
  const keptBy = new Map(ids.map((id) => [id, { findings: 0, conclusion: 0 }]));
  const winningRevs = new Map();
  let conflicted = 0;
  for (const [name, db] of [['tablet1', t1], ['tablet2', t2], ['server', remote]]) {
    const seen = await winners(db, ids);
    let count = 0;
    for (const id of ids) {
      const doc = seen.get(id);
      const tally = keptBy.get(id);
      if (doc.findings === expected1.get(id)) {
        count += 1;
        tally.findings += 1;
      }
      if (doc.conclusion === expected2.get(id)) {
        count += 1;
        tally.conclusion += 1;
      }
      if (!winningRevs.has(id)) winningRevs.set(id, new Set());
      winningRevs.get(id).add(doc._rev);
      if (name === 'server' && doc._conflicts && doc._conflicts.length > 0) conflicted += 1;
    }
    kept[name] = count;
  }
  let keptEverywhere = 0;
  for (const tally of keptBy.values()) {
    if (tally.findings === 3) keptEverywhere += 1;
    if (tally.conclusion === 3) keptEverywhere += 1;
  }
  const converged = [...winningRevs.values()].every((revs) => revs.size === 1);

  await t1.close();
  await t2.close();
  const edits = 2 * ids.length;
  return {
    protocols: docs.length,
    edited_protocols: ids.length,
    edits,
    kept_per_replica: kept,
    kept_on_every_replica: keptEverywhere,
    kept_fraction: edits === 0 ? 0 : keptEverywhere / edits,
    conflicts_buried_on_server: conflicted,
    converged,
    sync_rounds: rounds,
  };
}

async function main() {
  const [mode, workload, arg, serverUrl, scratch] = process.argv.slice(2);
  if (!mode || !workload || !serverUrl || !scratch) {
    fail('usage: run.mjs sync|conflict WORKLOAD BATCH|FRACTION SERVER_URL SCRATCH_DIR');
  }
  let report;
  if (mode === 'sync') report = await runSync(workload, Number(arg), serverUrl, scratch);
  else if (mode === 'conflict') {
    report = await runConflict(workload, arg ? Number(arg) : 0.01, serverUrl, scratch);
  } else fail(`unknown mode ${mode}`);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  reported = true;
}

// A replication that stalls with nothing left to wait on lets Node exit with status 0 and no
// output; make that a failure.
let reported = false;
process.on('exit', (code) => {
  if (code === 0 && !reported) {
    process.stderr.write('run.mjs: exited before reporting (a stalled request?)\n');
    process.exitCode = 1;
  }
});

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
