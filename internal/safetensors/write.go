package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// WriteTensor is one tensor to be written by Write. Data holds the
// little-endian elements in row-major order.
type WriteTensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// Write encodes tensors, in the order given, and metadata (may be nil) as a
// safetensors file. The header is padded with spaces to a multiple of 8 bytes
// so that the data area is aligned.
func Write(w io.Writer, tensors []WriteTensor, metadata map[string]string) error {
	type entry struct {
		DType       DType    `json:"dtype"`
		Shape       []int    `json:"shape"`
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	header := make(map[string]any, len(tensors)+1)
	if metadata != nil {
		header[metadataKey] = metadata
	}
	var offset int64
	for _, t := range tensors {
		if t.Name == metadataKey {
			return fmt.Errorf("safetensors: write: tensor name %q is reserved", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: write: tensor %q given twice", t.Name)
		}
		if _, err := NewTensor(t.Name, t.DType, t.Shape, t.Data); err != nil {
			return fmt.Errorf("safetensors: write: %w", err)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		end := offset + int64(len(t.Data))
		header[t.Name] = entry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{offset, end}}
		offset = end
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: write: encode header: %w", err)
	}
	if pad := len(hdr) % 8; pad != 0 {
		hdr = append(hdr, bytes.Repeat([]byte{' '}, 8-pad)...)
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(hdr)))
	if _, err := w.Write(prefix[:]); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: write: %w", err)
		}
	}
	return nil
}

// Float32Bytes encodes values as little-endian float32 data, for building
// tensors to write.
func Float32Bytes(values []float32) []byte {
	out := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}
