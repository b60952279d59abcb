package arch

// JinaBERT (Günther et al., 2023, "Jina Embeddings 2: 8192-Token
// General-Purpose Text Embeddings for Long Documents"): BERT with symmetric
// ALiBi (Press et al., 2021, "Train Short, Test Long") in place of position
// embeddings and a GLU feed-forward. It mirrors the remote code of the hub
// repository jinaai/jina-bert-implementation, modeling_bert.py (read in the
// copy vendored by veya2ztn/sci-bert-finetune @ e39c6b94): JinaBertEmbeddings,
// JinaBertSelfAttention + JinaBertSelfOutput, JinaBertGLUMLP (or
// JinaBertIntermediate + JinaBertOutput), JinaBertLayer, JinaBertEncoder (the
// ALiBi table), JinaBertPooler, JinaBertModel.
//
// Its config.json says model_type "bert"; it is recognised by architectures
// (JinaBertModel, or JinaBertForMaskedLM storing the bare names) and auto_map.

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// JinaBertConfig is the subset of a JinaBERT config.json the graph depends on.
type JinaBertConfig struct {
	VocabSize             int      `json:"vocab_size"`
	HiddenSize            int      `json:"hidden_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	IntermediateSize      int      `json:"intermediate_size"`
	HiddenAct             string   `json:"hidden_act"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	TypeVocabSize         int      `json:"type_vocab_size"`
	LayerNormEps          float64  `json:"layer_norm_eps"`
	PositionEmbeddingType string   `json:"position_embedding_type"`
	FeedForwardType       string   `json:"feed_forward_type"`
	AlibiScaling          *float64 `json:"alibi_scaling"`   // only in the extended copy; 1/null = off
	EmbeddingModel        bool     `json:"embedding_model"` // only in the extended copy: drops the pooler
	IsDecoder             bool     `json:"is_decoder"`
	AddCrossAttention     bool     `json:"add_cross_attention"`
}

func (c *JinaBertConfig) validate() error {
	switch {
	case c.HiddenSize <= 0, c.NumHiddenLayers <= 0, c.NumAttentionHeads <= 0, c.IntermediateSize <= 0:
		return fmt.Errorf("config: hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive")
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("config: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	case c.MaxPositionEmbeddings <= 0:
		return fmt.Errorf("config: max_position_embeddings must be positive")
	case c.TypeVocabSize <= 0:
		return fmt.Errorf("config: type_vocab_size must be positive (JinaBertEmbeddings always adds token types)")
	case c.PositionEmbeddingType != "alibi":
		return fmt.Errorf("config: JinaBert position_embedding_type %q is not supported (only \"alibi\")", c.PositionEmbeddingType)
	case c.AlibiScaling != nil && *c.AlibiScaling != 1:
		return fmt.Errorf("config: alibi_scaling %g is not supported (only 1)", *c.AlibiScaling)
	case c.IsDecoder, c.AddCrossAttention:
		return fmt.Errorf("config: JinaBert as a decoder (is_decoder, add_cross_attention) is not supported")
	}
	switch c.FeedForwardType {
	case "geglu", "reglu":
	case "original":
		if _, ok := activationByName(c.HiddenAct); !ok {
			return fmt.Errorf("config: hidden_act %q is not supported", c.HiddenAct)
		}
	default:
		return fmt.Errorf("config: feed_forward_type %q is not supported (geglu, reglu, original)", c.FeedForwardType)
	}
	return nil
}

func parseJinaBertConfig(data []byte) (*JinaBertConfig, error) {
	// Defaults of JinaBertConfig.
	c := &JinaBertConfig{HiddenAct: "gelu", LayerNormEps: 1e-12, TypeVocabSize: 2, MaxPositionEmbeddings: 512,
		PositionEmbeddingType: "absolute", FeedForwardType: "original"}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return c, c.validate()
}

// alibiSlopes are the per-head ALiBi slopes m_h of
// JinaBertEncoder._get_alibi_head_slopes: 2^(−8(h+1)/n) for n a power of two;
// otherwise the slopes of the largest power of two p below n followed by
// every other slope of the 2p list.
func alibiSlopes(n int) []float64 {
	pow2 := func(n int) []float64 {
		start := math.Pow(2, -math.Pow(2, -(math.Log2(float64(n))-3)))
		s := make([]float64, n)
		for i := range s {
			s[i] = start * math.Pow(start, float64(i))
		}
		return s
	}
	if l := math.Log2(float64(n)); l == math.Floor(l) {
		return pow2(n)
	}
	p := 1 << int(math.Floor(math.Log2(float64(n))))
	slopes := pow2(p)
	for i, s := range alibiSlopes(2 * p) {
		if i%2 == 0 && len(slopes) < n {
			slopes = append(slopes, s)
		}
	}
	return slopes
}

// alibiBias is the symmetric ALiBi bias −m_h·|i − j| [B, heads, T, T], with
// |i − j| taken from the position ids so that it restarts in every packed
// segment (upstream uses the row indices of a sequence alone in its row,
// which is the same distance).
func alibiBias(positions *Node, heads int) *Node {
	g := positions.Graph()
	neg := make([]float32, heads)
	for h, m := range alibiSlopes(heads) {
		neg[h] = -float32(m)
	}
	dist := ConvertDType(Abs(positionDistance(positions)), dtypes.Float32) // [B, T, T]
	slopes := Reshape(Const(g, neg), 1, heads, 1, 1)
	return Mul(slopes, InsertAxes(dist, 1)) // [B, heads, T, T]
}

// takeJinaBertEmbeddings builds JinaBertEmbeddings: word + token type, then
// LayerNorm (no positions: ALiBi replaces them).
func takeJinaBertEmbeddings(w *Weights, c *JinaBertConfig) sumEmbeddings {
	e := sumEmbeddings{
		word:         takeEmbedding(w, "embeddings.word_embeddings", -1, c.HiddenSize),
		tokenType:    takeEmbedding(w, "embeddings.token_type_embeddings", c.TypeVocabSize, c.HiddenSize),
		hasTokenType: true,
		norm:         takeLayerNorm(w, "embeddings.LayerNorm", c.HiddenSize, c.LayerNormEps, true),
	}
	w.Ignore("embeddings.position_ids") // buffer, not a weight
	return e
}

// jinaBertLayer is JinaBertAttention (BERT's self-attention plus the ALiBi
// bias, output dense, residual, LayerNorm) followed by JinaBertGLUMLP
// (gated_layers → act(first half) · second half → wo, residual, LayerNorm)
// or, for feed_forward_type "original", BERT's intermediate/output pair.
type jinaBertLayer struct {
	attention postNormAttention
	glu       bool
	gated, wo linear      // GLU
	mlp       postNormMLP // original
	mlpNorm   layerNorm   // GLU
	inter     int
	act       activation.Type
}

func takeJinaBertLayer(w *Weights, c *JinaBertConfig, i int) jinaBertLayer {
	pre := fmt.Sprintf("encoder.layer.%d.", i)
	h, in := c.HiddenSize, c.IntermediateSize
	l := jinaBertLayer{
		attention: takePostNormAttention(w, [5]string{pre + "attention.self.query", pre + "attention.self.key",
			pre + "attention.self.value", pre + "attention.output.dense", pre + "attention.output.LayerNorm"},
			h, c.NumAttentionHeads, c.LayerNormEps),
		inter: in,
	}
	switch c.FeedForwardType {
	case "geglu", "reglu":
		l.glu = true
		l.act = activation.TypeGelu // nn.GELU(): exact erf form, whatever hidden_act says
		if c.FeedForwardType == "reglu" {
			l.act = activation.TypeRelu
		}
		l.gated = takeLinear(w, pre+"mlp.gated_layers", h, 2*in, false)
		l.wo = takeLinear(w, pre+"mlp.wo", in, h, true)
		l.mlpNorm = takeLayerNorm(w, pre+"mlp.layernorm", h, c.LayerNormEps, true)
	default:
		act, _ := activationByName(c.HiddenAct)
		l.mlp = takePostNormMLP(w, [3]string{pre + "intermediate.dense", pre + "output.dense", pre + "output.LayerNorm"},
			h, in, c.LayerNormEps, act)
	}
	return l
}

// forward: x [B, T, H], mask [B, T, 1, T], alibi [B, heads, T, T] → [B, T, H].
func (l jinaBertLayer) forward(p Params, x, mask, alibi *Node) *Node {
	x = l.attention.forward(p, x, mask, alibi) // JinaBertAttention
	if !l.glu {
		return l.mlp.forward(p, x)
	}
	gu := l.gated.apply(p, x)                                    // [B, T, 2I]
	gated := SliceAxis(gu, -1, AxisRange(0, l.inter))            // first half: activated
	nonGated := SliceAxis(gu, -1, AxisRange(l.inter, 2*l.inter)) // second half: linear
	hidden := Mul(activation.Apply(l.act, gated), nonGated)      // [B, T, I]
	return l.mlpNorm.apply(p, Add(l.wo.apply(p, hidden), x))
}

// JinaBertModel is the bare encoder.
type JinaBertModel struct {
	cfg        *JinaBertConfig
	embeddings sumEmbeddings
	layers     []jinaBertLayer
	pooler     *bertPooler // JinaBertPooler is BertPooler; nil when not stored
	arch       string
}

// NewJinaBertModel takes JinaBERT's tensors from w (bare names, or under
// "bert." for task checkpoints, whose MLM head is ignored).
func NewJinaBertModel(config []byte, w *Weights, arch string) (*JinaBertModel, error) {
	c, err := parseJinaBertConfig(config)
	if err != nil {
		return nil, err
	}
	w.ResolvePrefix("embeddings.word_embeddings.weight", "", "bert.")
	m := &JinaBertModel{cfg: c, embeddings: takeJinaBertEmbeddings(w, c), arch: arch}
	for i := 0; i < c.NumHiddenLayers; i++ {
		m.layers = append(m.layers, takeJinaBertLayer(w, c, i))
	}
	switch {
	case c.EmbeddingModel: // JinaBertModel builds no pooler then
		w.Ignore("pooler.dense.weight", "pooler.dense.bias")
	case w.Has("pooler.dense.weight"):
		m.pooler = &bertPooler{dense: takeLinear(w, "pooler.dense", c.HiddenSize, c.HiddenSize, true)}
	}
	// JinaBertForMaskedLM's head: not part of the encoder.
	w.IgnoreExact("cls.predictions.bias", "cls.predictions.transform.dense.weight",
		"cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
		"cls.predictions.transform.LayerNorm.bias", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
	return m, nil
}

// Forward runs JinaBertModel: [B, T] inputs → last hidden states [B, T, H].
func (m *JinaBertModel) Forward(p Params, in Inputs) *Node {
	mask := segmentMask(in.Segments)
	alibi := alibiBias(in.Positions, m.cfg.NumAttentionHeads) // shared by all layers
	x := m.embeddings.forward(p, in)
	for _, l := range m.layers {
		x = l.forward(p, x, mask, alibi)
	}
	return x
}

// Pooler returns JinaBertPooler's output [B, H] (dense + tanh on [CLS]), or
// nil when the checkpoint stores no pooler.
func (m *JinaBertModel) Pooler(p Params, hidden *Node) *Node {
	return m.pooler.forward(p, hidden)
}

// Info implements Encoder. ALiBi extrapolates (upstream rebuilds its table
// for longer inputs); max_position_embeddings is the trained length.
func (m *JinaBertModel) Info() Info {
	return Info{
		Architecture:  m.arch,
		HiddenSize:    m.cfg.HiddenSize,
		MaxPositions:  m.cfg.MaxPositionEmbeddings,
		TypeVocabSize: m.cfg.TypeVocabSize,
	}
}

func init() {
	for _, name := range []string{"JinaBertModel", "JinaBertForMaskedLM"} {
		Register(func(config []byte, w *Weights) (Encoder, error) {
			return NewJinaBertModel(config, w, name)
		}, name)
	}
}
