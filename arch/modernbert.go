package arch

// ModernBERT (Warner et al., 2024, "Smarter, Better, Faster, Longer: A Modern
// Bidirectional Encoder for Fast, Memory Efficient, and Long Context
// Finetuning and Inference"), mirroring Hugging Face transformers'
// models/modernbert/modeling_modernbert.py (eager path) block by block:
// ModernBertEmbeddings, ModernBertAttention (fused Wqkv, RoPE, global or
// sliding-window attention), ModernBertMLP (gated), ModernBertEncoderLayer
// (pre-norm), ModernBertModel (final_norm), ModernBertPredictionHead.

import (
	"encoding/json"
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// ModernBertConfig is the subset of a ModernBERT config.json the graph
// depends on.
type ModernBertConfig struct {
	VocabSize              int                        `json:"vocab_size"`
	HiddenSize             int                        `json:"hidden_size"`
	IntermediateSize       int                        `json:"intermediate_size"`
	NumHiddenLayers        int                        `json:"num_hidden_layers"`
	NumAttentionHeads      int                        `json:"num_attention_heads"`
	HiddenActivation       string                     `json:"hidden_activation"`
	MaxPositionEmbeddings  int                        `json:"max_position_embeddings"`
	NormEps                float64                    `json:"norm_eps"`
	NormBias               bool                       `json:"norm_bias"`
	AttentionBias          bool                       `json:"attention_bias"`
	MLPBias                bool                       `json:"mlp_bias"`
	GlobalAttnEveryNLayers int                        `json:"global_attn_every_n_layers"`
	LocalAttention         int                        `json:"local_attention"`
	GlobalRopeTheta        float64                    `json:"global_rope_theta"`
	LocalRopeTheta         *float64                   `json:"local_rope_theta"`
	ClassifierPooling      string                     `json:"classifier_pooling"`
	ClassifierActivation   string                     `json:"classifier_activation"`
	ClassifierBias         bool                       `json:"classifier_bias"`
	LayerTypes             []string                   `json:"layer_types"`
	RopeScaling            json.RawMessage            `json:"rope_scaling"`
	RopeParameters         map[string]json.RawMessage `json:"rope_parameters"`
}

// isGlobal reports whether layer i attends globally (layer_id %
// global_attn_every_n_layers == 0), else it uses the sliding window.
func (c *ModernBertConfig) isGlobal(i int) bool { return i%c.GlobalAttnEveryNLayers == 0 }

// ropeTheta is the RoPE base of layer i: global_rope_theta on global layers,
// local_rope_theta (falling back to the global one) on local layers.
func (c *ModernBertConfig) ropeTheta(i int) float64 {
	if !c.isGlobal(i) && c.LocalRopeTheta != nil {
		return *c.LocalRopeTheta
	}
	return c.GlobalRopeTheta
}

func (c *ModernBertConfig) validate() error {
	// Newer configs (transformers v5) give the RoPE bases per layer type.
	for kind, raw := range c.RopeParameters {
		s, err := checkRopeScaling(raw)
		if err != nil {
			return fmt.Errorf("%w (rope_parameters[%q])", err, kind)
		}
		if s == nil || s.RopeTheta == nil {
			continue
		}
		switch kind {
		case "full_attention":
			c.GlobalRopeTheta = *s.RopeTheta
		case "sliding_attention":
			c.LocalRopeTheta = s.RopeTheta
		default:
			return fmt.Errorf("config: rope_parameters for layer type %q are not supported", kind)
		}
	}
	switch {
	case c.HiddenSize <= 0, c.NumHiddenLayers <= 0, c.NumAttentionHeads <= 0, c.IntermediateSize <= 0:
		return fmt.Errorf("config: hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive")
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("config: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	case (c.HiddenSize/c.NumAttentionHeads)%2 != 0:
		return fmt.Errorf("config: head size %d must be even for RoPE", c.HiddenSize/c.NumAttentionHeads)
	case c.GlobalAttnEveryNLayers <= 0:
		return fmt.Errorf("config: global_attn_every_n_layers must be positive")
	case c.LocalAttention <= 0:
		return fmt.Errorf("config: local_attention must be positive")
	case c.GlobalRopeTheta <= 0 || (c.LocalRopeTheta != nil && *c.LocalRopeTheta <= 0):
		return fmt.Errorf("config: global_rope_theta and local_rope_theta must be positive")
	case c.MaxPositionEmbeddings <= 0:
		return fmt.Errorf("config: max_position_embeddings must be positive")
	}
	if _, err := checkRopeScaling(c.RopeScaling); err != nil {
		return err
	}
	if _, ok := activationByName(c.HiddenActivation); !ok {
		return fmt.Errorf("config: hidden_activation %q is not supported", c.HiddenActivation)
	}
	// Newer configs spell the layer pattern and the RoPE bases out; they must
	// agree with the rule above.
	if c.LayerTypes != nil {
		if len(c.LayerTypes) != c.NumHiddenLayers {
			return fmt.Errorf("config: layer_types has %d entries for %d layers", len(c.LayerTypes), c.NumHiddenLayers)
		}
		for i, t := range c.LayerTypes {
			want := map[bool]string{true: "full_attention", false: "sliding_attention"}[c.isGlobal(i)]
			if t != want {
				return fmt.Errorf("config: layer_types[%d] is %q, but global_attn_every_n_layers %d makes it %q",
					i, t, c.GlobalAttnEveryNLayers, want)
			}
		}
	}
	return nil
}

func parseModernBertConfig(data []byte) (*ModernBertConfig, error) {
	c := &ModernBertConfig{ // ModernBertConfig's defaults
		HiddenActivation: "gelu", NormEps: 1e-5, GlobalAttnEveryNLayers: 3, LocalAttention: 128,
		GlobalRopeTheta: 160000, MaxPositionEmbeddings: 8192, ClassifierPooling: "cls",
		ClassifierActivation: "gelu",
	}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return c, c.validate()
}

// modernBertEmbeddings: tok_embeddings then norm; no position or type embeddings.
type modernBertEmbeddings struct {
	tok  embedding
	norm layerNorm
}

// forward: ids [B, T] → [B, T, H].
func (e modernBertEmbeddings) forward(p Params, ids *Node) *Node {
	return e.norm.apply(p, e.tok.apply(p, ids))
}

// modernBertLayer is ModernBertEncoderLayer: pre-norm attention (no attn_norm
// on layer 0) and pre-norm gated MLP, each with a residual.
type modernBertLayer struct {
	attnNorm *layerNorm // nil on layer 0 (nn.Identity)
	wqkv, wo linear
	mlpNorm  layerNorm
	wi, mlpO linear
	heads    int
	global   bool
	rope     rotary
	act      activation.Type
}

func takeModernBertLayer(w *Weights, c *ModernBertConfig, i int) modernBertLayer {
	pre := fmt.Sprintf("layers.%d.", i)
	h, inter := c.HiddenSize, c.IntermediateSize
	act, _ := activationByName(c.HiddenActivation)
	l := modernBertLayer{
		wqkv:    takeLinear(w, pre+"attn.Wqkv", h, 3*h, c.AttentionBias),
		wo:      takeLinear(w, pre+"attn.Wo", h, h, c.AttentionBias),
		mlpNorm: takeLayerNorm(w, pre+"mlp_norm", h, c.NormEps, c.NormBias),
		wi:      takeLinear(w, pre+"mlp.Wi", h, 2*inter, c.MLPBias),
		mlpO:    takeLinear(w, pre+"mlp.Wo", inter, h, c.MLPBias),
		heads:   c.NumAttentionHeads,
		global:  c.isGlobal(i),
		rope:    newRotary(ropeInvFreq(h/c.NumAttentionHeads, c.ropeTheta(i))),
		act:     act,
	}
	if i > 0 {
		n := takeLayerNorm(w, pre+"attn_norm", h, c.NormEps, c.NormBias)
		l.attnNorm = &n
	}
	return l
}

// attention is ModernBertAttention: x [B, T, H] → [B, T, H].
func (l modernBertLayer) attention(p Params, x, positions, mask *Node) *Node {
	qkv := l.wqkv.apply(p, x) // [B, T, 3H], laid out (3, heads, d)
	h := qkv.Shape().Dimensions[2] / 3
	q := splitHeads(SliceAxis(qkv, 2, AxisRange(0, h)), l.heads) // [B, T, heads, d]
	k := splitHeads(SliceAxis(qkv, 2, AxisRange(h, 2*h)), l.heads)
	v := splitHeads(SliceAxis(qkv, 2, AxisRange(2*h, 3*h)), l.heads)
	cos, sin := l.rope.cosSin(positions)
	q, k = l.rope.apply(q, cos, sin), l.rope.apply(k, cos, sin)
	return l.wo.apply(p, selfAttention(q, k, v, mask)) // [B, T, H]
}

// mlp is ModernBertMLP: Wi → (input, gate) → act(input)·gate → Wo.
func (l modernBertLayer) mlp(p Params, x *Node) *Node {
	wi := l.wi.apply(p, x) // [B, T, 2I]
	inter := wi.Shape().Dimensions[2] / 2
	input := SliceAxis(wi, 2, AxisRange(0, inter))
	gate := SliceAxis(wi, 2, AxisRange(inter, 2*inter))
	return l.mlpO.apply(p, Mul(activation.Apply(l.act, input), gate)) // [B, T, H]
}

// forward: x [B, T, H] → [B, T, H]; the layer picks its global or local mask.
func (l modernBertLayer) forward(p Params, x, positions, globalMask, localMask *Node) *Node {
	mask := localMask
	if l.global {
		mask = globalMask
	}
	normed := x
	if l.attnNorm != nil {
		normed = l.attnNorm.apply(p, x)
	}
	x = Add(x, l.attention(p, normed, positions, mask))
	return Add(x, l.mlp(p, l.mlpNorm.apply(p, x)))
}

// ModernBertModel is the bare encoder.
type ModernBertModel struct {
	cfg        *ModernBertConfig
	embeddings modernBertEmbeddings
	layers     []modernBertLayer
	finalNorm  layerNorm
	arch       string
}

// NewModernBertModel takes ModernBERT's tensors from w (under an optional
// "model." prefix, as task checkpoints store them).
func NewModernBertModel(config []byte, w *Weights) (*ModernBertModel, error) {
	c, err := parseModernBertConfig(config)
	if err != nil {
		return nil, err
	}
	w.ResolvePrefix("embeddings.tok_embeddings.weight", "", "model.")
	m := &ModernBertModel{
		cfg: c,
		embeddings: modernBertEmbeddings{
			tok:  takeEmbedding(w, "embeddings.tok_embeddings", -1, c.HiddenSize),
			norm: takeLayerNorm(w, "embeddings.norm", c.HiddenSize, c.NormEps, c.NormBias),
		},
		arch: "ModernBertModel",
	}
	for i := 0; i < c.NumHiddenLayers; i++ {
		m.layers = append(m.layers, takeModernBertLayer(w, c, i))
	}
	m.finalNorm = takeLayerNorm(w, "final_norm", c.HiddenSize, c.NormEps, c.NormBias)
	return m, nil
}

// Forward runs ModernBertModel: [B, T] inputs → last hidden states [B, T, H].
// Global layers see their whole segment; local layers see ±local_attention/2
// tokens of it.
func (m *ModernBertModel) Forward(p Params, in Inputs) *Node {
	globalMask := segmentMask(in.Segments)
	localMask := windowSegmentMask(in.Segments, m.cfg.LocalAttention/2)
	x := m.embeddings.forward(p, in.IDs)
	for _, l := range m.layers {
		x = l.forward(p, x, in.Positions, globalMask, localMask)
	}
	return m.finalNorm.apply(p, x)
}

// Info implements Encoder.
func (m *ModernBertModel) Info() Info {
	return Info{Architecture: m.arch, HiddenSize: m.cfg.HiddenSize, MaxPositions: m.cfg.MaxPositionEmbeddings}
}

func init() {
	Register(func(config []byte, w *Weights) (Encoder, error) {
		return NewModernBertModel(config, w)
	}, "ModernBertModel")
	// The raw pre-training checkpoints (answerdotai/ModernBERT-base, -large)
	// serve as encoders: the masked-LM head (head.dense, head.norm, decoder)
	// is not part of an embedding and is ignored.
	Register(func(config []byte, w *Weights) (Encoder, error) {
		m, err := NewModernBertModel(config, w)
		if err != nil {
			return nil, err
		}
		for _, n := range []string{"head.dense.weight", "head.dense.bias", "head.norm.weight", "head.norm.bias", "decoder.weight", "decoder.bias"} {
			w.IgnoreExact(n)
		}
		m.arch = "ModernBertForMaskedLM"
		return m, nil
	}, "ModernBertForMaskedLM")
}
