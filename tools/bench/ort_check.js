#!/usr/bin/env node
// Numerical check of an exported BERT ONNX graph against golden vectors, run
// with onnxruntime-node (an independent runtime).
//
// Usage: node tools/bench/ort_check.js [--model FILE] [--golden FILE]
//        [--max-abs 1e-5] [--min-cos 0.99999] [--no-trim]
//
// Defaults: --model $SIE_MINILM_ONNX or .cache/minilm/model.onnx,
//           --golden testdata/fixtures/real-minilm/golden.json.
//
// Two passes:
//   batch: the golden inputs exactly as stored (one batch, padded as stored);
//   trim : every input alone, cut to its real length (checks that padding and
//          the dynamic sequence axis do not change the result).
// Gates on sentence_embedding vs outputs.embedding (exit 1 when it misses
// --max-abs or --min-cos). Also prints, for information, the masked mean of
// last_hidden_state vs outputs.pooled and last_hidden_state vs
// outputs.last_hidden_state_first3 (these are unnormalised, so their absolute
// differences scale with the values, up to ~10 in hidden states).
'use strict';

const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
const ort = require(path.join(REPO, 'tools', 'node', 'node_modules', 'onnxruntime-node'));

function parseArgs(argv) {
  const a = {
    model: process.env.SIE_MINILM_ONNX || path.join(REPO, '.cache', 'minilm', 'model.onnx'),
    golden: path.join(REPO, 'testdata', 'fixtures', 'real-minilm', 'golden.json'),
    maxAbs: 1e-5,
    minCos: 0.99999,
    trim: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--model') a.model = next();
    else if (k === '--golden') a.golden = next();
    else if (k === '--max-abs') a.maxAbs = Number(next());
    else if (k === '--min-cos') a.minCos = Number(next());
    else if (k === '--no-trim') a.trim = false;
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function int64Tensor(rows, T) {
  const data = new BigInt64Array(rows.length * T);
  rows.forEach((r, b) => {
    for (let t = 0; t < T; t++) data[b * T + t] = BigInt(r[t]);
  });
  return new ort.Tensor('int64', data, [rows.length, T]);
}

// Compare a flat Float32Array (row-major [n, d]) with nested golden rows.
function compareRows(got, want, d) {
  let maxAbs = 0;
  let minCos = Infinity;
  want.forEach((w, i) => {
    let dot = 0, ng = 0, nw = 0;
    for (let j = 0; j < d; j++) {
      const g = got[i * d + j];
      maxAbs = Math.max(maxAbs, Math.abs(g - w[j]));
      dot += g * w[j];
      ng += g * g;
      nw += w[j] * w[j];
    }
    minCos = Math.min(minCos, dot / Math.sqrt(ng * nw));
  });
  return { maxAbs, minCos };
}

function fmt(r) {
  return `max|Δ|=${r.maxAbs.toExponential(3)} min cos=${r.minCos.toFixed(9)} (1-cos=${(1 - r.minCos).toExponential(2)})`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const golden = JSON.parse(fs.readFileSync(args.golden, 'utf8'));
  const inputs = golden.inputs;
  const wantEmb = golden.outputs.embedding;
  const H = wantEmb[0].length;

  const session = await ort.InferenceSession.create(args.model, {
    graphOptimizationLevel: 'all',
    interOpNumThreads: 1,
  });
  const fetch = ['sentence_embedding', 'last_hidden_state'];

  let ok = true;
  const report = (label, r, strict) => {
    const pass = r.maxAbs <= args.maxAbs && r.minCos >= args.minCos;
    if (strict && !pass) ok = false;
    console.log(`${label.padEnd(34)} ${fmt(r)}${strict ? (pass ? '  OK' : '  FAIL') : '  (info)'}`);
  };

  // Pass 1: the golden batch exactly as stored.
  const T = inputs[0].input_ids.length;
  const feeds = {
    input_ids: int64Tensor(inputs.map((x) => x.input_ids), T),
    attention_mask: int64Tensor(inputs.map((x) => x.attention_mask), T),
    token_type_ids: int64Tensor(inputs.map((x) => x.token_type_ids), T),
  };
  const t0 = process.hrtime.bigint();
  const out = await session.run(feeds, fetch);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`model ${args.model}\ngolden ${args.golden}: ${inputs.length} inputs × ${T} tokens, ` +
    `batch run ${ms.toFixed(0)} ms`);
  report('batch sentence_embedding', compareRows(out.sentence_embedding.data, wantEmb, H), true);

  const hid = out.last_hidden_state.data; // [n, T, H]
  if (golden.outputs.pooled) {
    // golden "pooled" = masked mean before normalisation; recomputed here in
    // JS (float64) from last_hidden_state, independently of the graph's pooling.
    const mean = new Float32Array(inputs.length * H);
    inputs.forEach((x, b) => {
      const acc = new Float64Array(H);
      let cnt = 0;
      for (let t = 0; t < T; t++) {
        if (!x.attention_mask[t]) continue;
        cnt++;
        for (let j = 0; j < H; j++) acc[j] += hid[(b * T + t) * H + j];
      }
      for (let j = 0; j < H; j++) mean[b * H + j] = acc[j] / Math.max(cnt, 1e-9);
    });
    report('batch mean-pooled (pre-normalise)', compareRows(mean, golden.outputs.pooled, H), false);
  }
  if (golden.outputs.last_hidden_state_first3) {
    // golden: [3 texts][P positions][H].
    const want3 = golden.outputs.last_hidden_state_first3;
    const flatWant = [];
    const rows = [];
    want3.forEach((seq, b) => seq.forEach((row, t) => {
      flatWant.push(row);
      rows.push(hid.subarray((b * T + t) * H, (b * T + t + 1) * H));
    }));
    const flatGot = new Float32Array(rows.length * H);
    rows.forEach((r, i) => flatGot.set(r, i * H));
    report(`batch last_hidden_state[:3, :${want3[0].length}]`, compareRows(flatGot, flatWant, H), false);
  }

  // Pass 2: every input alone, trimmed to its real length.
  if (args.trim) {
    const got = new Float32Array(inputs.length * H);
    for (let i = 0; i < inputs.length; i++) {
      const x = inputs[i];
      const n = x.num_tokens || x.attention_mask.reduce((s, v) => s + v, 0);
      const f = {
        input_ids: int64Tensor([x.input_ids], n),
        attention_mask: int64Tensor([x.attention_mask], n),
        token_type_ids: int64Tensor([x.token_type_ids], n),
      };
      const o = await session.run(f, ['sentence_embedding']);
      got.set(o.sentence_embedding.data, i * H);
    }
    report('trimmed sentence_embedding', compareRows(got, wantEmb, H), true);
  }

  console.log(ok ? 'PASS' : `FAIL (tolerance max|Δ| <= ${args.maxAbs}, cos >= ${args.minCos})`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(2);
});
