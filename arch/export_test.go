package arch

import . "github.com/gomlx/gomlx/core/graph"

// WithSwappedMask returns a Qwen encoder that runs with the other attention
// mask than its config asks for: a causal model attends bidirectionally
// within each segment, and the reverse. Tests compare it with the model its
// config makes.
func WithSwappedMask(enc Encoder) Encoder {
	m := enc.(*QwenModel)
	fn := causalSegmentMask
	if m.cfg.Causal() {
		fn = segmentMask
	}
	return swappedMask{m, fn}
}

type swappedMask struct {
	*QwenModel
	fn func(*Node) *Node
}

func (s swappedMask) Forward(p Params, in Inputs) *Node { return s.forward(p, in, s.fn) }
