#!/usr/bin/env node
// Prints the benchmark matrix of scripts/bench-compare.sh as tables: each
// result line with its ratio to onnxruntime-node at the same model, workload
// and thread count (items/s ratio: above 1 is faster than ONNX Runtime; for
// workload d also the p50 latency ratio: below 1 is faster), then peak RSS.
//
//   node tools/bench/matrix_table.js MATRIX_JSONL [MEMORY_JSONL]
'use strict';
const fs = require('fs');

const read = (f) => (f && fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '')
  .split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l));

function table(cols, rows) {
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const fmt = (vals) => vals.map((v, i) => String(v ?? '').padEnd(w[i])).join('  ');
  console.log(fmt(cols));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  rows.forEach((r) => console.log(fmt(cols.map((c) => r[c]))));
}

const rows = read(process.argv[2]);
const key = (r) => `${r.model}|${r.workload}|${r.threads}`;
const ort = new Map(rows.filter((r) => r.runtime === 'onnxruntime-node').map((r) => [key(r), r]));
const out = rows.map((r) => {
  const base = ort.get(key(r));
  const name = r.backend ? `${r.runtime}/${r.backend}` : r.runtime;
  const o = { model: r.model, workload: r.workload, threads: r.threads, runtime: name,
    items_per_s: r.items_per_s, tokens_per_s: r.tokens_per_s, p50_ms: r.p50_ms, p99_ms: r.p99_ms };
  if (base && base !== r) {
    o['x_ort'] = (r.items_per_s / base.items_per_s).toFixed(2);
    if (r.workload === 'd') o['p50_x_ort'] = (r.p50_ms / base.p50_ms).toFixed(2);
  }
  return o;
});
out.sort((a, b) => (a.model + a.workload).localeCompare(b.model + b.workload) || a.threads - b.threads);
if (rows.length) console.log(`cpu: ${rows[0].cpu ?? '?'}`);
table(['model', 'workload', 'threads', 'runtime', 'items_per_s', 'tokens_per_s', 'p50_ms', 'p99_ms', 'x_ort', 'p50_x_ort'], out);

const mem = read(process.argv[3]);
if (mem.length) {
  // One process per cell: keep the largest peak per runtime, model and threads.
  const peak = new Map();
  for (const m of mem) {
    const k = `${m.model}|${m.runtime}${m.backend ? '/' + m.backend : ''}|${m.threads}`;
    if (!peak.has(k) || peak.get(k).peak_rss_mb < m.peak_rss_mb) peak.set(k, m);
  }
  console.log('\npeak RSS per process (largest over the workloads) against the weight bytes on disk');
  table(['model', 'runtime', 'threads', 'peak_rss_mb', 'weights_mb', 'rss/weights'],
    [...peak.values()].map((m) => ({ model: m.model, runtime: m.backend ? `${m.runtime}/${m.backend}` : m.runtime,
      threads: m.threads, peak_rss_mb: m.peak_rss_mb, weights_mb: m.weights_mb,
      'rss/weights': (m.peak_rss_mb / m.weights_mb).toFixed(2) }))
      .sort((a, b) => (a.model + a.runtime).localeCompare(b.model + b.runtime) || a.threads - b.threads));
}
