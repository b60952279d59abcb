package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Standard file names of a Hugging Face checkpoint.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// Set holds all tensors of a checkpoint, which may be split over several
// files (shards).
type Set struct {
	tensors map[string]*Tensor
	names   []string
}

// OpenDir opens the checkpoint in dir: model.safetensors if present,
// otherwise the shards listed by model.safetensors.index.json.
//
// For a sharded checkpoint every shard named in the index must exist, every
// tensor the index lists must be in the shard it names, and no tensor may
// appear in two shards.
func OpenDir(dir string) (*Set, error) {
	single := filepath.Join(dir, SingleFileName)
	if _, err := os.Stat(single); err == nil {
		return OpenFiles(single)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	index := filepath.Join(dir, IndexFileName)
	if _, err := os.Stat(index); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("safetensors: %s: neither %s nor %s found", dir, SingleFileName, IndexFileName)
	}
	return OpenIndex(index)
}

// OpenIndex opens a sharded checkpoint described by a
// model.safetensors.index.json file; shard paths are relative to its folder.
func OpenIndex(indexPath string) (*Set, error) {
	raw, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", indexPath, invalidf("index is not valid JSON: %v", err))
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: %w", indexPath, invalidf("index has an empty or missing weight_map"))
	}
	dir := filepath.Dir(indexPath)

	// Shards in a stable order, each opened once.
	var shards []string
	seen := make(map[string]bool)
	for _, shard := range idx.WeightMap {
		if !filepath.IsLocal(shard) {
			return nil, fmt.Errorf("%s: %w", indexPath, invalidf("shard name %q is not a local path", shard))
		}
		if !seen[shard] {
			seen[shard] = true
			shards = append(shards, shard)
		}
	}
	sort.Strings(shards)

	s := &Set{tensors: make(map[string]*Tensor)}
	owner := make(map[string]string) // tensor name → shard it was found in
	for _, shard := range shards {
		path := filepath.Join(dir, shard)
		f, err := Open(path)
		if err != nil {
			return nil, err
		}
		for _, name := range f.names {
			if prev, dup := owner[name]; dup {
				return nil, fmt.Errorf("%s: %w", indexPath, invalidf("tensor %q is in both %s and %s", name, prev, shard))
			}
			owner[name] = shard
			s.tensors[name] = f.tensors[name]
		}
	}
	for name, shard := range idx.WeightMap {
		got, ok := owner[name]
		if !ok {
			return nil, fmt.Errorf("%s: %w", indexPath, invalidf("tensor %q is not in its shard %s", name, shard))
		}
		if got != shard {
			return nil, fmt.Errorf("%s: %w", indexPath, invalidf("tensor %q is listed in %s but found in %s", name, shard, got))
		}
	}
	s.finish()
	return s, nil
}

// OpenFiles opens several safetensors files as one set. A tensor name that
// appears in more than one file is an error.
func OpenFiles(paths ...string) (*Set, error) {
	s := &Set{tensors: make(map[string]*Tensor)}
	owner := make(map[string]string)
	for _, path := range paths {
		f, err := Open(path)
		if err != nil {
			return nil, err
		}
		for _, name := range f.names {
			if prev, dup := owner[name]; dup {
				return nil, invalidf("tensor %q is in both %s and %s", name, prev, path)
			}
			owner[name] = path
			s.tensors[name] = f.tensors[name]
		}
	}
	s.finish()
	return s, nil
}

func (s *Set) finish() {
	s.names = make([]string, 0, len(s.tensors))
	for name := range s.tensors {
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
}

// Names returns the tensor names in sorted order.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Len returns the number of tensors.
func (s *Set) Len() int { return len(s.names) }

// Tensor returns the named tensor.
func (s *Set) Tensor(name string) (*Tensor, bool) {
	t, ok := s.tensors[name]
	return t, ok
}
