package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
)

// ErrInvalid is wrapped by every error that reports malformed safetensors
// data.
var ErrInvalid = errors.New("invalid safetensors data")

// maxHeaderSize bounds the JSON header, as the reference implementation does.
const maxHeaderSize = 100 << 20

// metadataKey is the reserved header key holding free-form string metadata.
const metadataKey = "__metadata__"

// File is one parsed safetensors file. Its tensors alias the file's buffer.
type File struct {
	tensors  map[string]*Tensor
	names    []string
	metadata map[string]string
}

// Open reads and validates the safetensors file at path.
func Open(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // names the path already
	}
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse validates data as a safetensors file. The returned tensors alias data,
// which must not be modified afterwards.
func Parse(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Len returns the number of tensors.
func (f *File) Len() int { return len(f.names) }

// Tensor returns the named tensor.
func (f *File) Tensor(name string) (*Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Metadata returns a copy of the header's __metadata__ block (nil if absent).
func (f *File) Metadata() map[string]string {
	if f.metadata == nil {
		return nil
	}
	m := make(map[string]string, len(f.metadata))
	for k, v := range f.metadata {
		m[k] = v
	}
	return m
}

// headerEntry is the header's description of one tensor.
type headerEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int   `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// invalidError is malformed data. Its text is the problem alone: the file
// name or the "safetensors:" prefix around it already says which format is
// invalid, so repeating ErrInvalid's text would say it twice.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{fmt.Sprintf(format, args...)}
}

func parse(data []byte) (*File, error) {
	if len(data) == 0 {
		return nil, invalidf("empty file")
	}
	if len(data) < 8 {
		return nil, invalidf("file is %d bytes, too short for the 8-byte header length", len(data))
	}
	hlen := binary.LittleEndian.Uint64(data)
	if hlen > maxHeaderSize {
		return nil, invalidf("header length %d exceeds the %d-byte limit", hlen, maxHeaderSize)
	}
	if hlen > uint64(len(data)-8) {
		return nil, invalidf("header length %d exceeds the %d bytes after the length prefix (truncated file?)", hlen, len(data)-8)
	}
	header := data[8 : 8+hlen]
	area := data[8+hlen:]

	raw, err := splitHeader(header)
	if err != nil {
		return nil, err
	}

	f := &File{tensors: make(map[string]*Tensor, len(raw))}
	type span struct {
		name       string
		begin, end int64
	}
	spans := make([]span, 0, len(raw))
	for _, kv := range raw {
		if kv.key == metadataKey {
			var md map[string]string
			if err := json.Unmarshal(kv.value, &md); err != nil {
				return nil, invalidf("__metadata__ is not an object of strings: %v", err)
			}
			f.metadata = md
			continue
		}
		name := kv.key
		var e headerEntry
		if err := json.Unmarshal(kv.value, &e); err != nil {
			return nil, invalidf("tensor %q: bad header entry: %v", name, err)
		}
		if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
			return nil, invalidf("tensor %q: header entry needs dtype, shape and data_offsets", name)
		}
		dtype := DType(*e.DType)
		if !dtype.Valid() {
			return nil, invalidf("tensor %q: unknown dtype %q", name, *e.DType)
		}
		shape := *e.Shape
		n, err := numElements(shape)
		if err != nil {
			return nil, invalidf("tensor %q: %v", name, err)
		}
		offs := *e.DataOffsets
		if len(offs) != 2 {
			return nil, invalidf("tensor %q: data_offsets has %d values, want 2", name, len(offs))
		}
		begin, end := offs[0], offs[1]
		if begin < 0 || end < 0 || begin > end {
			return nil, invalidf("tensor %q: bad data_offsets [%d, %d]", name, begin, end)
		}
		if end > int64(len(area)) {
			return nil, invalidf("tensor %q: data_offsets [%d, %d] exceed the %d-byte data area (truncated file?)", name, begin, end, len(area))
		}
		want, ok := mulNoOverflow(n, dtype.Size())
		if !ok || int64(want) != end-begin {
			return nil, invalidf("tensor %q: %d bytes of data, want %d elements × %d bytes (%s, shape %v)",
				name, end-begin, n, dtype.Size(), dtype, shape)
		}
		f.tensors[name] = &Tensor{Name: name, DType: dtype, Shape: shape, data: area[begin:end:end]}
		f.names = append(f.names, name)
		spans = append(spans, span{name, begin, end})
	}

	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	var prev *span
	for i := range spans {
		s := &spans[i]
		if s.begin == s.end {
			continue
		}
		if prev != nil && s.begin < prev.end {
			return nil, invalidf("tensors %q [%d, %d] and %q [%d, %d] overlap", prev.name, prev.begin, prev.end, s.name, s.begin, s.end)
		}
		prev = s
	}
	sort.Strings(f.names)
	return f, nil
}

type rawEntry struct {
	key   string
	value json.RawMessage
}

// splitHeader splits the JSON header object into its entries, rejecting
// anything but a single object with unique keys (trailing whitespace, used as
// padding, is allowed).
func splitHeader(header []byte) ([]rawEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	tok, err := dec.Token()
	if err != nil {
		return nil, invalidf("header is not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalidf("header is not a JSON object")
	}
	var out []rawEntry
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidf("header is not JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, invalidf("header is not JSON: unexpected %v", tok)
		}
		if seen[key] {
			return nil, invalidf("header lists %q twice", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, invalidf("header is not JSON: %v", err)
		}
		out = append(out, rawEntry{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalidf("header is not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf("header has trailing data after the JSON object")
	}
	return out, nil
}
