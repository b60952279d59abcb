package arch

// Rotary position embeddings (Su et al., 2021, "RoFormer: Enhanced Transformer
// with Rotary Position Embedding") in the rotate-half layout of Hugging Face
// transformers (GPT-NeoX style): *RotaryEmbedding.forward builds
// cos/sin = cos/sin(cat(freqs, freqs)) with freqs = position · inv_freq, and
// apply_rotary_pos_emb computes x·cos + rotate_half(x)·sin.
//
// inv_freq is a parameter: the default rule is ropeInvFreq; scaled variants
// (NTK, YaRN, …) compute their own table and pass it to newRotary.

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
)

// ropeInvFreq is the default RoPE table: 1 / base^(2i/dim) for i < dim/2.
func ropeInvFreq(dim int, base float64) []float64 {
	inv := make([]float64, dim/2)
	for i := range inv {
		inv[i] = 1 / math.Pow(base, float64(2*i)/float64(dim))
	}
	return inv
}

// rotary applies RoPE to the first 2·len(invFreq) features of every head;
// the remaining features (partial rotary) pass through unchanged.
type rotary struct {
	invFreq []float64
}

// newRotary builds RoPE from an inverse-frequency table.
func newRotary(invFreq []float64) rotary { return rotary{invFreq: invFreq} }

// dim is the number of rotated features per head.
func (r rotary) dim() int { return 2 * len(r.invFreq) }

// cosSin maps position ids [B, T] (int) to cos and sin [B, T, 1, dim] in
// float32, broadcastable over the heads axis of [B, T, heads, headDim].
// The angles are computed in float32 as upstream does.
func (r rotary) cosSin(positions *Node) (cos, sin *Node) {
	g := positions.Graph()
	inv := make([]float32, 0, r.dim())
	for range 2 { // cat(freqs, freqs)
		for _, f := range r.invFreq {
			inv = append(inv, float32(f))
		}
	}
	pos := InsertAxes(ConvertDType(positions, dtypes.Float32), -1, -1) // [B, T, 1, 1]
	freqs := Mul(pos, Reshape(Const(g, inv), 1, 1, 1, len(inv)))       // [B, T, 1, dim]
	return Cos(freqs), Sin(freqs)
}

// apply rotates x [B, T, heads, headDim] with cos, sin from cosSin.
func (r rotary) apply(x, cos, sin *Node) *Node {
	d := x.Shape().Dimensions[3]
	rd := r.dim()
	rot, pass := x, (*Node)(nil)
	if rd < d {
		rot = SliceAxis(x, 3, AxisRange(0, rd))
		pass = SliceAxis(x, 3, AxisRange(rd, d))
	}
	x1 := SliceAxis(rot, 3, AxisRange(0, rd/2))
	x2 := SliceAxis(rot, 3, AxisRange(rd/2, rd))
	half := Concatenate([]*Node{Neg(x2), x1}, 3) // rotate_half
	out := Add(Mul(rot, cos), Mul(half, sin))
	if pass != nil {
		out = Concatenate([]*Node{out, pass}, 3)
	}
	return out
}

// ropeScaling is config.json's rope_scaling (or, in newer configs,
// rope_parameters). Only the unscaled "default" rule is implemented here.
type ropeScaling struct {
	Type      string   `json:"type"`
	RopeType  string   `json:"rope_type"`
	RopeTheta *float64 `json:"rope_theta"`
}

// checkRopeScaling accepts a null/absent rope_scaling or the "default" type
// and rejects every scaled variant (or any other key) with a clear error.
func checkRopeScaling(raw json.RawMessage) (*ropeScaling, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s ropeScaling
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("config: rope_scaling: %w", err)
	}
	_ = json.Unmarshal(raw, &keys)
	kind := s.RopeType
	if kind == "" {
		kind = s.Type
	}
	if kind != "" && kind != "default" {
		return nil, fmt.Errorf("config: rope scaling type %q is not supported (only unscaled \"default\" RoPE)", kind)
	}
	for k := range keys {
		if k != "type" && k != "rope_type" && k != "rope_theta" {
			return nil, fmt.Errorf("config: rope scaling setting %q is not supported (only unscaled \"default\" RoPE)", k)
		}
	}
	return &s, nil
}
