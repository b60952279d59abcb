package arch

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// TensorSource is a checkpoint's tensors by name, as stored.
type TensorSource interface {
	Names() []string
	// Float32 returns a floating-point tensor up-cast to float32 and its shape.
	Float32(name string) ([]float32, []int, error)
}

// Param is one weight taken from a checkpoint, in the layout the graph uses.
type Param struct {
	Name  string // checkpoint name, prefix included
	Shape []int
	Data  []float32
}

// Weights hands tensors of a checkpoint to an architecture and keeps the
// books for strict loading: every tensor asked for must exist with the
// expected shape, and every stored tensor must be used or explicitly ignored.
// All problems are reported together by Check.
type Weights struct {
	src      TensorSource
	prefix   string
	stored   map[string]bool
	used     map[string]bool
	ignored  map[string]bool
	params   []Param
	problems []string
}

// NewWeights wraps a tensor source.
func NewWeights(src TensorSource) *Weights {
	w := &Weights{src: src, stored: map[string]bool{}, used: map[string]bool{}, ignored: map[string]bool{}}
	for _, n := range src.Names() {
		w.stored[n] = true
	}
	return w
}

// ResolvePrefix picks, once, the prefix under which the checkpoint stores the
// bare model: the first of prefixes for which probe exists ("" included).
// Task checkpoints store `bert.embeddings…`, bare ones `embeddings…`.
func (w *Weights) ResolvePrefix(probe string, prefixes ...string) {
	for _, p := range prefixes {
		if w.stored[p+probe] {
			w.prefix = p
			return
		}
	}
}

// Prefix is the prefix chosen by ResolvePrefix.
func (w *Weights) Prefix() string { return w.prefix }

// Has reports whether the checkpoint stores name (under the prefix).
func (w *Weights) Has(name string) bool { return w.stored[w.prefix+name] }

// HasExact reports whether the checkpoint stores name, without prefix.
func (w *Weights) HasExact(name string) bool { return w.stored[name] }

// Take records that the model needs name (under the resolved prefix) with the
// given shape (-1 matches any size) and returns its index in Params.
func (w *Weights) Take(name string, shape ...int) int {
	return w.TakeExact(w.prefix+name, shape...)
}

// TakeExact is Take without the prefix.
func (w *Weights) TakeExact(full string, shape ...int) int {
	return w.TakeTransformed(full, shape, nil)
}

// TakeTransformed is TakeExact with a host-side transformation of the data
// (for example a transpose), applied after the shape check; it returns the new
// shape and data.
func (w *Weights) TakeTransformed(full string, shape []int, fn func(data []float32, shape []int) ([]float32, []int)) int {
	idx := len(w.params)
	w.params = append(w.params, Param{Name: full, Shape: shape})
	if !w.stored[full] {
		w.problems = append(w.problems, "missing tensor "+full)
		return idx
	}
	w.used[full] = true
	data, got, err := w.src.Float32(full)
	if err != nil {
		w.problems = append(w.problems, fmt.Sprintf("tensor %s: %v", full, err))
		return idx
	}
	if !shapeMatches(got, shape) {
		w.problems = append(w.problems, fmt.Sprintf("tensor %s has shape %v, want %v", full, got, shape))
		return idx
	}
	// A corrupt download or a diverged training run must not serve NaN
	// vectors: refuse it here, by name, rather than on every call.
	if i, v, bad := firstNonFinite(data); bad {
		w.problems = append(w.problems, fmt.Sprintf("tensor %s holds %v at element %d", full, v, i))
		return idx
	}
	if fn != nil {
		data, got = fn(data, got)
	}
	w.params[idx] = Param{Name: full, Shape: got, Data: data}
	return idx
}

// Ignore marks stored tensors (under the prefix) as deliberately unused.
func (w *Weights) Ignore(names ...string) {
	for _, n := range names {
		w.ignored[w.prefix+n] = true
	}
}

// IgnoreExact marks stored tensors (full names) as deliberately unused.
func (w *Weights) IgnoreExact(names ...string) {
	for _, n := range names {
		w.ignored[n] = true
	}
}

// Check reports, in one error, every missing, malformed or unused tensor.
func (w *Weights) Check() error {
	problems := slices.Clone(w.problems)
	var unused []string
	for n := range w.stored {
		if !w.used[n] && !w.ignored[n] {
			unused = append(unused, n)
		}
	}
	sort.Strings(unused)
	for _, n := range unused {
		problems = append(problems, "unexpected tensor "+n)
	}
	if len(problems) == 0 {
		return nil
	}
	return &LoadError{Problems: problems}
}

// Params returns the taken weights in Take order.
func (w *Weights) Params() []Param { return w.params }

// LoadError lists everything wrong with a checkpoint's tensors.
type LoadError struct{ Problems []string }

// ErrWeights is matched by every *LoadError.
var ErrWeights = errors.New("checkpoint tensors do not match the architecture")

func (e *LoadError) Error() string {
	const show = 20
	msg := fmt.Sprintf("%d problem(s) with the checkpoint's tensors: ", len(e.Problems))
	if len(e.Problems) > show {
		return msg + strings.Join(e.Problems[:show], "; ") + fmt.Sprintf("; … and %d more", len(e.Problems)-show)
	}
	return msg + strings.Join(e.Problems, "; ")
}

// Is makes errors.Is(err, ErrWeights) true.
func (e *LoadError) Is(target error) bool { return target == ErrWeights }

func shapeMatches(got, want []int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if want[i] >= 0 && got[i] != want[i] {
			return false
		}
	}
	return true
}

// Transpose2D turns an [out, in] Linear weight into [in, out], the layout the
// graph multiplies with (faster on the CPU backends).
func Transpose2D(data []float32, shape []int) ([]float32, []int) {
	rows, cols := shape[0], shape[1]
	out := make([]float32, len(data))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = data[r*cols+c]
		}
	}
	return out, []int{cols, rows}
}

// firstNonFinite finds the first NaN or infinite value.
func firstNonFinite(data []float32) (int, float32, bool) {
	for i, v := range data {
		// v-v is 0 for finite v and NaN for NaN and ±Inf.
		if v-v != 0 {
			return i, v, true
		}
	}
	return 0, 0, false
}
