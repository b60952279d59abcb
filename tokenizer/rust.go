//go:build daulet

package tokenizer

import (
	"errors"
	"fmt"
	"unicode/utf8"

	rust "github.com/daulet/tokenizers"
)

// RustTokenizer encodes with the Hugging Face Rust crate itself, through
// github.com/daulet/tokenizers. It exists for cross-checking and for users who
// already link that crate; the pure-Go Tokenizer gives the same encodings
// (sie's tests compare them with the crate on millions of inputs) and is the
// one sie uses.
//
// It is built only with the `daulet` build tag and links libtokenizers.a,
// which the daulet module's Makefile builds from the Rust crate (put it on the
// linker path, e.g. CGO_LDFLAGS=-L/path/to/lib). The crate's C API has no
// pair encoding, so RustTokenizer encodes single sequences only.
type RustTokenizer struct {
	t *rust.Tokenizer
}

// FromFileRust loads a tokenizer.json with the Rust crate.
func FromFileRust(path string) (*RustTokenizer, error) {
	t, err := rust.FromFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return &RustTokenizer{t: t}, nil
}

// Encode encodes one sequence, with the file's truncation and padding
// settings applied by the crate.
func (r *RustTokenizer) Encode(text string, addSpecialTokens bool) (*Encoding, error) {
	if r == nil || r.t == nil {
		return nil, errors.New("tokenizer: RustTokenizer is closed")
	}
	if !utf8.ValidString(text) {
		return nil, ErrInvalidUTF8
	}
	e := r.t.EncodeWithOptions(text, addSpecialTokens, rust.WithReturnAllAttributes())
	out := &Encoding{
		IDs:               toInts(e.IDs),
		TypeIDs:           toInts(e.TypeIDs),
		AttentionMask:     toInts(e.AttentionMask),
		SpecialTokensMask: toInts(e.SpecialTokensMask),
		Tokens:            e.Tokens,
		Offsets:           make([][2]int, len(e.Offsets)),
	}
	for i, o := range e.Offsets {
		out.Offsets[i] = [2]int{int(o[0]), int(o[1])}
	}
	return out, nil
}

// Close frees the crate's tokenizer.
func (r *RustTokenizer) Close() error {
	if r == nil || r.t == nil {
		return nil
	}
	err := r.t.Close()
	r.t = nil
	return err
}

func toInts(v []uint32) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}
