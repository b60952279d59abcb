package arch

// Masked-language-model heads, the input of SPLADE sparse encoders (Formal
// et al., 2021, "SPLADE: Sparse Lexical and Expansion Model for First Stage
// Ranking"). BertForMaskedLM mirrors transformers'
// models/bert/modeling_bert.py: BertOnlyMLMHead → BertLMPredictionHead →
// BertPredictionHeadTransform (dense → hidden_act → LayerNorm), then the
// decoder, whose weight is tied to the word embeddings and whose bias is the
// separate `cls.predictions.bias` parameter (`decoder.bias` points at it).

import (
	"encoding/json"
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// MaskedLM is an encoder with a masked-language-model head.
type MaskedLM interface {
	Encoder
	// VocabSize is the number of logits per token.
	VocabSize() int
	// MLMLogits maps hidden [B, T, H] (Forward's output) to the MLM logits
	// [B, T, VocabSize].
	MLMLogits(p Params, hidden *Node) *Node
}

// BertForMaskedLM is BertModel (no pooler) + BertOnlyMLMHead.
type BertForMaskedLM struct {
	*BertModel
	transform linear
	act       activation.Type
	norm      layerNorm
	decoder   int // [V, H]: the word embeddings when tied, else cls.predictions.decoder.weight
	bias      int // [V]
	vocab     int
}

// NewBertForMaskedLM takes the encoder (under "bert.") and the head under
// "cls.predictions.". With tie_word_embeddings (the default) a stored
// decoder weight is a copy of the word embeddings and is ignored; a stored
// decoder.bias next to cls.predictions.bias is the same tensor and is
// ignored too.
func NewBertForMaskedLM(config []byte, w *Weights) (*BertForMaskedLM, error) {
	var c struct {
		TieWordEmbeddings *bool `json:"tie_word_embeddings"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	m, err := NewBertModel(config, w)
	if err != nil {
		return nil, err
	}
	m.arch = "BertForMaskedLM"
	h := m.cfg.HiddenSize
	act, _ := activationByName(m.cfg.HiddenAct) // validated by NewBertModel
	const head = "cls.predictions."
	mlm := &BertForMaskedLM{
		BertModel: m,
		transform: takeLinearExact(w, head+"transform.dense", h, h, true),
		act:       act,
		norm:      takeLayerNormExact(w, head+"transform.LayerNorm", h, m.cfg.LayerNormEps, true),
		decoder:   m.embeddings.word.w,
	}
	words := w.Params()[m.embeddings.word.w].Shape
	if len(words) == 2 {
		mlm.vocab = words[0]
	}
	if c.TieWordEmbeddings == nil || *c.TieWordEmbeddings {
		w.IgnoreExact(head + "decoder.weight")
	} else {
		mlm.decoder = w.TakeExact(head+"decoder.weight", mlm.vocab, h)
	}
	if w.HasExact(head+"bias") || !w.HasExact(head+"decoder.bias") {
		mlm.bias = w.TakeExact(head+"bias", mlm.vocab)
		w.IgnoreExact(head + "decoder.bias")
	} else {
		mlm.bias = w.TakeExact(head+"decoder.bias", mlm.vocab)
	}
	return mlm, nil
}

// VocabSize implements MaskedLM.
func (m *BertForMaskedLM) VocabSize() int { return m.vocab }

// MLMLogits implements MaskedLM: hidden [B, T, H] → logits [B, T, V].
func (m *BertForMaskedLM) MLMLogits(p Params, hidden *Node) *Node {
	x := m.norm.apply(p, m.transform.apply(p, hidden, m.act)) // BertPredictionHeadTransform, [B, T, H]
	logits := Einsum("bth,vh->btv", x, p[m.decoder])          // tied decoder
	return Add(logits, ExpandLeftToRank(p[m.bias], 3))
}

// RobertaForMaskedLM is RobertaModel (no pooler) + RobertaLMHead, mirroring
// transformers' models/roberta/modeling_roberta.py: dense → gelu (the exact
// erf form, whatever hidden_act says) → layer_norm → decoder, the decoder
// tied to the word embeddings and its bias the separate `lm_head.bias`
// (`lm_head.decoder.bias` is the same tensor). SPLADE models on RoBERTa
// (ibm-granite/granite-embedding-30m-sparse) use it.
type RobertaForMaskedLM struct {
	*RobertaModel
	dense   linear
	norm    layerNorm
	decoder int // [V, H]: the word embeddings when tied, else lm_head.decoder.weight
	bias    int // [V]
	vocab   int
}

// NewRobertaForMaskedLM takes the encoder (under "roberta.") and the head
// under "lm_head.".
func NewRobertaForMaskedLM(config []byte, w *Weights, arch string) (*RobertaForMaskedLM, error) {
	var c struct {
		TieWordEmbeddings *bool `json:"tie_word_embeddings"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	m, err := NewRobertaModel(config, w, arch)
	if err != nil {
		return nil, err
	}
	h := m.cfg.HiddenSize
	const head = "lm_head."
	mlm := &RobertaForMaskedLM{
		RobertaModel: m,
		dense:        takeLinearExact(w, head+"dense", h, h, true),
		norm:         takeLayerNormExact(w, head+"layer_norm", h, m.cfg.LayerNormEps, true),
		decoder:      m.embeddings.word.w,
	}
	if words := w.Params()[m.embeddings.word.w].Shape; len(words) == 2 {
		mlm.vocab = words[0]
	}
	if c.TieWordEmbeddings == nil || *c.TieWordEmbeddings {
		w.IgnoreExact(head + "decoder.weight")
	} else {
		mlm.decoder = w.TakeExact(head+"decoder.weight", mlm.vocab, h)
	}
	if w.HasExact(head+"bias") || !w.HasExact(head+"decoder.bias") {
		mlm.bias = w.TakeExact(head+"bias", mlm.vocab)
		w.IgnoreExact(head + "decoder.bias")
	} else {
		mlm.bias = w.TakeExact(head+"decoder.bias", mlm.vocab)
	}
	return mlm, nil
}

// VocabSize implements MaskedLM.
func (m *RobertaForMaskedLM) VocabSize() int { return m.vocab }

// MLMLogits implements MaskedLM: hidden [B, T, H] → logits [B, T, V].
func (m *RobertaForMaskedLM) MLMLogits(p Params, hidden *Node) *Node {
	x := m.norm.apply(p, m.dense.apply(p, hidden, activation.TypeGelu)) // [B, T, H]
	logits := Einsum("bth,vh->btv", x, p[m.decoder])
	return Add(logits, ExpandLeftToRank(p[m.bias], 3))
}

// NewForMaskedLM is NewModel + NewLMPredictionHead, mirroring
// Alibaba-NLP/new-impl's modeling.py: dense → hidden_act → LayerNorm →
// decoder, the decoder weight tied to the word embeddings and its bias
// `lm_head.decoder.bias`. SPLADE models on the GTE "new" architecture
// (opensearch-neural-sparse-encoding-doc-v3-gte) use it. A NewForMaskedLM
// checkpoint that stores no head is served as the bare NewModel.
type NewForMaskedLM struct {
	*NewModel
	dense   linear
	act     activation.Type
	norm    layerNorm
	decoder int // [V, H]
	bias    int // [V]
	vocab   int
}

// NewNewForMaskedLM takes the encoder (under "new.") and the head under
// "lm_head."; without lm_head.dense.weight it returns the bare encoder.
func NewNewForMaskedLM(config []byte, w *Weights) (Encoder, error) {
	var c struct {
		TieWordEmbeddings *bool `json:"tie_word_embeddings"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	m, err := NewNewModel(config, w, "NewForMaskedLM")
	if err != nil {
		return nil, err
	}
	const head = "lm_head."
	if !w.HasExact(head + "dense.weight") {
		return m, nil
	}
	if m.cfg.LayerNormType != "" && m.cfg.LayerNormType != "layer_norm" {
		return nil, fmt.Errorf("config: the masked-LM head supports layer_norm_type layer_norm, not %q", m.cfg.LayerNormType)
	}
	h := m.cfg.HiddenSize
	act, _ := activationByName(m.cfg.HiddenAct) // validated by NewNewModel
	mlm := &NewForMaskedLM{
		NewModel: m,
		dense:    takeLinearExact(w, head+"dense", h, h, true),
		act:      act,
		norm:     takeLayerNormExact(w, head+"norm", h, m.cfg.LayerNormEps, true),
		decoder:  m.embeddings.word.w,
	}
	if words := w.Params()[m.embeddings.word.w].Shape; len(words) == 2 {
		mlm.vocab = words[0]
	}
	if c.TieWordEmbeddings != nil && !*c.TieWordEmbeddings {
		mlm.decoder = w.TakeExact(head+"decoder.weight", mlm.vocab, h)
	}
	mlm.bias = w.TakeExact(head+"decoder.bias", mlm.vocab)
	return mlm, nil
}

// VocabSize implements MaskedLM.
func (m *NewForMaskedLM) VocabSize() int { return m.vocab }

// MLMLogits implements MaskedLM: hidden [B, T, H] → logits [B, T, V].
func (m *NewForMaskedLM) MLMLogits(p Params, hidden *Node) *Node {
	x := m.norm.apply(p, m.dense.apply(p, hidden, m.act)) // [B, T, H]
	logits := Einsum("bth,vh->btv", x, p[m.decoder])
	return Add(logits, ExpandLeftToRank(p[m.bias], 3))
}

func init() {
	Register(func(config []byte, w *Weights) (Encoder, error) {
		return NewBertForMaskedLM(config, w)
	}, "BertForMaskedLM")
	for _, arch := range []string{"RobertaForMaskedLM", "XLMRobertaForMaskedLM"} {
		Register(func(config []byte, w *Weights) (Encoder, error) {
			return NewRobertaForMaskedLM(config, w, arch)
		}, arch)
	}
}

var (
	_ MaskedLM = (*BertForMaskedLM)(nil)
	_ MaskedLM = (*RobertaForMaskedLM)(nil)
	_ MaskedLM = (*NewForMaskedLM)(nil)
)
