package arch

// NomicBERT (Nussbaum et al., 2024, "Nomic Embed: Training a Reproducible
// Long Context Text Embedder"): a post-norm BERT with rotary position
// embeddings, a fused Wqkv projection and a SwiGLU feed-forward. It mirrors
// the remote code of the hub repository nomic-ai/nomic-bert-2048,
// modeling_hf_nomic_bert.py (developed in nomic-ai/contrastors,
// src/contrastors/models/huggingface/, read at 496a0593):
// NomicBertEmbeddings, NomicBertAttention, NomciBertGatedMLP / NomicBertMLP,
// NomicBertBlock, NomicBertEncoder, NomicBertModel. This is the
// nomic-embed-text-v1 / v1.5 family. Its config uses GPT-2 key names
// (n_embd, n_head, n_layer, n_inner, n_positions).

import (
	"encoding/json"
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// NomicBertConfig is the subset of a NomicBERT config.json the graph depends
// on, plus the switches whose non-default values select code paths that are
// not implemented (and are rejected by validate).
type NomicBertConfig struct {
	NEmbd                int      `json:"n_embd"`
	NHead                int      `json:"n_head"`
	NLayer               int      `json:"n_layer"`
	NInner               *int     `json:"n_inner"`
	NPositions           int      `json:"n_positions"`
	TypeVocabSize        int      `json:"type_vocab_size"`
	LayerNormEpsilon     float64  `json:"layer_norm_epsilon"`
	ActivationFunction   string   `json:"activation_function"`
	QKVProjBias          bool     `json:"qkv_proj_bias"`
	MLPFc1Bias           bool     `json:"mlp_fc1_bias"`
	MLPFc2Bias           bool     `json:"mlp_fc2_bias"`
	RotaryEmbFraction    float64  `json:"rotary_emb_fraction"`
	RotaryEmbBase        float64  `json:"rotary_emb_base"`
	RotaryEmbInterleaved bool     `json:"rotary_emb_interleaved"`
	RotaryEmbScaleBase   *float64 `json:"rotary_emb_scale_base"`
	RotaryScalingFactor  *float64 `json:"rotary_scaling_factor"`
	MaxTrainedPositions  int      `json:"max_trained_positions"`

	Prenorm         bool `json:"prenorm"`
	ParallelBlock   bool `json:"parallel_block"`
	UseRMSNorm      bool `json:"use_rms_norm"`
	Causal          bool `json:"causal"`
	NormMLP         bool `json:"norm_mlp"`
	NumHeadsKV      *int `json:"num_heads_kv"`
	MoeEveryNLayers int  `json:"moe_every_n_layers"`
}

// gated reports whether the MLP is NomciBertGatedMLP (fc11, fc12, fc2).
func (c *NomicBertConfig) gated() bool {
	switch c.ActivationFunction {
	case "glu", "swiglu", "geglu":
		return true
	}
	return false
}

// intermediate is the MLP width: n_inner (default 4H, or 8H/3 when gated),
// rounded up to a multiple of 256 for the gated MLP as upstream does.
func (c *NomicBertConfig) intermediate() int {
	if !c.gated() {
		if c.NInner != nil {
			return *c.NInner
		}
		return 4 * c.NEmbd
	}
	n := 8 * c.NEmbd / 3
	if c.NInner != nil {
		n = *c.NInner
	}
	return (n + 255) / 256 * 256
}

func (c *NomicBertConfig) headDim() int { return c.NEmbd / c.NHead }

// rotaryDim is head_dim · rotary_emb_fraction, 0 for absolute positions.
func (c *NomicBertConfig) rotaryDim() int { return int(float64(c.headDim()) * c.RotaryEmbFraction) }

func (c *NomicBertConfig) validate() error {
	switch {
	case c.NEmbd <= 0, c.NHead <= 0, c.NLayer <= 0:
		return fmt.Errorf("config: n_embd, n_head and n_layer must be positive")
	case c.NEmbd%c.NHead != 0:
		return fmt.Errorf("config: n_embd %d is not a multiple of n_head %d", c.NEmbd, c.NHead)
	case c.NInner != nil && *c.NInner <= 0:
		return fmt.Errorf("config: n_inner must be positive")
	case c.RotaryEmbFraction < 0 || c.RotaryEmbFraction > 1:
		return fmt.Errorf("config: rotary_emb_fraction %g is out of [0, 1]", c.RotaryEmbFraction)
	case c.RotaryEmbFraction > 0 && (c.rotaryDim() == 0 || c.rotaryDim()%2 != 0):
		return fmt.Errorf("config: rotary_emb_fraction %g gives an odd or empty rotary dimension", c.RotaryEmbFraction)
	case c.RotaryEmbFraction > 0 && c.RotaryEmbBase <= 0:
		return fmt.Errorf("config: rotary_emb_base must be positive")
	case c.RotaryEmbFraction == 0 && c.NPositions <= 0:
		return fmt.Errorf("config: n_positions must be positive for absolute position embeddings")
	case c.RotaryEmbInterleaved:
		return fmt.Errorf("config: rotary_emb_interleaved true (GPT-J rotary) is not supported")
	case c.RotaryEmbScaleBase != nil:
		return fmt.Errorf("config: rotary_emb_scale_base (xPos) is not supported")
	case c.RotaryScalingFactor != nil && *c.RotaryScalingFactor != 0 && c.MaxTrainedPositions <= 0:
		return fmt.Errorf("config: rotary_scaling_factor needs a positive max_trained_positions")
	case c.TypeVocabSize < 0:
		return fmt.Errorf("config: type_vocab_size must not be negative")
	case c.Prenorm:
		return fmt.Errorf("config: prenorm NomicBert is not supported (only post-norm)")
	case c.ParallelBlock:
		return fmt.Errorf("config: parallel_block NomicBert is not supported")
	case c.UseRMSNorm:
		return fmt.Errorf("config: use_rms_norm NomicBert is not supported")
	case c.Causal:
		return fmt.Errorf("config: causal NomicBert is not supported")
	case c.NormMLP:
		return fmt.Errorf("config: norm_mlp NomicBert is not supported")
	case c.NumHeadsKV != nil && *c.NumHeadsKV != c.NHead:
		return fmt.Errorf("config: num_heads_kv %d ≠ n_head %d is not supported", *c.NumHeadsKV, c.NHead)
	case c.MoeEveryNLayers > 0:
		return fmt.Errorf("config: mixture-of-experts NomicBert (moe_every_n_layers) is not supported")
	}
	switch c.ActivationFunction {
	case "glu", "swiglu", "geglu", "gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh":
	default:
		return fmt.Errorf("config: activation_function %q is not supported", c.ActivationFunction)
	}
	return nil
}

func parseNomicBertConfig(data []byte) (*NomicBertConfig, error) {
	// Defaults of NomicBertConfig and its base GPT2Config.
	c := &NomicBertConfig{NEmbd: 768, NHead: 12, NLayer: 12, NPositions: 1024, TypeVocabSize: 2,
		LayerNormEpsilon: 1e-5, ActivationFunction: "gelu_new", QKVProjBias: true, MLPFc1Bias: true,
		MLPFc2Bias: true, RotaryEmbBase: 10000, MaxTrainedPositions: 2048}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return c, c.validate()
}

// takeNomicBertEmbeddings builds NomicBertEmbeddings: word + token type (+ absolute position when there is
// no rotary), then emb_ln.
func takeNomicBertEmbeddings(w *Weights, c *NomicBertConfig) sumEmbeddings {
	e := sumEmbeddings{
		word: takeEmbedding(w, "embeddings.word_embeddings", -1, c.NEmbd),
		norm: takeLayerNorm(w, "emb_ln", c.NEmbd, c.LayerNormEpsilon, true),
	}
	if c.TypeVocabSize > 0 {
		e.tokenType = takeEmbedding(w, "embeddings.token_type_embeddings", c.TypeVocabSize, c.NEmbd)
		e.hasTokenType = true
	}
	if c.RotaryEmbFraction == 0 {
		e.position = takeEmbedding(w, "embeddings.position_embeddings", c.NPositions, c.NEmbd)
		e.hasPositions = true
	}
	return e
}

// nomicBertBlock is the post-norm NomicBertBlock:
// h = norm1(h + out_proj(attn(h))), then h = norm2(h + mlp(h)), where the
// gated MLP is fc2(fc11(h) · act(fc12(h))) (fc12 is the gate) and the plain
// one fc2(gelu(fc1(h))).
type nomicBertBlock struct {
	wqkv, outProj   linear
	norm1, norm2    layerNorm
	gated           bool
	fc11, fc12, fc1 linear
	fc2             linear
	act             activation.Type
	heads, hidden   int
}

func takeNomicBertBlock(w *Weights, c *NomicBertConfig, i int) nomicBertBlock {
	pre := fmt.Sprintf("encoder.layers.%d.", i)
	h, in := c.NEmbd, c.intermediate()
	b := nomicBertBlock{
		wqkv:    takeLinear(w, pre+"attn.Wqkv", h, 3*h, c.QKVProjBias),
		outProj: takeLinear(w, pre+"attn.out_proj", h, h, c.QKVProjBias),
		norm1:   takeLayerNorm(w, pre+"norm1", h, c.LayerNormEpsilon, true),
		norm2:   takeLayerNorm(w, pre+"norm2", h, c.LayerNormEpsilon, true),
		gated:   c.gated(),
		fc2:     takeLinear(w, pre+"mlp.fc2", in, h, c.MLPFc2Bias),
		act:     activation.TypeGelu, // F.gelu (exact) for every non-GLU variant and for geglu
		heads:   c.NHead,
		hidden:  h,
	}
	switch c.ActivationFunction {
	case "swiglu":
		b.act = activation.TypeSilu
	case "glu":
		b.act = activation.TypeSigmoid
	}
	if b.gated {
		b.fc11 = takeLinear(w, pre+"mlp.fc11", h, in, c.MLPFc1Bias)
		b.fc12 = takeLinear(w, pre+"mlp.fc12", h, in, c.MLPFc1Bias)
	} else {
		b.fc1 = takeLinear(w, pre+"mlp.fc1", h, in, c.MLPFc1Bias)
	}
	return b
}

// forward: x [B, T, H], mask [B, T, 1, T], rotary cos/sin [B, T, 1, rd]
// (nil without rotary) → [B, T, H].
func (b nomicBertBlock) forward(p Params, x, mask *Node, rope *rotary, cos, sin *Node) *Node {
	qkv := b.wqkv.apply(p, x) // [B, T, 3H]: q, k, v blocks of H
	q := splitHeads(SliceAxis(qkv, -1, AxisRange(0, b.hidden)), b.heads)
	k := splitHeads(SliceAxis(qkv, -1, AxisRange(b.hidden, 2*b.hidden)), b.heads)
	v := splitHeads(SliceAxis(qkv, -1, AxisRange(2*b.hidden, 3*b.hidden)), b.heads)
	if rope != nil {
		q, k = rope.apply(q, cos, sin), rope.apply(k, cos, sin)
	}
	ctx := selfAttention(q, k, v, mask) // [B, T, H]
	x = b.norm1.apply(p, Add(b.outProj.apply(p, ctx), x))
	var y *Node
	if b.gated {
		y = Mul(b.fc11.apply(p, x), b.fc12.apply(p, x, b.act)) // [B, T, I]
	} else {
		y = b.fc1.apply(p, x, b.act)
	}
	return b.norm2.apply(p, Add(b.fc2.apply(p, y), x))
}

// NomicBertModel is the bare encoder (upstream builds it without a pooler).
type NomicBertModel struct {
	cfg        *NomicBertConfig
	embeddings sumEmbeddings
	rope       *rotary // nil for absolute positions
	layers     []nomicBertBlock
	arch       string
}

// NewNomicBertModel takes NomicBERT's tensors from w (bare names, or under
// "bert." for NomicBertForPreTraining checkpoints, whose MLM head is ignored).
func NewNomicBertModel(config []byte, w *Weights, arch string) (*NomicBertModel, error) {
	c, err := parseNomicBertConfig(config)
	if err != nil {
		return nil, err
	}
	w.ResolvePrefix("embeddings.word_embeddings.weight", "", "bert.")
	m := &NomicBertModel{cfg: c, embeddings: takeNomicBertEmbeddings(w, c), arch: arch}
	if rd := c.rotaryDim(); rd > 0 {
		// positions 0..L−1 within each sequence; inv_freq = base^(−2i/rd).
		r := newRotary(ropeInvFreq(rd, c.RotaryEmbBase))
		m.rope = &r
	}
	for i := 0; i < c.NLayer; i++ {
		m.layers = append(m.layers, takeNomicBertBlock(w, c, i))
	}
	// NomicBertModel is built with add_pooling_layer=False; the pre-training
	// head is not part of the encoder.
	w.Ignore("pooler.dense.weight", "pooler.dense.bias")
	w.IgnoreExact("cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
		"cls.predictions.transform.layer_norm.weight", "cls.predictions.transform.layer_norm.bias",
		"cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
	return m, nil
}

// Forward runs NomicBertModel: [B, T] inputs → last hidden states [B, T, H].
func (m *NomicBertModel) Forward(p Params, in Inputs) *Node {
	mask := segmentMask(in.Segments)
	var cos, sin *Node
	if m.rope != nil {
		cos, sin = m.rope.cosSin(in.Positions) // [B, T, 1, rd]
	}
	x := m.embeddings.forward(p, in)
	for _, l := range m.layers {
		x = l.forward(p, x, mask, m.rope, cos, sin)
	}
	return x
}

// Info implements Encoder.
func (m *NomicBertModel) Info() Info {
	c := m.cfg
	maxPos := c.NPositions
	if c.RotaryEmbFraction > 0 && c.RotaryScalingFactor != nil && *c.RotaryScalingFactor != 0 {
		// Upstream's dynamic NTK rescales the frequencies only once a batch
		// is longer than max_trained_positions; below that it is plain RoPE.
		maxPos = c.MaxTrainedPositions
	}
	return Info{
		Architecture:  m.arch,
		HiddenSize:    c.NEmbd,
		MaxPositions:  maxPos,
		TypeVocabSize: c.TypeVocabSize,
	}
}

func init() {
	for _, name := range []string{"NomicBertModel", "NomicBertForPreTraining"} {
		Register(func(config []byte, w *Weights) (Encoder, error) {
			return NewNomicBertModel(config, w, name)
		}, name)
	}
}
