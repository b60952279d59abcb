package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/sie-project/sie"
)

// runTokenize implements "sie tokenize --model M [--pair]": stdin holds one
// JSON value a line (a string, or with --pair a two-string array); stdout
// gets one JSON object a line, {"ids", "type_ids", "tokens", "offsets"},
// encoded with the model's tokenizer and truncation.
func runTokenize(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	var ef engineFlags
	ef.register(fs, "")
	pair := fs.Bool("pair", false, "each line is a [a, b] pair of strings")
	batch := fs.Int("batch", 256, "lines tokenized per call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	eng, err := ef.open()
	if err != nil {
		return err
	}
	defer eng.Close()
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	var texts []string
	var pairs [][2]string
	flush := func() error {
		var toks []sie.TokenEncoding
		var err error
		switch {
		case *pair && len(pairs) > 0:
			toks, err = eng.EncodeTokenPairs(ctx, ef.model, pairs)
		case !*pair && len(texts) > 0:
			toks, err = eng.EncodeTokens(ctx, ef.model, texts)
		}
		if err != nil {
			return err
		}
		for _, t := range toks {
			if t.Offsets == nil {
				t.Offsets = [][2]int{}
			}
			if err := enc.Encode(t); err != nil {
				return err
			}
		}
		texts, pairs = texts[:0], pairs[:0]
		return nil
	}
	return readJSONLines(stdin, func(line int, raw []byte) error {
		if *pair {
			var p []string
			if err := json.Unmarshal(raw, &p); err != nil || len(p) != 2 {
				return fmt.Errorf("stdin line %d: want a JSON array of two strings", line)
			}
			pairs = append(pairs, [2]string{p[0], p[1]})
		} else {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("stdin line %d: want a JSON string: %v", line, err)
			}
			texts = append(texts, s)
		}
		if len(texts)+len(pairs) >= max(*batch, 1) {
			return flush()
		}
		return nil
	}, flush)
}
