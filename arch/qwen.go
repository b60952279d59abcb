package arch

// Qwen2 (Yang et al., 2024, "Qwen2 Technical Report") and Qwen3 (Yang et al.,
// 2025, "Qwen3 Technical Report") decoders used as text encoders (gte-Qwen2,
// Qwen3-Embedding), mirroring Hugging Face transformers'
// models/qwen2/modeling_qwen2.py and models/qwen3/modeling_qwen3.py block by
// block: embed_tokens, Qwen2Attention / Qwen3Attention (grouped-query, RoPE,
// causal; Qwen2 has q/k/v biases, Qwen3 per-head q_norm/k_norm before RoPE),
// Qwen2MLP (SiLU-gated), Qwen2DecoderLayer (pre-RMSNorm), the final norm.
//
// Position ids restart at 0 in every packed segment; upstream uses 0..L−1
// per row even with left padding, which RoPE (relative) makes equivalent.
//
// Attention is causal unless config.json says "is_causal": false, as
// gte-Qwen2-*-instruct does: that repository's own modeling_qwen.py (the
// remote code its config's auto_map names) reads the flag and, since its
// commit 2c527fb, attends bidirectionally; text-embeddings-inference honours
// it too (its PR #762). Bidirectional attention still stays inside each
// packed segment and never sees padding. transformers' built-in Qwen2Model
// ignores the flag.

import (
	"encoding/json"
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// QwenConfig is the subset of a Qwen2 / Qwen3 config.json the graph depends on.
type QwenConfig struct {
	VocabSize             int             `json:"vocab_size"`
	HiddenSize            int             `json:"hidden_size"`
	IntermediateSize      int             `json:"intermediate_size"`
	NumHiddenLayers       int             `json:"num_hidden_layers"`
	NumAttentionHeads     int             `json:"num_attention_heads"`
	NumKeyValueHeads      int             `json:"num_key_value_heads"`
	HeadDim               int             `json:"head_dim"`
	HiddenAct             string          `json:"hidden_act"`
	MaxPositionEmbeddings int             `json:"max_position_embeddings"`
	RMSNormEps            float64         `json:"rms_norm_eps"`
	RopeTheta             float64         `json:"rope_theta"`
	RopeScaling           json.RawMessage `json:"rope_scaling"`
	RopeParameters        json.RawMessage `json:"rope_parameters"`
	UseSlidingWindow      bool            `json:"use_sliding_window"`
	LayerTypes            []string        `json:"layer_types"`
	AttentionBias         *bool           `json:"attention_bias"` // Qwen3 only; Qwen2Attention ignores it
	IsCausal              *bool           `json:"is_causal"`      // absent: causal, as upstream

	qwen3 bool // per-head q_norm / k_norm, no fixed q/k/v biases
}

func (c *QwenConfig) validate() error {
	if s, err := checkRopeScaling(c.RopeParameters); err != nil {
		return fmt.Errorf("%w (rope_parameters)", err)
	} else if s != nil && s.RopeTheta != nil {
		c.RopeTheta = *s.RopeTheta
	}
	switch {
	case c.HiddenSize <= 0, c.NumHiddenLayers <= 0, c.NumAttentionHeads <= 0, c.IntermediateSize <= 0:
		return fmt.Errorf("config: hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive")
	case c.NumKeyValueHeads <= 0 || c.NumAttentionHeads%c.NumKeyValueHeads != 0:
		return fmt.Errorf("config: num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
	case c.HeadDim <= 0 || c.HeadDim%2 != 0:
		return fmt.Errorf("config: head_dim %d must be positive and even", c.HeadDim)
	case c.RopeTheta <= 0:
		return fmt.Errorf("config: rope_theta must be positive")
	case c.UseSlidingWindow:
		return fmt.Errorf("config: use_sliding_window true is not supported (only full causal attention)")
	}
	for i, t := range c.LayerTypes {
		if t != "full_attention" {
			return fmt.Errorf("config: layer_types[%d] is %q; only full_attention is supported", i, t)
		}
	}
	if _, err := checkRopeScaling(c.RopeScaling); err != nil {
		return err
	}
	if _, ok := activationByName(c.HiddenAct); !ok {
		return fmt.Errorf("config: hidden_act %q is not supported", c.HiddenAct)
	}
	return nil
}

func parseQwenConfig(data []byte, qwen3 bool) (*QwenConfig, error) {
	c := &QwenConfig{HiddenAct: "silu", RMSNormEps: 1e-6, RopeTheta: 10000, MaxPositionEmbeddings: 32768, qwen3: qwen3}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	if c.NumKeyValueHeads == 0 { // upstream: defaults to num_attention_heads
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if c.HeadDim == 0 && c.NumAttentionHeads > 0 { // Qwen2 has none; Qwen3 falls back likewise
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	return c, c.validate()
}

// qwenLayer is Qwen2DecoderLayer / Qwen3DecoderLayer: pre-RMSNorm
// self-attention and pre-RMSNorm SiLU-gated MLP, each with a residual.
type qwenLayer struct {
	inputNorm, postNorm  rmsNorm
	q, k, v, o           linear
	qNorm, kNorm         *rmsNorm // Qwen3 only, over head_dim
	gate, up, down       linear
	heads, kvHeads, head int
	act                  activation.Type
}

func takeQwenLayer(w *Weights, c *QwenConfig, i int) qwenLayer {
	pre := fmt.Sprintf("layers.%d.", i)
	h, d := c.HiddenSize, c.HeadDim
	qkvBias, oBias := true, false // Qwen2: biases on q, k, v, not on o
	if c.qwen3 {
		qkvBias = c.AttentionBias != nil && *c.AttentionBias // Qwen3: on all four or none
		oBias = qkvBias
	}
	act, _ := activationByName(c.HiddenAct)
	l := qwenLayer{
		inputNorm: takeRMSNorm(w, pre+"input_layernorm", h, c.RMSNormEps),
		q:         takeLinear(w, pre+"self_attn.q_proj", h, c.NumAttentionHeads*d, qkvBias),
		k:         takeLinear(w, pre+"self_attn.k_proj", h, c.NumKeyValueHeads*d, qkvBias),
		v:         takeLinear(w, pre+"self_attn.v_proj", h, c.NumKeyValueHeads*d, qkvBias),
		o:         takeLinear(w, pre+"self_attn.o_proj", c.NumAttentionHeads*d, h, oBias),
		postNorm:  takeRMSNorm(w, pre+"post_attention_layernorm", h, c.RMSNormEps),
		gate:      takeLinear(w, pre+"mlp.gate_proj", h, c.IntermediateSize, false),
		up:        takeLinear(w, pre+"mlp.up_proj", h, c.IntermediateSize, false),
		down:      takeLinear(w, pre+"mlp.down_proj", c.IntermediateSize, h, false),
		heads:     c.NumAttentionHeads,
		kvHeads:   c.NumKeyValueHeads,
		head:      d,
		act:       act,
	}
	if c.qwen3 {
		qn := takeRMSNorm(w, pre+"self_attn.q_norm", d, c.RMSNormEps)
		kn := takeRMSNorm(w, pre+"self_attn.k_norm", d, c.RMSNormEps)
		l.qNorm, l.kNorm = &qn, &kn
	}
	return l
}

// attention is Qwen2Attention / Qwen3Attention: x [B, T, H] → [B, T, H].
func (l qwenLayer) attention(p Params, x, cos, sin *Node, rope rotary, mask *Node) *Node {
	q := splitHeads(l.q.apply(p, x), l.heads)   // [B, T, heads, d]
	k := splitHeads(l.k.apply(p, x), l.kvHeads) // [B, T, kvHeads, d]
	v := splitHeads(l.v.apply(p, x), l.kvHeads)
	if l.qNorm != nil {
		q, k = l.qNorm.apply(p, q), l.kNorm.apply(p, k)
	}
	q, k = rope.apply(q, cos, sin), rope.apply(k, cos, sin)
	return l.o.apply(p, selfAttention(q, k, v, mask)) // grouped-query: kv heads are shared
}

// mlp is Qwen2MLP: down(act(gate(x)) · up(x)).
func (l qwenLayer) mlp(p Params, x *Node) *Node {
	return l.down.apply(p, Mul(l.gate.apply(p, x, l.act), l.up.apply(p, x)))
}

// forward: x [B, T, H] → [B, T, H].
func (l qwenLayer) forward(p Params, x, cos, sin *Node, rope rotary, mask *Node) *Node {
	x = Add(x, l.attention(p, l.inputNorm.apply(p, x), cos, sin, rope, mask))
	return Add(x, l.mlp(p, l.postNorm.apply(p, x)))
}

// QwenModel is the bare Qwen2 / Qwen3 decoder stack (Qwen2Model, Qwen3Model).
type QwenModel struct {
	cfg    *QwenConfig
	embed  embedding
	layers []qwenLayer
	norm   rmsNorm
	rope   rotary
	arch   string
}

// NewQwenModel takes the decoder's tensors from w (under an optional
// "model." prefix, as *ForCausalLM checkpoints store them; their lm_head is
// ignored).
func NewQwenModel(config []byte, w *Weights, arch string, qwen3 bool) (*QwenModel, error) {
	c, err := parseQwenConfig(config, qwen3)
	if err != nil {
		return nil, err
	}
	w.ResolvePrefix("embed_tokens.weight", "", "model.")
	if w.HasExact("lm_head.weight") {
		w.IgnoreExact("lm_head.weight") // the language-model head, unused by an encoder
	}
	m := &QwenModel{
		cfg:   c,
		embed: takeEmbedding(w, "embed_tokens", -1, c.HiddenSize),
		rope:  newRotary(ropeInvFreq(c.HeadDim, c.RopeTheta)),
		arch:  arch,
	}
	for i := 0; i < c.NumHiddenLayers; i++ {
		m.layers = append(m.layers, takeQwenLayer(w, c, i))
	}
	m.norm = takeRMSNorm(w, "norm", c.HiddenSize, c.RMSNormEps)
	return m, nil
}

// Causal reports whether attention is causal (config.json's is_causal, true
// when absent).
func (c *QwenConfig) Causal() bool { return c.IsCausal == nil || *c.IsCausal }

// Forward runs the decoder: [B, T] inputs → last hidden states [B, T, H].
// Attention stays inside each packed segment; it is causal unless the
// config says is_causal: false.
func (m *QwenModel) Forward(p Params, in Inputs) *Node {
	return m.forward(p, in, m.mask)
}

// mask is the attention mask the config asks for: [B, T] segments →
// [B, T, 1, T] additive.
func (m *QwenModel) mask(seg *Node) *Node {
	if m.cfg.Causal() {
		return causalSegmentMask(seg)
	}
	return segmentMask(seg)
}

// forward runs the decoder with the given attention mask.
func (m *QwenModel) forward(p Params, in Inputs, maskFn func(*Node) *Node) *Node {
	mask := maskFn(in.Segments)
	cos, sin := m.rope.cosSin(in.Positions)
	x := m.embed.apply(p, in.IDs)
	for _, l := range m.layers {
		x = l.forward(p, x, cos, sin, m.rope, mask)
	}
	return m.norm.apply(p, x)
}

// Info implements Encoder.
func (m *QwenModel) Info() Info {
	return Info{Architecture: m.arch, HiddenSize: m.cfg.HiddenSize, MaxPositions: m.cfg.MaxPositionEmbeddings}
}

func init() {
	for _, arch := range []string{"Qwen2Model", "Qwen2ForCausalLM"} {
		Register(func(config []byte, w *Weights) (Encoder, error) {
			return NewQwenModel(config, w, arch, false)
		}, arch)
	}
	for _, arch := range []string{"Qwen3Model", "Qwen3ForCausalLM"} {
		Register(func(config []byte, w *Weights) (Encoder, error) {
			return NewQwenModel(config, w, arch, true)
		}, arch)
	}
}
