// Command sie runs sie's engine from the shell.
//
//	sie embed --model <dir|id> [--query] [--instruction S] [--prompt NAME]
//	sie encode --model <dir|id> [--query] [--outputs dense,sparse,multivector] [--dtype T] [--dims N]
//	sie rerank --model <dir|id> --query Q [--top-k K] [--instruction S] [--activation sigmoid|identity]
//	sie demo [--model <dir|id>]
//
// embed reads one JSON string per line on stdin and writes one JSON array of
// floats per line on stdout, in input order. encode reads the same and
// writes one JSON object per line with the requested outputs (see
// encode.go). rerank reads one JSON string (a
// document) per line and writes one JSON array of {"index": i, "score": s},
// best first. demo embeds a few sentences and prints their cosine similarity
// matrix.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/backends"
)

const defaultModel = "sentence-transformers/all-MiniLM-L6-v2"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sie:", err)
		os.Exit(1)
	}
}

func usage() error {
	return errors.New(`usage:
  sie embed --model <dir|id> [--query] [--instruction S] [--prompt NAME] [--backend go|onnx|xla:cuda]
  sie encode --model <dir|id> [--query] [--outputs dense,sparse,multivector] [--dtype float32|float16|int8|uint8|binary] [--dims N]
  sie rerank --model <dir|id> --query Q [--top-k K] [--instruction S] [--activation sigmoid|identity]
  sie demo [--model <dir|id>] [--backend ...]
  sie serve [--addr 127.0.0.1:8080] [--model M]... [--alias NAME=MODEL]... [--default-model M] [--api-key K]`)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "embed":
		return runEmbed(ctx, args[1:], stdin, stdout)
	case "encode":
		return runEncode(ctx, args[1:], stdin, stdout)
	case "rerank":
		return runRerank(ctx, args[1:], stdin, stdout)
	case "demo":
		return runDemo(ctx, args[1:], stdout)
	case "serve":
		return runServe(ctx, args[1:], stdout, os.Stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage())
		return nil
	}
	return fmt.Errorf("unknown command %q\n%v", args[0], usage())
}

// common flags
type engineFlags struct {
	model   string
	backend string
}

func (f *engineFlags) register(fs *flag.FlagSet, defModel string) {
	fs.StringVar(&f.model, "model", defModel, "catalog id or checkpoint directory")
	fs.StringVar(&f.backend, "backend", "", "compute backend: go, onnx, xla:cuda, xla:cpu (default $SIE_BACKEND, else go)")
}

func (f *engineFlags) open() (*sie.Engine, error) {
	if f.model == "" {
		return nil, errors.New("--model is required")
	}
	return sie.Open(sie.Options{Backend: backends.Config{Kind: backends.Kind(f.backend)}})
}

func runEmbed(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	var ef engineFlags
	ef.register(fs, "")
	query := fs.Bool("query", false, "embed the texts as queries (query prompt / instruction)")
	instruction := fs.String("instruction", "", "instruction for the texts")
	prompt := fs.String("prompt", "", "named prompt from config_sentence_transformers.json")
	batch := fs.Int("batch", 256, "texts sent to the engine per call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	eng, err := ef.open()
	if err != nil {
		return err
	}
	defer eng.Close()
	var opts []sie.Option
	if *query {
		opts = append(opts, sie.Query())
	}
	if *instruction != "" {
		opts = append(opts, sie.Instruction(*instruction))
	}
	if *prompt != "" {
		opts = append(opts, sie.Prompt(*prompt))
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	var texts []string
	flush := func() error {
		if len(texts) == 0 {
			return nil
		}
		vecs, err := eng.Embed(ctx, ef.model, texts, opts...)
		if err != nil {
			return err
		}
		for _, v := range vecs {
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		texts = texts[:0]
		return nil
	}
	return readJSONLines(stdin, func(line int, raw []byte) error {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("stdin line %d: want a JSON string: %v", line, err)
		}
		texts = append(texts, s)
		if len(texts) >= *batch {
			return flush()
		}
		return nil
	}, flush)
}

// readJSONLines calls fn for every non-empty line of r, then done.
func readJSONLines(r io.Reader, fn func(line int, raw []byte) error, done func() error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := []byte(strings.TrimSpace(sc.Text()))
		if len(raw) == 0 {
			continue
		}
		if err := fn(line, raw); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return done()
}

func runRerank(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("rerank", flag.ContinueOnError)
	var ef engineFlags
	ef.register(fs, "")
	query := fs.String("query", "", "the query to rank the documents against")
	topK := fs.Int("top-k", 0, "keep the k best documents (0: all)")
	instruction := fs.String("instruction", "", "instruction for the query")
	activation := fs.String("activation", "", "score activation: sigmoid or identity (default: the checkpoint's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !flagSet(fs, "query") {
		return errors.New("--query is required")
	}
	eng, err := ef.open()
	if err != nil {
		return err
	}
	defer eng.Close()
	var docs []string
	err = readJSONLines(stdin, func(line int, raw []byte) error {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("stdin line %d: want a JSON string: %v", line, err)
		}
		docs = append(docs, s)
		return nil
	}, func() error { return nil })
	if err != nil {
		return err
	}
	opts := []sie.Option{sie.TopK(*topK)}
	if *instruction != "" {
		opts = append(opts, sie.Instruction(*instruction))
	}
	if *activation != "" {
		opts = append(opts, sie.ScoreActivation(*activation))
	}
	ranked, err := eng.Rerank(ctx, ef.model, *query, docs, opts...)
	if err != nil {
		return err
	}
	type hit struct {
		Index int     `json:"index"`
		Score float32 `json:"score"`
	}
	hits := make([]hit, len(ranked))
	for i, r := range ranked {
		hits[i] = hit{r.Index, r.Score}
	}
	return json.NewEncoder(stdout).Encode(hits)
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

var demoSentences = []string{
	"A man is eating food.",
	"A man is eating a piece of bread.",
	"The girl is carrying a baby.",
	"A man is riding a horse.",
	"A woman is playing violin.",
	"Two men pushed carts through the woods.",
	"A monkey is playing drums.",
}

func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var ef engineFlags
	ef.register(fs, defaultModel)
	if err := fs.Parse(args); err != nil {
		return err
	}
	eng, err := ef.open()
	if err != nil {
		return err
	}
	defer eng.Close()
	vecs, err := eng.Embed(ctx, ef.model, demoSentences)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model %s on the %s backend: %d sentences, %d dimensions\n\n", ef.model, eng.Backend(), len(vecs), len(vecs[0]))
	fmt.Fprintf(stdout, "cosine similarity\n")
	for i := range vecs {
		fmt.Fprintf(stdout, "  [%d] %s\n", i, demoSentences[i])
	}
	fmt.Fprintf(stdout, "\n    ")
	for j := range vecs {
		fmt.Fprintf(stdout, "%7s", fmt.Sprintf("[%d]", j))
	}
	fmt.Fprintln(stdout)
	for i := range vecs {
		fmt.Fprintf(stdout, "[%d] ", i)
		for j := range vecs {
			fmt.Fprintf(stdout, " %6.3f", cosine(vecs[i], vecs[j]))
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
