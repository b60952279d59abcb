package arch

// BERT (Devlin et al., 2018, "BERT: Pre-training of Deep Bidirectional
// Transformers for Language Understanding"), mirroring Hugging Face
// transformers' models/bert/modeling_bert.py block by block: BertEmbeddings,
// BertSelfAttention + BertSelfOutput, BertIntermediate + BertOutput,
// BertLayer, BertEncoder, BertPooler, BertModel.

import (
	"encoding/json"
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// BertConfig is the subset of a BERT config.json the graph depends on.
type BertConfig struct {
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	IntermediateSize      int     `json:"intermediate_size"`
	HiddenAct             string  `json:"hidden_act"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	TypeVocabSize         int     `json:"type_vocab_size"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
	PositionEmbeddingType string  `json:"position_embedding_type"`
}

func (c *BertConfig) validate() error {
	switch {
	case c.HiddenSize <= 0, c.NumHiddenLayers <= 0, c.NumAttentionHeads <= 0, c.IntermediateSize <= 0:
		return fmt.Errorf("config: hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive")
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("config: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	case c.MaxPositionEmbeddings <= 0:
		return fmt.Errorf("config: max_position_embeddings must be positive")
	case c.PositionEmbeddingType != "" && c.PositionEmbeddingType != "absolute":
		return fmt.Errorf("config: position_embedding_type %q is not supported (only \"absolute\")", c.PositionEmbeddingType)
	}
	if _, ok := activationByName(c.HiddenAct); !ok {
		return fmt.Errorf("config: hidden_act %q is not supported", c.HiddenAct)
	}
	return nil
}

func parseBertConfig(data []byte) (*BertConfig, error) {
	c := &BertConfig{HiddenAct: "gelu", LayerNormEps: 1e-12, TypeVocabSize: 2}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return c, c.validate()
}

// takeBertEmbeddings builds BertEmbeddings: word + token type + absolute
// position, then LayerNorm.
func takeBertEmbeddings(w *Weights, c *BertConfig) sumEmbeddings {
	e := sumEmbeddings{
		word:         takeEmbedding(w, "embeddings.word_embeddings", -1, c.HiddenSize),
		position:     takeEmbedding(w, "embeddings.position_embeddings", c.MaxPositionEmbeddings, c.HiddenSize),
		hasPositions: true,
		norm:         takeLayerNorm(w, "embeddings.LayerNorm", c.HiddenSize, c.LayerNormEps, true),
	}
	if c.TypeVocabSize > 0 {
		e.tokenType = takeEmbedding(w, "embeddings.token_type_embeddings", c.TypeVocabSize, c.HiddenSize)
		e.hasTokenType = true
	}
	// A buffer of arange(max_positions), not a weight.
	w.Ignore("embeddings.position_ids")
	return e
}

// bertLayer is BertAttention (self-attention + output projection, residual,
// LayerNorm) followed by BertIntermediate and BertOutput (MLP, residual,
// LayerNorm): the post-norm transformer block.
type bertLayer struct {
	attention postNormAttention
	mlp       postNormMLP
}

func takeBertLayer(w *Weights, c *BertConfig, i int) bertLayer {
	pre := fmt.Sprintf("encoder.layer.%d.", i)
	act, _ := activationByName(c.HiddenAct)
	return bertLayer{
		attention: takePostNormAttention(w, [5]string{pre + "attention.self.query", pre + "attention.self.key",
			pre + "attention.self.value", pre + "attention.output.dense", pre + "attention.output.LayerNorm"},
			c.HiddenSize, c.NumAttentionHeads, c.LayerNormEps),
		mlp: takePostNormMLP(w, [3]string{pre + "intermediate.dense", pre + "output.dense", pre + "output.LayerNorm"},
			c.HiddenSize, c.IntermediateSize, c.LayerNormEps, act),
	}
}

// forward: x [B, T, H], mask [B, T, 1, T] → [B, T, H].
func (l bertLayer) forward(p Params, x, mask *Node) *Node {
	return l.mlp.forward(p, l.attention.forward(p, x, mask, nil))
}

// bertPooler: dense + tanh on the first token. Used by the cross-encoder head;
// sentence-transformers ignores it.
type bertPooler struct{ dense linear }

func (pl *bertPooler) forward(p Params, hidden *Node) *Node {
	if pl == nil {
		return nil // the checkpoint stores no pooler
	}
	first := SliceAxis(hidden, 1, AxisRange(0, 1)) // [B, 1, H]
	first = Squeeze(first, 1)
	return pl.dense.apply(p, first, activation.TypeTanh)
}

// BertModel is the bare encoder.
type BertModel struct {
	cfg        *BertConfig
	embeddings sumEmbeddings
	layers     []bertLayer
	pooler     *bertPooler // nil when the checkpoint stores none
	arch       string
}

// NewBertModel takes BERT's tensors from w (under an optional "bert." prefix).
func NewBertModel(config []byte, w *Weights) (*BertModel, error) {
	c, err := parseBertConfig(config)
	if err != nil {
		return nil, err
	}
	w.ResolvePrefix("embeddings.word_embeddings.weight", "", "bert.")
	m := &BertModel{cfg: c, embeddings: takeBertEmbeddings(w, c), arch: "BertModel"}
	for i := 0; i < c.NumHiddenLayers; i++ {
		m.layers = append(m.layers, takeBertLayer(w, c, i))
	}
	if w.Has("pooler.dense.weight") {
		m.pooler = &bertPooler{dense: takeLinear(w, "pooler.dense", c.HiddenSize, c.HiddenSize, true)}
	}
	return m, nil
}

// Forward runs BertModel: [B, T] inputs → last hidden states [B, T, H].
func (m *BertModel) Forward(p Params, in Inputs) *Node {
	mask := segmentMask(in.Segments)
	x := m.embeddings.forward(p, in)
	for _, l := range m.layers {
		x = l.forward(p, x, mask)
	}
	return x
}

// Pooler returns BertPooler's output [B, H], or nil without a pooler.
func (m *BertModel) Pooler(p Params, hidden *Node) *Node {
	return m.pooler.forward(p, hidden)
}

// Info implements Encoder.
func (m *BertModel) Info() Info {
	return Info{
		Architecture:  m.arch,
		HiddenSize:    m.cfg.HiddenSize,
		MaxPositions:  m.cfg.MaxPositionEmbeddings,
		TypeVocabSize: m.cfg.TypeVocabSize,
	}
}

func init() {
	Register(func(config []byte, w *Weights) (Encoder, error) {
		return NewBertModel(config, w)
	}, "BertModel")
	// Stanford ColBERT's HF_ColBERT (colbert-ir/colbertv2.0): BERT under
	// "bert." plus the token projection linear.weight at the root, which is
	// not part of the encoder (the caller takes it as the ColBERT head).
	Register(func(config []byte, w *Weights) (Encoder, error) {
		m, err := NewBertModel(config, w)
		if err != nil {
			return nil, err
		}
		w.IgnoreExact("linear.weight")
		m.arch = "HF_ColBERT"
		return m, nil
	}, "HF_ColBERT")
}
