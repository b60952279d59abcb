package tokenizer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sweepContexts must match tools/oracle/gen_goldens.js.
var sweepContexts = []func(c string) string{
	func(c string) string { return c },
	func(c string) string { return "a" + c + "b c" },
}

var sweepSpecs = []string{"minilm", "syn-bertproc", "syn-nfkc-roberta", "syn-nfc-seq", "syn-bert-cased"}

func isSurrogate(cp rune) bool { return cp >= 0xD800 && cp <= 0xDFFF }

// sweepLine renders one encoding the way the sweep golden stores it.
func sweepLine(e *Encoding) string {
	var b strings.Builder
	for i, id := range e.IDs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(id))
	}
	b.WriteByte(';')
	for i, o := range e.Offsets {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", o[0], o[1])
	}
	return b.String()
}

// expandSweep undoes the "*N" run-length encoding; header gives the max code point.
func expandSweep(t testing.TB, r io.Reader) (lines []string, max rune) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			if i := strings.Index(l, "max=0x"); i >= 0 {
				v, err := strconv.ParseInt(strings.Fields(l[i+6:])[0], 16, 32)
				if err != nil {
					t.Fatal(err)
				}
				max = rune(v)
			}
			continue
		}
		if strings.HasPrefix(l, "*") {
			n, err := strconv.Atoi(l[1:])
			if err != nil || len(lines) == 0 {
				t.Fatalf("bad sweep line %q", l)
			}
			for k := 0; k < n; k++ {
				lines = append(lines, lines[len(lines)-1])
			}
			continue
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines, max
}

// checkSweep compares a tokenizer against sweep lines for every code point
// (and context) up to max, returning the number of agreeing encodings.
func checkSweep(t *testing.T, tk *Tokenizer, lines []string, max rune) int {
	k, agree, bad := 0, 0, 0
	for cp := rune(0); cp <= max; cp++ {
		if isSurrogate(cp) {
			continue
		}
		for ci, ctx := range sweepContexts {
			if k >= len(lines) {
				t.Fatalf("sweep golden too short at U+%04X", cp)
			}
			text := ctx(string(cp))
			e, err := tk.Encode(text, false)
			got := ""
			if err != nil {
				got = "error: " + err.Error()
			} else {
				got = sweepLine(e)
			}
			if got != lines[k] {
				bad++
				if bad <= 10 {
					t.Errorf("U+%04X context %d (%q): got %s want %s", cp, ci, text, got, lines[k])
				}
			} else {
				agree++
			}
			k++
		}
	}
	if k != len(lines) {
		t.Errorf("sweep golden has %d lines, expected %d", len(lines), k)
	}
	return agree
}

// TestCodePointSweep encodes every code point up to the golden's max
// (U+3FFFF, surrogates excluded) alone and inside "a<cp>b c".
func TestCodePointSweep(t *testing.T) {
	for _, name := range sweepSpecs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := readMaybeGz(filepath.Join("testdata", "goldens", "sweep-"+name+".txt.gz"))
			if err != nil {
				t.Fatal(err)
			}
			lines, max := expandSweep(t, strings.NewReader(string(b)))
			agree := checkSweep(t, specTokenizer(t, name), lines, max)
			t.Logf("%s: %d/%d code point encodings agree (max U+%04X)", name, agree, len(lines), max)
		})
	}
}

// Normalizer sweep: must match normSweep in tools/oracle/gen_goldens.js.
var sweepNormalizerJSON = map[string]string{
	"NFD":          `{"type":"NFD"}`,
	"NFKD":         `{"type":"NFKD"}`,
	"NFC":          `{"type":"NFC"}`,
	"NFKC":         `{"type":"NFKC"}`,
	"Lowercase":    `{"type":"Lowercase"}`,
	"StripAccents": `{"type":"StripAccents"}`,
	"Bert":         `{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":true,"lowercase":true}`,
	"BertCased":    `{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":false,"lowercase":false}`,
}

var normContexts = []func(c string) string{
	func(c string) string { return c },
	func(c string) string { return "A" + c + "\u0301" },
	func(c string) string { return "\u1100" + c + "\u0323" },
}

func normLine(ws *workspace, n *normalized, nz normalizer, text string) string {
	n.reset(text, 0)
	if err := nz.normalize(ws, n); err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	first := true
	for _, r := range string(n.s) {
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(strconv.FormatInt(int64(r), 16))
	}
	b.WriteByte('\n')
	return b.String()
}

type normChunk struct {
	name  string
	ctx   int
	start rune
	hash  string
}

// TestNormalizerSweep hashes, per chunk of 4096 code points, the output of
// each normalizer on every code point up to U+10FFFF in three contexts, and
// compares with the oracle's hashes.
func TestNormalizerSweep(t *testing.T) {
	b, err := readMaybeGz(filepath.Join("testdata", "goldens", "normsweep.txt.gz"))
	if err != nil {
		t.Fatal(err)
	}
	var max, chunk rune
	byName := map[string][]normChunk{}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "#") {
			for _, f := range strings.Fields(l) {
				if v, ok := strings.CutPrefix(f, "max=0x"); ok {
					x, _ := strconv.ParseInt(v, 16, 32)
					max = rune(x)
				}
				if v, ok := strings.CutPrefix(f, "chunk="); ok {
					x, _ := strconv.Atoi(v)
					chunk = rune(x)
				}
			}
			continue
		}
		if l == "" {
			continue
		}
		f := strings.Split(l, "\t")
		ctx, _ := strconv.Atoi(f[1])
		st, _ := strconv.ParseInt(f[2], 16, 32)
		byName[f[0]] = append(byName[f[0]], normChunk{f[0], ctx, rune(st), f[3]})
	}
	if chunk == 0 || len(byName) != len(sweepNormalizerJSON) {
		t.Fatalf("bad normsweep header or content (chunk=%d, %d normalizers)", chunk, len(byName))
	}
	for name, chunks := range byName {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			nz, err := buildNormalizer([]byte(sweepNormalizerJSON[name]))
			if err != nil {
				t.Fatal(err)
			}
			ws := newWorkspace()
			n := &normalized{}
			bad := 0
			for _, c := range chunks {
				h := sha256.New()
				for cp := c.start; cp < c.start+chunk && cp <= max; cp++ {
					if !isSurrogate(cp) {
						io.WriteString(h, normLine(ws, n, nz, normContexts[c.ctx](string(cp))))
					}
				}
				if got := hex.EncodeToString(h.Sum(nil)); got != c.hash {
					bad++
					t.Errorf("%s context %d: chunk U+%04X..U+%04X differs from the oracle (diagnose with: node tools/oracle/gen_goldens.js --detail %s:%d:%x:%x)",
						name, c.ctx, c.start, c.start+chunk-1, name, c.ctx, c.start, c.start+chunk-1)
				}
			}
			t.Logf("%s: %d/%d chunks of %d code points agree (max U+%04X)", name, len(chunks)-bad, len(chunks), chunk, max)
		})
	}
}
