// Package arch holds the architecture registry (one file per architecture,
// each mirroring its upstream modeling file) and the weight bookkeeping that
// makes loading strict. What sie knows about named models lives in package
// catalog.
//
// An architecture turns a checkpoint's config.json and tensors into a GoMLX
// graph. It never imports the root package; the root package picks an
// architecture with Lookup, builds it with the checkpoint's tensors, and adds
// pooling, normalisation and the output heads around it.
package arch

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	. "github.com/gomlx/gomlx/core/graph"
)

// ErrUnsupported reports a checkpoint whose architecture no registered
// builder serves.
var ErrUnsupported = errors.New("unsupported architecture")

// Inputs are the graph inputs every encoder receives, all int32 and laid out
// [B, T] (rows × tokens per row). A row may hold several packed sequences:
// Segments numbers them 1, 2, … within the row and is 0 on padding, so
// attention stays inside a segment and pooling can read segment boundaries.
// A token numbered −s belongs to segment s as a query only: it attends to
// segment s, but no token attends to it (an attention_mask of 0 on a token
// whose output is still used, as in ColBERT's query expansion).
type Inputs struct {
	IDs       *Node // [B, T] token ids
	TypeIDs   *Node // [B, T] token type ids (0 where the model has none)
	Positions *Node // [B, T] position ids, already offset the way the architecture expects
	Segments  *Node // [B, T] 1-based segment number (negative: query-only token), 0 on padding
}

// Params gives a graph access to the weights taken from a checkpoint, by the
// handle Weights.Take returned.
type Params []*Node

// Encoder is a built architecture: it maps token inputs to hidden states.
type Encoder interface {
	// Forward returns the last hidden states, [B, T, H].
	Forward(p Params, in Inputs) *Node
	// Info describes the encoder to the engine.
	Info() Info
}

// Info is what the engine needs to know about a built encoder.
type Info struct {
	Architecture   string // the registered name that was matched
	HiddenSize     int
	MaxPositions   int // longest sequence the position scheme supports (offset already deducted), 0 = unbounded
	PositionOffset int // added to the 0-based position of each token within its sequence
	TypeVocabSize  int // 0 when the model takes no token types
}

// Builder builds an encoder from a checkpoint's config.json and weights.
// It takes every tensor it needs from w; the caller checks w afterwards.
type Builder func(config []byte, w *Weights) (Encoder, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Builder{}
)

// Register makes a builder available under the Hugging Face
// `architectures` names (and model_type values) it serves.
func Register(b Builder, names ...string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, n := range names {
		if _, dup := registry[n]; dup {
			panic("arch: architecture registered twice: " + n)
		}
		registry[n] = b
	}
}

// Supported lists the registered architecture names, sorted.
func Supported() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ConfigHeader is the part of config.json used to pick an architecture.
type ConfigHeader struct {
	Architectures []string          `json:"architectures"`
	ModelType     string            `json:"model_type"`
	AutoMap       map[string]string `json:"auto_map"`
}

// Lookup finds the builder for a checkpoint from its config.json: the first
// `architectures` entry that is registered wins, then the class names that
// `auto_map` points at (remote code is recognised by name, never run).
func Lookup(config []byte) (Builder, string, error) {
	var h ConfigHeader
	if err := json.Unmarshal(config, &h); err != nil {
		return nil, "", fmt.Errorf("config.json: %w", err)
	}
	registryMu.RLock()
	defer registryMu.RUnlock()
	candidates := slices.Clone(h.Architectures)
	for _, target := range h.AutoMap {
		// "org/repo--module.ClassName" or "module.ClassName"
		if i := strings.LastIndex(target, "."); i >= 0 {
			candidates = append(candidates, target[i+1:])
		}
	}
	for _, name := range candidates {
		if b, ok := registry[name]; ok {
			return withLimits(b), name, nil
		}
	}
	return nil, "", fmt.Errorf("%w: architectures %q (model_type %q); supported: %s",
		ErrUnsupported, h.Architectures, h.ModelType, strings.Join(Supported(), ", "))
}

// configLimits bound the sizes a config.json may claim. A config comes from
// whoever published the checkpoint, and builders loop over layers and size
// host-side tables by these numbers before any tensor is read: without a
// bound, {"num_hidden_layers": 1e9} is a hang and {"hidden_size": 1e12} an
// allocation of terabytes. Each bound is well above every published
// embedding or reranking model (the largest today: 8192 hidden, 80 layers,
// 29568 intermediate, 256k vocabulary, 128k positions).
var configLimits = map[string]float64{
	"num_hidden_layers":              1024,
	"hidden_size":                    1 << 16,
	"num_attention_heads":            1 << 10,
	"num_key_value_heads":            1 << 10,
	"head_dim":                       1 << 12,
	"intermediate_size":              1 << 20,
	"vocab_size":                     1 << 23,
	"max_position_embeddings":        1 << 24,
	"type_vocab_size":                1 << 16,
	"num_labels":                     1 << 16,
	"n_layer":                        1024, // NomicBERT's GPT-2 style names
	"n_embd":                         1 << 16,
	"n_head":                         1 << 10,
	"n_inner":                        1 << 20,
	"n_positions":                    1 << 24,
	"num_heads_kv":                   1 << 10,
	"max_trained_positions":          1 << 24,
	"local_attention":                1 << 24,
	"relative_attention_num_buckets": 1 << 12,
}

// CheckLimits reports a config.json whose sizes exceed configLimits. Fields
// that are absent or not numbers are left to the architecture's parser.
func CheckLimits(config []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(config, &fields); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	names := make([]string, 0, len(configLimits))
	for n := range configLimits {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		raw, ok := fields[n]
		if !ok {
			continue
		}
		var v float64
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		if v > configLimits[n] {
			return fmt.Errorf("config: %s %g exceeds the limit of %g", n, v, configLimits[n])
		}
	}
	return nil
}

// withLimits checks a config against configLimits before b sees it.
func withLimits(b Builder) Builder {
	return func(config []byte, w *Weights) (Encoder, error) {
		if err := CheckLimits(config); err != nil {
			return nil, err
		}
		return b(config, w)
	}
}
