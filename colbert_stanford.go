package sie

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/sie-project/sie/arch"
)

// Stanford ColBERT's own checkpoint layout (colbert-ir/colbertv2.0), as its
// colbert/modeling/hf_colbert.py saves it: config.json naming HF_ColBERT,
// the BERT encoder under "bert.", the token projection "linear.weight"
// ([dim, hidden], no bias) at the root of model.safetensors, and the
// settings in artifact.metadata, with no sentence-transformers files. sie
// reads it as the PyLate layout it is equivalent to: the same markers,
// query expansion with [MASK] (computed, never attended unless
// attend_to_mask_tokens), punctuation skipped in documents, and per-token
// L2 normalisation.

// stanfordArch is the architecture name Stanford ColBERT checkpoints give.
const stanfordArch = "HF_ColBERT"

// isStanfordColbert reports whether config.json names HF_ColBERT.
func isStanfordColbert(dir string) bool {
	var c arch.ConfigHeader
	if found, err := readJSON(filepath.Join(dir, "config.json"), &c); err != nil || !found {
		return false
	}
	for _, a := range c.Architectures {
		if a == stanfordArch {
			return true
		}
	}
	return false
}

// stanfordSettings is the part of artifact.metadata (ColBERTConfig) that
// shapes the vectors.
type stanfordSettings struct {
	QueryToken      *string `json:"query_token_id"`
	DocToken        *string `json:"doc_token_id"`
	QueryMaxLen     int     `json:"query_maxlen"`
	DocMaxLen       int     `json:"doc_maxlen"`
	MaskPunctuation *bool   `json:"mask_punctuation"`
	AttendToMask    *bool   `json:"attend_to_mask_tokens"`
	Dim             int     `json:"dim"`
	Similarity      string  `json:"similarity"`
}

// loadStanfordHead takes linear.weight from the checkpoint as the
// multivector projection and reads artifact.metadata; ColBERTConfig's
// defaults apply to missing keys ([unused0] / [unused1], 32 / 180 tokens,
// punctuation masked, no attention to [MASK]).
func (m *model) loadStanfordHead(params []arch.Param) ([]arch.Param, error) {
	set, err := openWeights(m.dir)
	if err != nil {
		return nil, err
	}
	src := safetensorsSource{set}
	if !slices.Contains(src.Names(), "linear.weight") {
		return nil, fmt.Errorf("%w: an %s checkpoint without linear.weight", ErrInvalidModel, stanfordArch)
	}
	h := m.info.HiddenSize
	w := arch.NewWeights(onlyTensor{src, "linear.weight"})
	wi := w.TakeTransformed("linear.weight", []int{-1, h}, arch.Transpose2D)
	if err := w.Check(); err != nil {
		return nil, joinKind(ErrInvalidModel, err)
	}
	taken := w.Params()[wi]
	dim := taken.Shape[1]

	var st stanfordSettings
	if _, err := readJSON(filepath.Join(m.dir, "artifact.metadata"), &st); err != nil {
		return nil, err
	}
	if st.Dim != 0 && st.Dim != dim {
		return nil, fmt.Errorf("%w: artifact.metadata says dim %d, linear.weight projects to %d", ErrInvalidModel, st.Dim, dim)
	}
	if st.Similarity != "" && st.Similarity != "cosine" {
		return nil, fmt.Errorf("%w: ColBERT similarity %q is not supported (cosine)", ErrUnsupportedArchitecture, st.Similarity)
	}
	str := func(p *string, def string) *string {
		if p == nil {
			return &def
		}
		return p
	}
	expand, attend := true, st.AttendToMask != nil && *st.AttendToMask
	s := pylateSettings{
		QueryPrefix:     str(st.QueryToken, "[unused0]"),
		DocumentPrefix:  str(st.DocToken, "[unused1]"),
		QueryLength:     st.QueryMaxLen,
		DocumentLength:  st.DocMaxLen,
		Expansion:       &expand,
		AttendExpansion: &attend,
	}
	if st.MaskPunctuation != nil && !*st.MaskPunctuation {
		s.Skiplist = []string{}
	}
	cfg, err := pylateFrom(m.dir, m, s)
	if err != nil {
		return nil, err
	}
	d := stDense{dir: "linear.weight", in: h, out: dim, activation: "identity", w: len(params)}
	m.multi = &multiHead{proj: pooling{dense: []stDense{d}}, dim: dim, pylate: cfg}
	m.outputs |= outMulti
	return append(params, taken), nil
}

// onlyTensor shows one tensor of a source.
type onlyTensor struct {
	src  arch.TensorSource
	name string
}

func (o onlyTensor) Names() []string { return []string{o.name} }
func (o onlyTensor) Float32(name string) ([]float32, []int, error) {
	if name != o.name {
		return nil, nil, os.ErrNotExist
	}
	return o.src.Float32(name)
}
