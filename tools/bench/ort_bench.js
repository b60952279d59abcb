#!/usr/bin/env node
// Throughput of onnxruntime-node on a BERT ONNX graph, for side-by-side
// comparison with sie.
//
// Usage:
//   node tools/bench/ort_bench.js --model model.onnx --tokenizer tokenizer.json \
//        --sentences sentences.txt --threads 1 [--iters 10 --warmup 3 --max-length 256]
//
// All sentences (one per line, blank lines skipped) form ONE batch: truncated
// to --max-length tokens and padded to the longest in the batch (pad id 0),
// like sentence-transformers. The tokenizer.json's own truncation/padding
// settings are overridden.
//
// Prints one JSON line:
//   {"runtime":"onnxruntime-node","threads":1,"batch":64,"seq":58,
//    "sentences_per_s":...,"median_ms":...,...}
// median over --iters timed runs after --warmup untimed runs.
//
// Matrix mode (scripts/bench-compare.sh): --workload a|b|c|d|e --texts FILE
// [--model-name NAME --cpu "..." --min-time-ms 5000 --mem-out FILE] prints one
// line {"runtime","threads","model","workload","items_per_s","tokens_per_s",
// "p50_ms","p99_ms","cpu"}: a, b, c run all texts as one batch per iteration;
// d one text per run (latency p50/p99); e the stream 4 texts per run, one run
// at a time (ONNX Runtime has no batcher). Timings cover session.run only.
'use strict';

const fs = require('fs');
const path = require('path');
const os = require('os');

const NODE_MODULES = path.resolve(__dirname, '..', 'node', 'node_modules');
const ort = require(path.join(NODE_MODULES, 'onnxruntime-node'));
const { Tokenizer } = require(path.join(NODE_MODULES, 'tokenizers'));

function parseArgs(argv) {
  const a = { threads: 1, iters: 10, warmup: 3, maxLength: 256, output: 'sentence_embedding' };
  const num = (k, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${k}: want a non-negative integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
    const v = argv[++i];
    switch (k) {
      case '--model': a.model = v; break;
      case '--tokenizer': a.tokenizer = v; break;
      case '--sentences': a.sentences = v; break;
      case '--threads': a.threads = num(k, v); break;
      case '--iters': a.iters = num(k, v); break;
      case '--warmup': a.warmup = num(k, v); break;
      case '--max-length': a.maxLength = num(k, v); break;
      case '--output': a.output = v; break;
      case '--workload': a.workload = v; break;
      case '--texts': a.texts = v; break;
      case '--model-name': a.modelName = v; break;
      case '--cpu': a.cpu = v; break;
      case '--min-time-ms': a.minTimeMs = num(k, v); break;
      case '--mem-out': a.memOut = v; break;
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (a.workload) a.sentences = a.sentences || a.texts;
  for (const k of ['model', 'tokenizer', 'sentences']) {
    if (!a[k]) throw new Error(`--${k} is required`);
  }
  if (a.iters < 1) throw new Error('--iters must be >= 1');
  if (a.threads < 1) throw new Error('--threads must be >= 1');
  return a;
}

async function tokenize(tokenizerFile, sentences, maxLength) {
  const tok = Tokenizer.fromFile(tokenizerFile);
  tok.setTruncation(maxLength);
  tok.disablePadding(); // we pad to the longest ourselves, below
  const encs = await tok.encodeBatch(sentences);
  const rows = encs.map((e) => ({ ids: e.getIds(), types: e.getTypeIds(), mask: e.getAttentionMask() }));
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.ids.length));
  const ids = new BigInt64Array(B * T);       // zero-filled = [PAD] id 0
  const mask = new BigInt64Array(B * T);
  const types = new BigInt64Array(B * T);
  rows.forEach((r, b) => {
    for (let t = 0; t < r.ids.length; t++) {
      ids[b * T + t] = BigInt(r.ids[t]);
      mask[b * T + t] = BigInt(r.mask[t]);
      types[b * T + t] = BigInt(r.types[t]);
    }
  });
  const tokens = rows.reduce((s, r) => s + r.ids.length, 0);
  return {
    B, T, tokens,
    feeds: {
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      attention_mask: new ort.Tensor('int64', mask, [B, T]),
      token_type_ids: new ort.Tensor('int64', types, [B, T]),
    },
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// tokenizeRows pads the given encodings to their longest into ORT feeds.
function feedsOf(rows) {
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.ids.length));
  const ids = new BigInt64Array(B * T);
  const mask = new BigInt64Array(B * T);
  const types = new BigInt64Array(B * T);
  rows.forEach((r, b) => {
    for (let t = 0; t < r.ids.length; t++) {
      ids[b * T + t] = BigInt(r.ids[t]);
      mask[b * T + t] = BigInt(r.mask[t]);
      types[b * T + t] = BigInt(r.types[t]);
    }
  });
  return {
    tokens: rows.reduce((s, r) => s + r.ids.length, 0),
    feeds: {
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      attention_mask: new ort.Tensor('int64', mask, [B, T]),
      token_type_ids: new ort.Tensor('int64', types, [B, T]),
    },
  };
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

const round2 = (x) => Math.round(x * 100) / 100;

async function matrix(args) {
  const texts = fs.readFileSync(args.texts, 'utf8').split('\n').map((s) => s.trim()).filter((s) => s.length > 0);
  const tok = Tokenizer.fromFile(args.tokenizer);
  tok.setTruncation(args.maxLength);
  tok.disablePadding();
  const encs = await tok.encodeBatch(texts);
  const rows = encs.map((e) => ({ ids: e.getIds(), types: e.getTypeIds(), mask: e.getAttentionMask() }));
  let calls; // the feeds of one pass, in order
  switch (args.workload) {
    case 'a': case 'b': case 'c': calls = [feedsOf(rows)]; break;
    case 'd': calls = rows.map((r) => feedsOf([r])); break;
    case 'e': calls = []; for (let i = 0; i < rows.length; i += 4) calls.push(feedsOf(rows.slice(i, i + 4))); break;
    default: throw new Error(`unknown workload ${args.workload}`);
  }
  const session = await ort.InferenceSession.create(args.model, {
    intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  const pass = async (lat) => {
    for (const c of calls) {
      const t0 = process.hrtime.bigint();
      await session.run(c.feeds, [args.output]);
      if (lat) lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  await pass(null); // warm-up
  const lat = [];
  let elapsed = 0, items = 0, tokens = 0;
  const passTokens = calls.reduce((s, c) => s + c.tokens, 0);
  const minTime = args.minTimeMs ?? 5000;
  for (let it = 0; it < Math.max(1, args.iters) && (it < 2 || elapsed < minTime); it++) {
    const before = lat.length;
    await pass(lat);
    elapsed += lat.slice(before).reduce((s, x) => s + x, 0);
    items += texts.length;
    tokens += passTokens;
  }
  const res = {
    runtime: 'onnxruntime-node', threads: args.threads, model: args.modelName, workload: args.workload,
    items_per_s: round2(items / (elapsed / 1000)), tokens_per_s: round2(tokens / (elapsed / 1000)),
    p50_ms: round2(percentile(lat, 0.5)),
  };
  if (args.workload === 'd' || args.workload === 'e') res.p99_ms = round2(percentile(lat, 0.99));
  if (args.cpu) res.cpu = args.cpu;
  console.log(JSON.stringify(res));
  if (args.memOut) {
    const weights = fs.statSync(args.model).size;
    fs.appendFileSync(args.memOut, JSON.stringify({
      runtime: 'onnxruntime-node', threads: args.threads, model: args.modelName, workload: args.workload,
      peak_rss_mb: round2(process.resourceUsage().maxRSS / 1024), weights_mb: round2(weights / (1 << 20)),
    }) + '\n');
  }
  await session.release();
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.workload) return matrix(args);
  const sentences = fs.readFileSync(args.sentences, 'utf8').split('\n')
    .map((s) => s.trim()).filter((s) => s.length > 0);
  if (sentences.length === 0) throw new Error(`${args.sentences}: no sentences`);

  // Tokenization happens once, here, OUTSIDE the timed region: the timings
  // below cover only session.run (the model forward pass and output copy).
  const { B, T, tokens, feeds } = await tokenize(args.tokenizer, sentences, args.maxLength);

  const session = await ort.InferenceSession.create(args.model, {
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  if (!session.outputNames.includes(args.output)) {
    throw new Error(`model has no output ${args.output} (has ${session.outputNames.join(', ')})`);
  }

  for (let i = 0; i < args.warmup; i++) await session.run(feeds, [args.output]);
  const times = [];
  for (let i = 0; i < args.iters; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds, [args.output]);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const med = median(times);
  console.log(JSON.stringify({
    runtime: 'onnxruntime-node',
    threads: args.threads,
    batch: B,
    seq: T,
    sentences_per_s: Number((B / (med / 1000)).toFixed(2)),
    median_ms: Number(med.toFixed(2)),
    min_ms: Number(Math.min(...times).toFixed(2)),
    max_ms: Number(Math.max(...times).toFixed(2)),
    real_tokens: tokens,
    iters: args.iters,
    warmup: args.warmup,
    ort_version: ort.env.versions ? ort.env.versions.common : undefined,
    cpus: os.cpus().length,
  }));
  await session.release();
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
