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
      default: throw new Error(`unknown argument ${k}`);
    }
  }
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

async function main() {
  const args = parseArgs(process.argv.slice(2));
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
