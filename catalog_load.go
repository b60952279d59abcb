package sie

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"strings"

	"github.com/sie-project/sie/catalog"
)

// This file applies a catalog entry to a loading checkpoint, following the
// precedence table of package catalog: the entry's pooling, templates and
// Rerank defaults win, the checkpoint's own modules and sizes stay, and a
// contradiction between the two fails the load.

// findEntry looks a model name up in the catalog ("id" or "id:profile");
// a variable so that tests can serve entries of their own.
var findEntry = catalog.Find

// settingsPooling reads the checkpoint's sentence-transformers pipeline and,
// when the catalog entry names a pooling, replaces its Pooling mode and
// Normalize step with the entry's. The checkpoint's Dense modules stay (a
// model such as stella_en_400M_v5 is wrong without its 2_Dense projection).
// A checkpoint without modules.json takes the entry's pooling as it is; when
// the entry declares only a sparse output, that is SPLADE's (max over tokens
// of log1p(relu(MLM logits)), as SIE's splade adapter computes it).
func settingsPooling(dir string, s modelSettings) (pooling, error) {
	override := s.pooling
	if isStanfordColbert(dir) {
		return pooling{}, nil // token vectors only (colbert_stanford.go)
	}
	if s.splade && !exists(filepath.Join(dir, "modules.json")) {
		return pooling{splade: &spladePooling{Strategy: "max", Activation: "relu"}}, nil
	}
	if override == nil {
		return readPooling(dir)
	}
	if !exists(filepath.Join(dir, "modules.json")) {
		return *override, nil
	}
	p, err := readPooling(dir)
	if err != nil {
		return p, err
	}
	if len(p.modes) == 0 {
		// A token-level pipeline (SPLADE, ColBERT): the entry's sentence
		// pooling does not apply to it.
		return p, nil
	}
	p.modes = override.modes
	p.normalize = override.normalize
	return p, nil
}

// settingsPrompts reads the checkpoint's prompts and lays the entry's over
// them: a catalog entry's templates and default instruction replace the
// checkpoint's query and document prompts, even when the entry has none (the
// provider then applies none); named prompts are merged, the entry's
// winning a name, and stay available through Prompt.
func settingsPrompts(dir string, entry *prompts) (prompts, error) {
	p, err := readPrompts(dir)
	if err != nil || entry == nil {
		return p, err
	}
	named := maps.Clone(p.named)
	if len(entry.named) > 0 && named == nil {
		named = map[string]string{}
	}
	maps.Copy(named, entry.named)
	p = prompts{query: entry.query, document: entry.document, defaultInstruction: entry.defaultInstruction, named: named}
	return p, nil
}

// applyEntry checks a loaded checkpoint against the catalog entry it was
// named by, then narrows its outputs to the entry's profile and sets the
// entry's Rerank defaults.
func (m *model) applyEntry(config []byte, s modelSettings) error {
	m.scoreMode, m.scoreActivation = s.scoreMode, s.scoreActivation
	e := s.entry
	if e == nil {
		return nil
	}
	if err := m.checkEntry(config, e); err != nil {
		return err
	}
	if s.outputs != 0 {
		m.outputs &= s.outputs
	}
	return nil
}

// checkEntry fails when the checkpoint is not what the entry declares.
func (m *model) checkEntry(config []byte, e *catalog.Entry) error {
	contradiction := func(what string, entry, ckpt any) error {
		return fmt.Errorf("%w: the catalog entry %s declares %s %v but the checkpoint has %v",
			ErrInvalidModel, e.ID, what, entry, ckpt)
	}
	if !sameArchitecture(e.Architecture, m.info.Architecture) {
		return contradiction("architecture", e.Architecture, m.info.Architecture)
	}
	o := e.Outputs
	if o.Dense > 0 {
		if m.outputs&outDense == 0 {
			return contradiction("a dense output of size", o.Dense, "no dense output")
		}
		if m.dim != o.Dense {
			return contradiction("dense dimension", o.Dense, fmt.Sprintf("%d (hidden size %d, %s)", m.dim, m.info.HiddenSize, m.pool))
		}
	}
	if o.Sparse > 0 {
		if m.outputs&outSparse == 0 {
			return contradiction("a sparse output over a vocabulary of", o.Sparse, "no sparse output")
		}
		var c struct {
			VocabSize int `json:"vocab_size"`
		}
		if err := json.Unmarshal(config, &c); err != nil {
			return fmt.Errorf("%w: config.json: %v", ErrInvalidModel, err)
		}
		if c.VocabSize != o.Sparse {
			return contradiction("sparse vocabulary size", o.Sparse, fmt.Sprintf("vocab_size %d", c.VocabSize))
		}
	}
	if o.Multivector > 0 {
		if m.outputs&outMulti == 0 {
			return contradiction("multivector token vectors of size", o.Multivector, "no multivector output")
		}
		if m.multi.dim != o.Multivector {
			return contradiction("multivector token dimension", o.Multivector, m.multi.dim)
		}
	}
	if o.Score && o.Dense == 0 && o.Sparse == 0 && o.Multivector == 0 && m.classifier == nil {
		return contradiction("a cross-encoder", e.Architecture, "no classification head")
	}
	if m.classifier != nil && !o.Score {
		return contradiction("no score output", "", "a classification head")
	}
	return nil
}

// sameArchitecture compares the entry's architecture with the one the
// checkpoint resolved to. The bare model and its pre-training heads
// (ForMaskedLM, ForCausalLM, ForPreTraining) are one architecture to an
// encoder; a sequence-classification head is not.
func sameArchitecture(entry, ckpt string) bool {
	stem := func(s string) string {
		for _, suffix := range []string{"ForMaskedLM", "ForCausalLM", "ForPreTraining", "Model"} {
			if t, ok := strings.CutSuffix(s, suffix); ok {
				return t
			}
		}
		return s
	}
	return entry == ckpt || stem(entry) == stem(ckpt)
}

// entrySettings turns a catalog entry into load settings.
func entrySettings(e *catalog.Entry) modelSettings {
	var s modelSettings
	if e.Pooling != "" {
		s.pooling = &pooling{modes: []PoolingMode{PoolingMode(e.Pooling)}, normalize: e.Normalize}
	}
	s.maxLength = e.MaxLength
	s.prompts = &prompts{query: e.QueryTemplate, document: e.DocumentTemplate, defaultInstruction: e.DefaultInstruction, named: maps.Clone(e.Prompts)}
	s.entry = e
	if e.Profile != "" {
		if e.Outputs.Dense > 0 {
			s.outputs |= outDense
		}
		if e.Outputs.Sparse > 0 {
			s.outputs |= outSparse
		}
		if e.Outputs.Multivector > 0 {
			s.outputs |= outMulti
		}
	}
	s.splade = e.Outputs.Sparse > 0 && e.Outputs.Dense == 0
	s.scoreMode = ScoreMode(e.ScoreMode)
	switch e.ScoreActivation {
	case "sigmoid":
		s.scoreActivation = ScoreSigmoid
	case "identity":
		s.scoreActivation = ScoreRaw
	}
	return s
}
