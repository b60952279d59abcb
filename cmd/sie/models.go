package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/catalog"
)

// sie models [--json]: the catalog, a table for people or one JSON array of
// the entries.
func runModels(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON array of the catalog entries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("models takes no arguments, got %q", fs.Args())
	}
	all := catalog.All()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "MODEL\tARCHITECTURE\tOUTPUTS\tMAX LEN\tPOOLING\tPROFILES")
	for _, e := range all {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Architecture, outputsShort(e.Outputs),
			orDash(e.MaxLength), dash(poolingShort(e)), dash(strings.Join(e.ProfileNames(), ",")))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "%d models; sie info MODEL for one entry's prompts, profiles and sources\n", len(all))
	return err
}

// infoJSON is one entry as sie info --json prints it.
type infoJSON struct {
	catalog.Entry
	Cached    bool   `json:"cached"`
	CachePath string `json:"cache_path,omitempty"`
}

// sie info MODEL [--json]: one entry (MODEL may name a profile, id:profile)
// with its outputs, prompts, profiles and whether it is in the cache.
func runInfo(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the entry as one JSON object")
	// Flags may come before or after MODEL.
	var flags, rest []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
		} else {
			rest = append(rest, a)
		}
	}
	if err := fs.Parse(flags); err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("usage: sie info MODEL [--json]")
	}
	e, ok := catalog.Find(rest[0])
	if !ok {
		return fmt.Errorf("%q is not in the catalog (sie models lists it)", rest[0])
	}
	dir, cached := cachedCheckpoint(e)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		info := infoJSON{Entry: *e, Cached: cached}
		if cached {
			info.CachePath = dir
		}
		return enc.Encode(info)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s\t%s\n", k, v)
		}
	}
	id := e.ID
	if e.Profile != "" {
		id += ":" + e.Profile
	}
	row("model", id)
	row("repository", e.Repo)
	row("revision", dash(e.Revision))
	row("architecture", e.Architecture)
	row("outputs", outputsLong(e.Outputs))
	row("max length", orDash(e.MaxLength))
	row("pooling", poolingShort(*e))
	row("query template", strconv.Quote(e.QueryTemplate))
	row("document template", strconv.Quote(e.DocumentTemplate))
	if e.DefaultInstruction != "" {
		row("default instruction", strconv.Quote(e.DefaultInstruction))
	}
	for name, p := range e.Prompts {
		row("prompt "+name, strconv.Quote(p))
	}
	if len(e.MatryoshkaDims) > 0 {
		row("matryoshka dims", strings.Trim(fmt.Sprint(e.MatryoshkaDims), "[]"))
	}
	row("score activation", e.ScoreActivation)
	row("score mode", e.ScoreMode)
	for _, p := range e.Profiles {
		row("profile "+p.Name, fmt.Sprintf("%s (%s)", p.Description, strings.Join(p.Outputs, ",")))
	}
	row("license", e.License)
	if e.Params > 0 {
		row("parameters", fmt.Sprintf("%.0fM", float64(e.Params)/1e6))
	}
	if cached {
		row("cached", "yes: "+dir)
	} else {
		row("cached", "no")
	}
	for _, n := range e.Notes {
		row("note", n)
	}
	for _, s := range e.Sources {
		row("source", s)
	}
	return w.Flush()
}

// cachedCheckpoint reports whether the entry's checkpoint is in the local
// cache (the Hugging Face cache, or the npm mirror's folder) and where,
// without a request.
func cachedCheckpoint(e *catalog.Entry) (string, bool) {
	return sie.Cached(e.ID, sie.Options{})
}

// outputsShort is the table form: d768 s30522 mv128 score.
func outputsShort(o catalog.Outputs) string {
	var parts []string
	if o.Dense > 0 {
		parts = append(parts, fmt.Sprintf("d%d", o.Dense))
	}
	if o.Sparse > 0 {
		parts = append(parts, fmt.Sprintf("s%d", o.Sparse))
	}
	if o.Multivector > 0 {
		parts = append(parts, fmt.Sprintf("mv%d", o.Multivector))
	}
	if o.Score {
		parts = append(parts, "score")
	}
	return strings.Join(parts, " ")
}

func outputsLong(o catalog.Outputs) string {
	var parts []string
	if o.Dense > 0 {
		parts = append(parts, fmt.Sprintf("dense (%d dimensions)", o.Dense))
	}
	if o.Sparse > 0 {
		parts = append(parts, fmt.Sprintf("sparse (vocabulary of %d)", o.Sparse))
	}
	if o.Multivector > 0 {
		parts = append(parts, fmt.Sprintf("multivector (%d per token)", o.Multivector))
	}
	if o.Score {
		parts = append(parts, "score (Rerank)")
	}
	return strings.Join(parts, ", ")
}

func poolingShort(e catalog.Entry) string {
	if e.Pooling == "" {
		return ""
	}
	if e.Normalize {
		return e.Pooling + "+L2"
	}
	return e.Pooling
}

func orDash(n int) string {
	if n <= 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
