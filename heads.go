package sie

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/sie-project/sie/arch"
	"github.com/sie-project/sie/internal/pytorch"
	"github.com/sie-project/sie/internal/safetensors"
)

// loadHeads sets up the sparse and multivector outputs a checkpoint
// declares and appends their weights to params:
//
//   - SPLADE: a SpladePooling module over the encoder's masked-LM head; a
//     *ForMaskedLM checkpoint without modules.json that ships query weights
//     is one too (the OpenSearch doc-only layout);
//   - doc-only query weights: idf.json or query_token_weights.txt beside a
//     SPLADE model;
//   - BGE-M3: sparse_linear and colbert_linear beside an XLM-RoBERTa model,
//     from .safetensors copies or else the .pt state dicts the hub ships;
//   - ColBERT: PyLate Dense modules (colbert.go).
func (m *model) loadHeads(params []arch.Param) ([]arch.Param, error) {
	h := m.info.HiddenSize
	splade := m.pool.splade
	if splade == nil && !exists(filepath.Join(m.dir, "modules.json")) && (exists(filepath.Join(m.dir, "idf.json")) || exists(filepath.Join(m.dir, "query_token_weights.txt"))) {
		if _, ok := m.encoder.(arch.MaskedLM); ok {
			splade = &spladePooling{Strategy: "max", Activation: "relu"}
			m.outputs &^= outDense
		}
	}
	if splade != nil {
		mlm, ok := m.encoder.(arch.MaskedLM)
		if !ok {
			return nil, fmt.Errorf("%w: SpladePooling needs a masked-language-model checkpoint; %s has no MLM head", ErrUnsupportedArchitecture, m.info.Architecture)
		}
		m.sparse = &sparseHead{kind: sparseSplade, mlm: mlm, splade: *splade}
		var err error
		if m.sparse.queryWeights, m.sparse.queryFile, err = readQueryWeights(m.dir, m); err != nil {
			return nil, err
		}
		m.outputs |= outSparse
	}

	if m.info.Architecture == "XLMRobertaModel" {
		src, file, err := headTensors(m.dir, "sparse_linear")
		if err != nil {
			return nil, err
		}
		if src != nil {
			if m.sparse != nil {
				return nil, fmt.Errorf("%w: both a SPLADE module and %s", ErrUnsupportedArchitecture, file)
			}
			w := arch.NewWeights(src)
			wi := w.TakeTransformed("weight", []int{1, h}, arch.Transpose2D)
			bi := w.TakeExact("bias", 1)
			if err := w.Check(); err != nil {
				return nil, joinKind(ErrInvalidModel, fmt.Errorf("%s: %w", file, err))
			}
			taken := w.Params()
			m.sparse = &sparseHead{kind: sparseTokens, w: len(params), b: len(params) + 1}
			params = append(params, taken[wi], taken[bi])
			// FlagEmbedding's _process_token_weights drops these.
			if m.sparse.drop, err = specialTokenIDs(m.dir, m, "cls_token", "eos_token", "pad_token", "unk_token"); err != nil {
				return nil, err
			}
			m.outputs |= outSparse
		}
		if src, file, err = headTensors(m.dir, "colbert_linear"); err != nil {
			return nil, err
		}
		if src != nil {
			w := arch.NewWeights(src)
			wi := w.TakeTransformed("weight", []int{-1, h}, arch.Transpose2D)
			bi := w.TakeExact("bias", -1)
			if err := w.Check(); err != nil {
				return nil, joinKind(ErrInvalidModel, fmt.Errorf("%s: %w", file, err))
			}
			taken := w.Params()
			dim := taken[wi].Shape[1]
			if len(taken[bi].Shape) != 1 || taken[bi].Shape[0] != dim {
				return nil, fmt.Errorf("%w: %s: bias has shape %v, want [%d]", ErrInvalidModel, file, taken[bi].Shape, dim)
			}
			d := stDense{dir: file, in: h, out: dim, bias: true, activation: "identity", w: len(params), b: len(params) + 1}
			params = append(params, taken[wi], taken[bi])
			m.multi = &multiHead{proj: pooling{dense: []stDense{d}}, dim: dim, dropFirst: true, meanOverQuery: true}
			m.outputs |= outMulti
		}
	}

	if m.info.Architecture == stanfordArch {
		var err error
		if params, err = m.loadStanfordHead(params); err != nil { // colbert_stanford.go
			return nil, err
		}
	}
	if len(m.pool.tokenDense) > 0 {
		proj := pooling{dense: slices.Clone(m.pool.tokenDense)}
		var err error
		if params, err = proj.takeDense(params, h); err != nil {
			return nil, err
		}
		cfg, err := readPylate(m.dir, m)
		if err != nil {
			return nil, err
		}
		m.multi = &multiHead{proj: proj, dim: proj.dense[len(proj.dense)-1].out, pylate: cfg}
		m.outputs |= outMulti
	}
	if m.outputs == 0 {
		return nil, fmt.Errorf("%w: %s gives no output here (no pooling, sparse or multivector head)", ErrUnsupportedArchitecture, m.info.Architecture)
	}
	return params, nil
}

// headTensors opens dir/base.safetensors, else dir/base.pt (a torch.save
// state dict); it returns a nil source when neither exists.
func headTensors(dir, base string) (arch.TensorSource, string, error) {
	st := filepath.Join(dir, base+".safetensors")
	if exists(st) {
		set, err := safetensors.OpenFiles(st)
		if err != nil {
			return nil, "", joinKind(ErrInvalidModel, err)
		}
		return safetensorsSource{set}, base + ".safetensors", nil
	}
	pt := filepath.Join(dir, base+".pt")
	if !exists(pt) {
		return nil, "", nil
	}
	ts, err := pytorch.Load(pt)
	if err != nil {
		return nil, "", joinKind(ErrInvalidModel, err)
	}
	return mapSource(ts), base + ".pt", nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// workspaceWidth is the per-token width the memory estimate counts: the
// hidden size, or for SPLADE a quarter of the vocabulary, since its batches
// hold [tokens, vocabulary] logits.
func (m *model) workspaceWidth() int {
	w := m.info.HiddenSize
	if m.sparse != nil && m.sparse.kind == sparseSplade {
		w = max(w, m.sparse.mlm.VocabSize()/4)
	}
	return w
}
