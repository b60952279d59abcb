'use strict';
// Shared helpers for the tokenizer oracle scripts: loading the test
// tokenizers described in tokenizer/testdata/specs.json, encoding cases with
// the official Node binding (npm tokenizers, a wrapper over the Rust crate)
// and converting its offsets to UTF-8 byte offsets.
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const tk = require(path.join(__dirname, '..', 'node', 'node_modules', 'tokenizers'));

const ROOT = path.join(__dirname, '..', '..');
const TESTDATA = path.join(ROOT, 'tokenizer', 'testdata');

function readMaybeGz(file) {
  const buf = fs.readFileSync(file);
  return file.endsWith('.gz') ? zlib.gunzipSync(buf) : buf;
}

function readJSONL(file) {
  return readMaybeGz(file)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

function writeJSONL(file, rows) {
  const text = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  fs.writeFileSync(file, file.endsWith('.gz') ? zlib.gzipSync(text, { level: 9 }) : text);
}

// Test tokenizers are a base tokenizer.json plus top-level overrides, so that
// variants share one committed vocabulary. The Go tests build them the same way.
function loadSpecs() {
  return JSON.parse(fs.readFileSync(path.join(TESTDATA, 'specs.json'), 'utf8'));
}

function specJSON(name) {
  const spec = loadSpecs()[name];
  if (!spec) throw new Error('unknown spec ' + name);
  const base = JSON.parse(readMaybeGz(path.join(TESTDATA, spec.base)).toString('utf8'));
  for (const [k, v] of Object.entries(spec.override || {})) base[k] = v;
  return JSON.stringify(base);
}

// loadTokenizer returns a handle holding two instances of the tokenizer: one
// kept with the file's own truncation, one whose truncation each case sets.
// Padding is disabled on both: the Go package never pads.
function loadTokenizer(nameOrPath) {
  const json = fs.existsSync(nameOrPath) ? readMaybeGz(nameOrPath).toString('utf8') : specJSON(nameOrPath);
  const h = { base: tk.Tokenizer.fromString(json), mod: tk.Tokenizer.fromString(json) };
  h.base.disablePadding();
  h.mod.disablePadding();
  return h;
}

// The binding reports offsets in Unicode code points; map them to bytes.
function charToByteTable(s) {
  const table = [0];
  let b = 0;
  for (const c of s) {
    b += Buffer.byteLength(c, 'utf8');
    table.push(b);
  }
  return table;
}

// encodeCase encodes one case {text, pair?, add_special?, trunc?} and returns
// the golden record (byte offsets) or {error}.
// A case without "trunc" uses the file's truncation; "trunc": null disables it.
async function encodeCase(h, c) {
  const addSpecial = c.add_special !== false;
  let tok = h.base;
  if (c.trunc) {
    tok = h.mod;
    tok.setTruncation(c.trunc.max_length, {
      strategy: c.trunc.strategy || 'LongestFirst',
      direction: (c.trunc.direction || 'Right').toLowerCase(),
      stride: c.trunc.stride || 0,
    });
  } else if (c.trunc === null) {
    tok = h.mod;
    tok.disableTruncation();
  }
  let e;
  try {
    e = await tok.encode(c.text, c.pair === undefined ? null : c.pair, { addSpecialTokens: addSpecial });
  } catch (err) {
    return { error: String(err && err.message ? err.message : err) };
  }
  const tables = [charToByteTable(c.text), c.pair === undefined ? null : charToByteTable(c.pair)];
  const seq = e.getSequenceIds();
  const offs = e.getOffsets().map(([a, b], i) => {
    if (a === 0 && b === 0) return [0, 0];
    const sid = seq[i] == null ? 0 : seq[i];
    const t = tables[sid];
    if (!t || a >= t.length || b >= t.length) throw new Error(`offset out of range in ${JSON.stringify(c)}`);
    return [t[a], t[b]];
  });
  return {
    ids: e.getIds(),
    type_ids: e.getTypeIds(),
    special_tokens_mask: e.getSpecialTokensMask(),
    attention_mask: e.getAttentionMask(),
    tokens: e.getTokens(),
    offsets: offs,
  };
}

module.exports = { tk, ROOT, TESTDATA, readJSONL, writeJSONL, readMaybeGz, loadSpecs, specJSON, loadTokenizer, encodeCase, charToByteTable };
