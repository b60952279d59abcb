#!/usr/bin/env node
'use strict';
// Writes the golden files that tokenizer/*_test.go compare against. The
// oracle is npm tokenizers (the Hugging Face binding over the Rust crate);
// its code-point offsets are converted to UTF-8 byte offsets.
//
//   node tools/oracle/gen_goldens.js                  regenerate every golden in tokenizer/testdata
//   node tools/oracle/gen_goldens.js --spec minilm --inputs cases.jsonl --out out.jsonl.gz
//   node tools/oracle/gen_goldens.js --tokenizer path/tokenizer.json --inputs cases.jsonl --out -
//        (cases: JSON lines {text, pair?, add_special?, trunc?: {max_length, strategy, direction, stride}|null};
//         "-" means stdin/stdout; this is what the live Go comparison uses)
//   node tools/oracle/gen_goldens.js --sweep minilm [--max 0x10ffff] --out -
//   node tools/oracle/gen_goldens.js --normsweep [--max 0x10ffff] --out -
//   node tools/oracle/gen_goldens.js --detail NFC:1:300:fff   (one normalizer sweep chunk, for diagnosis)
//   node tools/oracle/gen_goldens.js --extract-fixtures /work/shared/fixtures
//   node tools/oracle/gen_goldens.js --corpus path/to/nlp-corpus/package/builds
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const lib = require('./lib.js');

const INPUTS = path.join(__dirname, 'inputs');
const GOLDENS = path.join(lib.TESTDATA, 'goldens');

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--')) throw new Error('unexpected argument ' + k);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) a[k.slice(2)] = true;
    else a[k.slice(2)] = argv[++i];
  }
  return a;
}

function readInput(file) {
  if (file === '-') {
    return fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  }
  return lib.readJSONL(file);
}

function writeOut(file, text) {
  if (file === '-') process.stdout.write(text);
  else fs.writeFileSync(file, file.endsWith('.gz') ? zlib.gzipSync(text, { level: 9 }) : text);
}

async function encodeAll(h, cases) {
  const out = [];
  for (const c of cases) out.push(Object.assign({}, c, await lib.encodeCase(h, c)));
  return out;
}

// ---- case lists ----

const STRATEGIES = ['LongestFirst', 'OnlyFirst', 'OnlySecond'];
const DIRECTIONS = ['Right', 'Left'];

function pairMatrix(pairs, lengths) {
  const cases = [];
  for (const [a, b] of pairs) {
    for (const strategy of STRATEGIES) {
      for (const direction of DIRECTIONS) {
        for (const max_length of lengths) {
          cases.push({ text: a, pair: b, trunc: { max_length, strategy, direction, stride: 0 } });
        }
      }
    }
  }
  return cases;
}

function singleMatrix(texts, lengths) {
  const cases = [];
  for (const t of texts) {
    for (const strategy of STRATEGIES) {
      for (const direction of DIRECTIONS) {
        for (const max_length of lengths) cases.push({ text: t, trunc: { max_length, strategy, direction, stride: 0 } });
      }
    }
  }
  return cases;
}

function loadInputs() {
  const fixtures = lib.readJSONL(path.join(INPUTS, 'fixtures.jsonl'));
  const corpus = lib.readJSONL(path.join(INPUTS, 'corpus_sample.jsonl.gz')).map((r) => r.text);
  const adversarial = require('./adversarial.js');
  const fixtureTexts = fixtures.filter((r) => r.pair === undefined).map((r) => r.text);
  const fixturePairs = fixtures.filter((r) => r.pair !== undefined).map((r) => [r.text, r.pair]);
  const handPairs = [
    ['', ''],
    ['', 'only the second sequence has words'],
    ['only the first sequence has words', ''],
    ['short query', 'a much longer passage that goes on and on with many words so that it needs truncating'],
    ['a much longer query that goes on and on with many many words in it', 'short passage'],
    ['Héllo wörld [MASK] query', 'Passage with 中文 and emoji 😀 and <mask> tokens'],
    ['one two three four five six seven eight', 'one two three four five six seven eight'],
    ['unaffable antidisestablishmentarianism', 'supercalifragilisticexpialidocious pneumonia'],
  ];
  const corpusPairs = [];
  for (let i = 0; i + 1 < corpus.length && corpusPairs.length < 12; i += 37) corpusPairs.push([corpus[i], corpus[i + 1]]);
  return { fixtures, fixtureTexts, fixturePairs, corpus, adversarial, handPairs, corpusPairs };
}

function casesFor(spec, inp) {
  const plain = (texts) => texts.map((text) => ({ text }));
  const pairs = (ps) => ps.map(([text, pair]) => ({ text, pair }));
  const full = ['minilm', 'bert-mean', 'mpnet', 'colbert', 'syn-bert-cased', 'syn-nfkc-roberta'].includes(spec);
  const cases = [];
  cases.push(...plain(inp.fixtureTexts), ...pairs(inp.fixturePairs));
  cases.push(...plain(inp.adversarial));
  cases.push(...inp.adversarial.map((text) => ({ text, add_special: false })));
  cases.push(...pairs(inp.handPairs), ...pairs(inp.handPairs).map((c) => Object.assign(c, { add_special: false })));
  cases.push(...plain(inp.corpus.slice(0, spec === 'minilm' ? inp.corpus.length : 300)));
  const lengths = full ? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 16, 24, 33, 64, 128] : [0, 1, 3, 4, 7, 16, 64];
  const matrixPairs = full
    ? inp.handPairs.concat(inp.fixturePairs.slice(0, 6), inp.corpusPairs)
    : inp.handPairs.concat(inp.fixturePairs.slice(0, 2), inp.corpusPairs.slice(0, 3));
  cases.push(...pairMatrix(matrixPairs, lengths));
  cases.push(...singleMatrix(inp.adversarial.filter((t) => t.length > 20).slice(0, full ? 12 : 4), lengths));
  // Truncation without special tokens, and explicitly disabled truncation.
  cases.push(...pairMatrix(inp.handPairs.slice(3, 6), [0, 3, 8]).map((c) => Object.assign(c, { add_special: false })));
  cases.push(...inp.corpus.slice(0, 20).map((text) => ({ text: text.repeat(8), trunc: null })));
  return cases;
}

// ---- sweeps ----

const isSurrogate = (cp) => cp >= 0xd800 && cp <= 0xdfff;

// sweepContexts are the texts a code point is encoded in, without special
// tokens. Keep in sync with sweep_test.go.
const sweepContexts = [(c) => c, (c) => 'a' + c + 'b c'];

// Sweep format: one line per (code point, context), code points ascending,
// surrogates skipped; a line is "ids;offsets" (comma-separated ids, then
// start-end byte offsets). "*N" repeats the previous line N more times.
async function sweep(spec, max) {
  const h = lib.loadTokenizer(spec);
  const lines = [];
  let prev = null;
  let rep = 0;
  const flush = () => {
    if (rep > 0) lines.push('*' + rep);
    rep = 0;
  };
  for (let cp = 0; cp <= max; cp++) {
    if (isSurrogate(cp)) continue;
    const c = String.fromCodePoint(cp);
    for (const ctx of sweepContexts) {
      const r = await lib.encodeCase(h, { text: ctx(c), add_special: false });
      if (r.error) throw new Error(r.error);
      const line = r.ids.join(',') + ';' + r.offsets.map(([a, b]) => a + '-' + b).join(',');
      if (line === prev) rep++;
      else {
        flush();
        lines.push(line);
        prev = line;
      }
    }
  }
  flush();
  return `# sweep ${spec} max=0x${max.toString(16)}\n` + lines.join('\n') + '\n';
}

// Normalizer sweep. For each normalizer and context, every code point's
// output is serialized as its code points in hex ("41 301\n"); the lines are
// hashed (SHA-256) per chunk of NORM_CHUNK code points. The hash file is
// "<normalizer>\t<ctx>\t<chunk start hex>\t<sha256 hex>"; --detail prints
// the plain lines of one chunk for diagnosis. Keep normalizers, contexts and
// serialization in sync with sweep_test.go.
const NORM_CHUNK = 4096;

function sweepNormalizers() {
  const t = lib.tk;
  return {
    NFD: t.nfdNormalizer(),
    NFKD: t.nfkdNormalizer(),
    NFC: t.nfcNormalizer(),
    NFKC: t.nfkcNormalizer(),
    Lowercase: t.lowercase(),
    StripAccents: t.stripAccentsNormalizer(),
    Bert: t.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }),
    BertCased: t.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: false, lowercase: false }),
  };
}
const normContexts = [(c) => c, (c) => 'A' + c + '\u0301', (c) => '\u1100' + c + '\u0323'];

function normLine(n, ctx, cp) {
  const o = n.normalizeString(ctx(String.fromCodePoint(cp)));
  return Array.from(o, (ch) => ch.codePointAt(0).toString(16)).join(' ') + '\n';
}

function normSweep(max) {
  const crypto = require('crypto');
  const lines = [`# normsweep max=0x${max.toString(16)} chunk=${NORM_CHUNK}`];
  for (const [name, n] of Object.entries(sweepNormalizers())) {
    normContexts.forEach((ctx, i) => {
      for (let start = 0; start <= max; start += NORM_CHUNK) {
        const h = crypto.createHash('sha256');
        for (let cp = start; cp < start + NORM_CHUNK && cp <= max; cp++) {
          if (!isSurrogate(cp)) h.update(normLine(n, ctx, cp));
        }
        lines.push(`${name}\t${i}\t${start.toString(16)}\t${h.digest('hex')}`);
      }
    });
  }
  return lines.join('\n') + '\n';
}

function normDetail(name, ctxIdx, from, to) {
  const n = sweepNormalizers()[name];
  let out = '';
  for (let cp = from; cp <= to; cp++) if (!isSurrogate(cp)) out += cp.toString(16) + '\t' + normLine(n, normContexts[ctxIdx], cp);
  return out;
}

// ---- vocabulary probes (TestVocabularyMeta) ----

const META_TOKENS = ['[CLS]', '[SEP]', '[PAD]', '[MASK]', '[UNK]', '<mask>', '<s>', '</s>', 'hello', '##ing', '<sep>',
  'Ｑｕｅｒｙ:', 'query:', 'Café', 'e\u0301', '[unused0]', '[UNUSED0]', 'no-such-token'];
const META_IDS = [0, 1, 2, 3, 100, 101, 102, 103, 104, 7592, 30521, 30522, 30523, 30524, 30525, 30526, 30527, 99999];

function meta() {
  const out = {};
  for (const spec of Object.keys(lib.loadSpecs())) {
    const t = lib.loadTokenizer(spec).base;
    out[spec] = {
      vocab_size: t.getVocabSize(true),
      token_to_id: Object.fromEntries(META_TOKENS.map((k) => [k, t.tokenToId(k)])),
      id_to_token: Object.fromEntries(META_IDS.map((i) => [String(i), t.idToToken(i)])),
    };
  }
  return JSON.stringify(out, null, 1) + '\n';
}

// ---- input extraction ----

function extractFixtures(dir) {
  const rows = [];
  const seen = new Set();
  const add = (r) => {
    const k = JSON.stringify(r);
    if (!seen.has(k)) {
      seen.add(k);
      rows.push(r);
    }
  };
  const walk = (v) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'text' || k === 'raw_text') && typeof x === 'string') add({ text: x });
        else if (k === 'pair' && Array.isArray(x) && x.length === 2) add({ text: x[0], pair: x[1] });
        else walk(x);
      }
    }
  };
  for (const d of fs.readdirSync(dir).sort()) {
    const f = path.join(dir, d, 'golden.json');
    if (!fs.existsSync(f)) continue;
    const g = JSON.parse(fs.readFileSync(f, 'utf8'));
    for (const k of Object.keys(g)) if (k.startsWith('inputs')) walk(g[k]);
  }
  lib.writeJSONL(path.join(INPUTS, 'fixtures.jsonl'), rows);
  console.error(`fixtures.jsonl: ${rows.length} rows`);
}

function corpusFiles(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => /^doc-\d+\.json$/.test(f))
    .sort((a, b) => parseInt(a.slice(4), 10) - parseInt(b.slice(4), 10))
    .map((f) => path.join(dir, f));
}

function extractCorpus(dir) {
  const rows = [];
  for (const f of corpusFiles(dir)) {
    const doc = JSON.parse(fs.readFileSync(f, 'utf8'));
    for (let i = 0; i < doc.length; i += 97) rows.push({ text: doc[i] });
  }
  lib.writeJSONL(path.join(INPUTS, 'corpus_sample.jsonl.gz'), rows);
  console.error(`corpus_sample.jsonl.gz: ${rows.length} rows`);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a['extract-fixtures']) return extractFixtures(a['extract-fixtures']);
  if (a.corpus) return extractCorpus(a.corpus);
  const max = a.max ? parseInt(a.max, 16) : 0x3ffff;
  if (a.sweep) return writeOut(a.out || '-', await sweep(a.sweep, max));
  if (a.normsweep) return writeOut(a.out || '-', normSweep(max));
  if (a.detail) {
    // --detail NAME:CTX:FROM:TO (hex code points)
    const [name, ctx, from, to] = a.detail.split(':');
    return writeOut(a.out || '-', normDetail(name, parseInt(ctx, 10), parseInt(from, 16), parseInt(to, 16)));
  }
  if (a.inputs) {
    const h = lib.loadTokenizer(a.spec || a.tokenizer);
    const res = await encodeAll(h, readInput(a.inputs));
    return writeOut(a.out || '-', res.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
  if (a.meta) return writeOut(a.out || '-', meta());
  // Regenerate everything.
  fs.mkdirSync(GOLDENS, { recursive: true });
  writeOut(path.join(GOLDENS, 'meta.json'), meta());
  const inp = loadInputs();
  for (const spec of Object.keys(lib.loadSpecs())) {
    const res = await encodeAll(lib.loadTokenizer(spec), casesFor(spec, inp));
    lib.writeJSONL(path.join(GOLDENS, spec + '.jsonl.gz'), res);
    console.error(`${spec}: ${res.length} cases`);
  }
  for (const spec of ['minilm', 'syn-bertproc', 'syn-nfkc-roberta', 'syn-nfc-seq', 'syn-bert-cased']) {
    writeOut(path.join(GOLDENS, `sweep-${spec}.txt.gz`), await sweep(spec, 0x3ffff));
    console.error(`sweep ${spec} done`);
  }
  writeOut(path.join(GOLDENS, 'normsweep.txt.gz'), normSweep(0x10ffff));
  console.error('normsweep done');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
