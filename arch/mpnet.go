package arch

// MPNet (Song et al., 2020, "MPNet: Masked and Permuted Pre-training for
// Language Understanding"), mirroring Hugging Face transformers'
// models/mpnet/modeling_mpnet.py block by block: MPNetEmbeddings,
// MPNetSelfAttention + MPNetAttention, MPNetIntermediate + MPNetOutput,
// MPNetLayer, MPNetEncoder (one T5-style relative-position bias shared by all
// layers), MPNetPooler, MPNetModel. This is the all-mpnet-base-v2 family.

import (
	"encoding/json"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph"
)

// MPNetConfig is the subset of an MPNet config.json the graph depends on.
type MPNetConfig struct {
	VocabSize                   int     `json:"vocab_size"`
	HiddenSize                  int     `json:"hidden_size"`
	NumHiddenLayers             int     `json:"num_hidden_layers"`
	NumAttentionHeads           int     `json:"num_attention_heads"`
	IntermediateSize            int     `json:"intermediate_size"`
	HiddenAct                   string  `json:"hidden_act"`
	MaxPositionEmbeddings       int     `json:"max_position_embeddings"`
	LayerNormEps                float64 `json:"layer_norm_eps"`
	RelativeAttentionNumBuckets int     `json:"relative_attention_num_buckets"`
}

// Upstream hard-codes the relative-position bucketing: compute_position_bias
// is called with 32 buckets whatever relative_attention_num_buckets says, and
// relative_position_bucket uses max_distance 128.
const (
	mpnetBuckets     = 32
	mpnetMaxDistance = 128
	// MPNetEmbeddings hard-codes padding_idx = 1: positions are
	// padding_idx + cumsum(mask), so the first token sits at 2.
	mpnetPositionOffset = 2
)

func (c *MPNetConfig) validate() error {
	switch {
	case c.HiddenSize <= 0, c.NumHiddenLayers <= 0, c.NumAttentionHeads <= 0, c.IntermediateSize <= 0:
		return fmt.Errorf("config: hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive")
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("config: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	case c.MaxPositionEmbeddings <= mpnetPositionOffset:
		return fmt.Errorf("config: max_position_embeddings %d leaves no room after the position offset %d", c.MaxPositionEmbeddings, mpnetPositionOffset)
	case c.RelativeAttentionNumBuckets < mpnetBuckets:
		return fmt.Errorf("config: relative_attention_num_buckets %d is below the %d buckets upstream always addresses", c.RelativeAttentionNumBuckets, mpnetBuckets)
	}
	if _, ok := activationByName(c.HiddenAct); !ok {
		return fmt.Errorf("config: hidden_act %q is not supported", c.HiddenAct)
	}
	return nil
}

func parseMPNetConfig(data []byte) (*MPNetConfig, error) {
	// Defaults of transformers' MPNetConfig.
	c := &MPNetConfig{HiddenAct: "gelu", LayerNormEps: 1e-12, MaxPositionEmbeddings: 512, RelativeAttentionNumBuckets: 32}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return c, c.validate()
}

// mpnetEmbeddings: word + absolute (RoBERTa-style offset) position, then
// LayerNorm. MPNet has no token types.
type mpnetEmbeddings struct {
	word, position embedding
	norm           layerNorm
}

func takeMPNetEmbeddings(w *Weights, c *MPNetConfig) mpnetEmbeddings {
	e := mpnetEmbeddings{
		word:     takeEmbedding(w, "embeddings.word_embeddings", -1, c.HiddenSize),
		position: takeEmbedding(w, "embeddings.position_embeddings", c.MaxPositionEmbeddings, c.HiddenSize),
		norm:     takeLayerNorm(w, "embeddings.LayerNorm", c.HiddenSize, c.LayerNormEps, true),
	}
	w.Ignore("embeddings.position_ids") // buffer of older checkpoints
	return e
}

// forward: ids, positions [B, T] → [B, T, H].
func (e mpnetEmbeddings) forward(p Params, in Inputs) *Node {
	return e.norm.apply(p, Add(e.word.apply(p, in.IDs), e.position.apply(p, in.Positions)))
}

// mpnetRelativeBucket reproduces MPNetEncoder.relative_position_bucket for
// rel = key − query, in the float32 arithmetic upstream uses (the log ratio
// is computed in float32 and truncated).
func mpnetRelativeBucket(rel int) int32 {
	const half = mpnetBuckets / 2 // 16
	const maxExact = half / 2     // 8
	n := -rel
	ret := 0
	if n < 0 {
		ret += half
		n = -n
	}
	if n < maxExact {
		return int32(ret + n)
	}
	logRatio := float32(math.Log(float64(float32(n) / maxExact)))
	scaled := logRatio / float32(math.Log(float64(mpnetMaxDistance)/maxExact)) * (half - maxExact)
	return int32(ret + min(maxExact+int(scaled), half-1))
}

// mpnetRelativeBias is MPNetEncoder.compute_position_bias: a bias [B, heads,
// T, T] looked up in relative_attention_bias [buckets, heads] by the bucket
// of the distance between key and query positions.
type mpnetRelativeBias struct{ table int }

func (rb mpnetRelativeBias) forward(p Params, positions *Node) *Node {
	g := positions.Graph()
	// Buckets saturate at distance max_distance, so a table over
	// [−128, 128] covers every distance once distances are clipped to it.
	lut := make([]int32, 2*mpnetMaxDistance+1)
	for i := range lut {
		lut[i] = mpnetRelativeBucket(i - mpnetMaxDistance)
	}
	rel := ClipScalar(positionDistance(positions), -mpnetMaxDistance, mpnetMaxDistance) // [B, T, T]
	rel = AddScalar(rel, mpnetMaxDistance)
	bucket := Gather(Const(g, lut), InsertAxes(rel, -1)) // [B, T, T]
	bias := Gather(p[rb.table], InsertAxes(bucket, -1))  // [B, T, T, heads]
	return TransposeAllAxes(bias, 0, 3, 1, 2)            // [B, heads, T, T]
}

// mpnetLayer is MPNetAttention (q/k/v/o with the relative bias, residual,
// LayerNorm) followed by MPNetIntermediate and MPNetOutput: post-norm.
type mpnetLayer struct {
	attention postNormAttention
	mlp       postNormMLP
}

func takeMPNetLayer(w *Weights, c *MPNetConfig, i int) mpnetLayer {
	pre := fmt.Sprintf("encoder.layer.%d.", i)
	act, _ := activationByName(c.HiddenAct)
	return mpnetLayer{
		attention: takePostNormAttention(w, [5]string{pre + "attention.attn.q", pre + "attention.attn.k",
			pre + "attention.attn.v", pre + "attention.attn.o", pre + "attention.LayerNorm"},
			c.HiddenSize, c.NumAttentionHeads, c.LayerNormEps),
		mlp: takePostNormMLP(w, [3]string{pre + "intermediate.dense", pre + "output.dense", pre + "output.LayerNorm"},
			c.HiddenSize, c.IntermediateSize, c.LayerNormEps, act),
	}
}

// forward: x [B, T, H], mask [B, T, 1, T], bias [B, heads, T, T] → [B, T, H].
func (l mpnetLayer) forward(p Params, x, mask, bias *Node) *Node {
	return l.mlp.forward(p, l.attention.forward(p, x, mask, bias))
}

// MPNetModel is the bare encoder.
type MPNetModel struct {
	cfg        *MPNetConfig
	embeddings mpnetEmbeddings
	relBias    mpnetRelativeBias
	layers     []mpnetLayer
	pooler     *bertPooler // same block as BertPooler; nil when not stored
	arch       string
}

// NewMPNetModel takes MPNet's tensors from w (bare names, or under "mpnet."
// for task checkpoints, whose lm_head is ignored).
func NewMPNetModel(config []byte, w *Weights, arch string) (*MPNetModel, error) {
	c, err := parseMPNetConfig(config)
	if err != nil {
		return nil, err
	}
	w.ResolvePrefix("embeddings.word_embeddings.weight", "", "mpnet.")
	m := &MPNetModel{cfg: c, embeddings: takeMPNetEmbeddings(w, c), arch: arch}
	m.relBias = mpnetRelativeBias{table: w.Take("encoder.relative_attention_bias.weight", c.RelativeAttentionNumBuckets, c.NumAttentionHeads)}
	for i := 0; i < c.NumHiddenLayers; i++ {
		m.layers = append(m.layers, takeMPNetLayer(w, c, i))
	}
	if w.Has("pooler.dense.weight") {
		m.pooler = &bertPooler{dense: takeLinear(w, "pooler.dense", c.HiddenSize, c.HiddenSize, true)}
	}
	// MPNetForMaskedLM's head: not part of the encoder.
	w.IgnoreExact("lm_head.dense.weight", "lm_head.dense.bias", "lm_head.layer_norm.weight",
		"lm_head.layer_norm.bias", "lm_head.decoder.weight", "lm_head.decoder.bias", "lm_head.bias")
	return m, nil
}

// Forward runs MPNetModel: [B, T] inputs → last hidden states [B, T, H].
func (m *MPNetModel) Forward(p Params, in Inputs) *Node {
	mask := segmentMask(in.Segments)
	bias := m.relBias.forward(p, in.Positions) // shared by all layers
	x := m.embeddings.forward(p, in)
	for _, l := range m.layers {
		x = l.forward(p, x, mask, bias)
	}
	return x
}

// Pooler returns MPNetPooler's output [B, H] (dense + tanh on <s>), or nil
// when the checkpoint stores no pooler.
func (m *MPNetModel) Pooler(p Params, hidden *Node) *Node {
	return m.pooler.forward(p, hidden)
}

// Info implements Encoder.
func (m *MPNetModel) Info() Info {
	return Info{
		Architecture:   m.arch,
		HiddenSize:     m.cfg.HiddenSize,
		MaxPositions:   m.cfg.MaxPositionEmbeddings - mpnetPositionOffset,
		PositionOffset: mpnetPositionOffset,
	}
}

func init() {
	for _, name := range []string{"MPNetModel", "MPNetForMaskedLM"} {
		Register(func(config []byte, w *Weights) (Encoder, error) {
			return NewMPNetModel(config, w, name)
		}, name)
	}
}
