package sie

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// prompts turns a caller's text into what the model reads: the query or
// document template, the instruction, or a named sentence-transformers
// prompt.
//
// A template may contain {instruction} and {text}. A template without
// {text} is a prefix: the text follows it. With no template, an instruction
// is joined to the text with one space. Queries without an explicit
// instruction use the model's default instruction.
type prompts struct {
	query, document    string
	defaultInstruction string
	named              map[string]string // sentence-transformers prompts by name
}

// readPrompts reads config_sentence_transformers.json the way
// sentence-transformers' encode_query / encode_document choose prompts: the
// prompt named "query" for queries; "document", "passage" or "corpus" for
// documents. An explicit instruction replaces the query prompt verbatim.
func readPrompts(dir string) (prompts, error) {
	var c struct {
		Prompts map[string]string `json:"prompts"`
	}
	if _, err := readJSON(filepath.Join(dir, "config_sentence_transformers.json"), &c); err != nil {
		return prompts{}, err
	}
	p := prompts{named: c.Prompts}
	// The query prompt acts as the default instruction, so an explicit
	// instruction replaces it rather than stacking on it.
	if q, ok := c.Prompts["query"]; ok && q != "" {
		p.query, p.defaultInstruction = "{instruction}{text}", q
	}
	for _, name := range []string{"document", "passage", "corpus"} {
		if v, ok := c.Prompts[name]; ok {
			p.document = v
			break
		}
	}
	return p, nil
}

// promptNames lists the named prompts, sorted.
func (p prompts) promptNames() []string {
	names := make([]string, 0, len(p.named))
	for n := range p.named {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// apply prepares one text.
func (p prompts) apply(text string, o *callConfig) (string, error) {
	if o.promptName != "" {
		prefix, ok := p.named[o.promptName]
		if !ok {
			return "", fmt.Errorf("%w: no prompt named %q (the model has: %s)", ErrInvalidInput, o.promptName, strings.Join(p.promptNames(), ", "))
		}
		return fill(prefix, o.instruction, text), nil
	}
	if o.noPrompt {
		if o.instruction != "" {
			return "", fmt.Errorf("%w: an instruction cannot be combined with NoPrompt", ErrInvalidInput)
		}
		return text, nil
	}
	tmpl, instruction := p.document, o.instruction
	if o.isQuery {
		tmpl = p.query
		if instruction == "" {
			instruction = p.defaultInstruction
		}
	}
	if tmpl == "" {
		if instruction == "" {
			return text, nil
		}
		return instruction + " " + text, nil
	}
	return fill(tmpl, instruction, text), nil
}

// fill substitutes {instruction} and {text} in one pass, so braces inside
// the caller's text are never interpreted.
func fill(tmpl, instruction, text string) string {
	if !strings.Contains(tmpl, "{text}") {
		return strings.ReplaceAll(tmpl, "{instruction}", instruction) + text
	}
	r := strings.NewReplacer("{instruction}", instruction, "{text}", text)
	return r.Replace(tmpl)
}
