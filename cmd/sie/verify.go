package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/verify"
)

// exitError carries the exit status of a command that needs more than
// "0 or 1": verify exits 1 when the check fails and 2 on an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the process exit status for an error returned by run.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// errVerifyFailed is returned (with exit status 1) when the legs disagree.
var errVerifyFailed = errors.New("verification failed")

// runVerify implements
//
//	sie verify --model M --against URL|FILE --corpus texts.jsonl [--api openai|tei|cohere|infinity] [--against-model NAME] [--query]
//	sie verify --model M --baseline URL|FILE --queries q.jsonl --corpus c.jsonl --qrels qrels.tsv [--k 10]
//
// Exit status: 0 on pass, 1 on fail, 2 on error.
func runVerify(ctx context.Context, args []string, stdout io.Writer) error {
	err := verifyCommand(ctx, args, stdout, os.Stderr)
	if err != nil && !errors.Is(err, errVerifyFailed) {
		return &exitError{2, err}
	}
	return err
}

func verifyCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ef engineFlags
	ef.register(fs, "")
	against := fs.String("against", "", "same checkpoint: the other leg, an embedding server URL or a JSONL file of vectors")
	baseline := fs.String("baseline", "", "different model: the baseline leg, a server URL or a JSONL file of vectors (queries, then corpus)")
	api := fs.String("api", "openai", "wire format of a URL leg: openai, tei, cohere or infinity")
	againstModel := fs.String("against-model", "", "model name sent to the other leg (default: --model; TEI requests name none)")
	apiKey := fs.String("api-key", "", "bearer token for the other leg (default $SIE_VERIFY_API_KEY)")
	corpus := fs.String("corpus", "", "texts: one JSON string per line (BEIR corpus.jsonl objects in recall mode)")
	queries := fs.String("queries", "", "recall mode: BEIR queries.jsonl")
	qrels := fs.String("qrels", "", "recall mode: BEIR qrels TSV (query-id, corpus-id, score)")
	k := fs.Int("k", 10, "recall mode: recall@k cut-off")
	query := fs.Bool("query", false, "embed the corpus as queries on both legs")
	noPrompt := fs.Bool("no-prompt", false, "sie applies no prompt template (as TEI, Infinity and OpenAI-compatible servers do)")
	minCos := fs.Float64("min-cosine", 0.999, "lowest per-item cosine that passes")
	maxNorm := fs.Float64("max-norm-diff", 0.01, "largest relative difference of vector norms that passes")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if ef.model == "" {
		return errors.New("--model is required")
	}
	if (*against == "") == (*baseline == "") {
		return errors.New("give exactly one of --against (same checkpoint) or --baseline (different model)")
	}
	if *corpus == "" {
		return errors.New("--corpus is required")
	}
	if *baseline != "" && (*queries == "" || *qrels == "") {
		return errors.New("--baseline needs --queries and --qrels")
	}
	apiName, err := verify.ParseAPI(*api)
	if err != nil {
		return err
	}
	if *apiKey == "" {
		*apiKey = os.Getenv("SIE_VERIFY_API_KEY")
	}
	if *againstModel == "" {
		*againstModel = ef.model
	}
	otherSpec := *against + *baseline
	var other verify.Leg
	if strings.HasPrefix(otherSpec, "http://") || strings.HasPrefix(otherSpec, "https://") {
		other = verify.HTTPLeg{URL: otherSpec, API: apiName, Model: *againstModel, APIKey: *apiKey}
	} else {
		vecs, err := verify.ReadVectorsFile(otherSpec)
		if err != nil {
			return err
		}
		other = &verify.FileLeg{Vectors: vecs}
	}

	eng, err := ef.open()
	if err != nil {
		return err
	}
	defer eng.Close()
	sieLeg := verify.ServiceLeg{Service: eng, Model: ef.model}
	if *noPrompt {
		sieLeg.Options = []sie.Option{sie.NoPrompt()}
	}
	bar := newProgressBar(stderr)
	defer bar.finish()

	if *against != "" {
		texts, err := verify.ReadTextsFile(*corpus)
		if err != nil {
			return err
		}
		if fl, ok := other.(*verify.FileLeg); ok && len(fl.Vectors) != len(texts) {
			return fmt.Errorf("%s has %d vectors for %d corpus texts: want one per text, in corpus order", *against, len(fl.Vectors), len(texts))
		}
		rep, err := verify.Compare(ctx, texts, sieLeg, other, verify.CompareOptions{
			IsQuery: *query, MinCosine: *minCos, MaxNormDiff: *maxNorm, Progress: bar.update})
		if err != nil {
			return err
		}
		bar.finish()
		if *asJSON {
			err = json.NewEncoder(stdout).Encode(rep)
		} else {
			err = rep.WriteTable(stdout)
		}
		if err != nil {
			return err
		}
		if !rep.Pass {
			return errVerifyFailed
		}
		return nil
	}

	qs, err := verify.ReadDocsFile(*queries)
	if err != nil {
		return err
	}
	docs, err := verify.ReadDocsFile(*corpus)
	if err != nil {
		return err
	}
	judgements, err := verify.ReadQrelsFile(*qrels)
	if err != nil {
		return err
	}
	if fl, ok := other.(*verify.FileLeg); ok && len(fl.Vectors) != len(qs)+len(docs) {
		return fmt.Errorf("%s has %d vectors: want %d, one per query then one per corpus document", *baseline, len(fl.Vectors), len(qs)+len(docs))
	}
	rep, err := verify.Retrieval(ctx, qs, docs, judgements, sieLeg, other, verify.RetrievalOptions{K: *k, Progress: bar.update})
	if err != nil {
		return err
	}
	bar.finish()
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	return rep.WriteTable(stdout)
}

// progressBar draws on stderr when it is a terminal and stays silent
// otherwise (pipes, CI logs, tests).
type progressBar struct {
	w     io.Writer
	drawn bool
	last  int
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return &progressBar{}
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return &progressBar{}
	}
	return &progressBar{w: w}
}

func (p *progressBar) update(done, total int) {
	if p.w == nil || total == 0 {
		return
	}
	pct := done * 100 / total
	if p.drawn && pct == p.last && done != total {
		return
	}
	const width = 30
	fill := done * width / total
	fmt.Fprintf(p.w, "\rembedding [%s%s] %3d%% %d/%d", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), pct, done, total)
	p.drawn, p.last = true, pct
}

func (p *progressBar) finish() {
	if p.w != nil && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
