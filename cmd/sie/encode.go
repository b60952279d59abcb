package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/sie-project/sie"
)

// encodeLine is one output line of `sie encode`. Vectors in a dtype other
// than float32 are written as numbers too: float16 values as decimals, int8
// and uint8 codes as integers, binary as the packed bytes (0..255, most
// significant bit first) with "dims" giving the unpacked dimension. int8
// and uint8 lines carry what dequantizes them: "scale" (and "min" for
// uint8), a number for the dense vector and "multivector_scale" /
// "multivector_min" arrays with one number per vector.
type encodeLine struct {
	Dense            any               `json:"dense,omitempty"`
	Sparse           *sie.SparseVector `json:"sparse,omitempty"`
	Multivector      any               `json:"multivector,omitempty"`
	DType            string            `json:"dtype,omitempty"` // set unless float32
	Dims             int               `json:"dims,omitempty"`  // binary: bits per vector
	Scale            *float32          `json:"scale,omitempty"`
	Min              *float32          `json:"min,omitempty"`
	MultivectorScale []float32         `json:"multivector_scale,omitempty"`
	MultivectorMin   []float32         `json:"multivector_min,omitempty"`
}

func runEncode(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("encode", flag.ContinueOnError)
	var ef engineFlags
	ef.register(fs, "")
	query := fs.Bool("query", false, "encode the texts as queries")
	outputs := fs.String("outputs", "dense", "comma-separated outputs: dense, sparse, multivector")
	dtype := fs.String("dtype", "float32", "dense and multivector dtype: float32, float16, int8, uint8 or binary")
	dims := fs.Int("dims", 0, "truncate dense vectors to N dimensions (Matryoshka; 0: all)")
	instruction := fs.String("instruction", "", "instruction for the texts")
	prompt := fs.String("prompt", "", "named prompt from config_sentence_transformers.json")
	batch := fs.Int("batch", 256, "texts sent to the engine per call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := sie.EncodeOptions{IsQuery: *query, Dims: *dims, Instruction: *instruction, Prompt: *prompt}
	var err error
	if opts.Outputs, err = sie.ParseOutputs(*outputs); err != nil {
		return err
	}
	if opts.DType, err = sie.ParseDType(*dtype); err != nil {
		return err
	}
	eng, err := ef.open()
	if err != nil {
		return err
	}
	defer eng.Close()
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	var texts []string
	flush := func() error {
		if len(texts) == 0 {
			return nil
		}
		res, err := eng.Encode(ctx, ef.model, texts, opts)
		if err != nil {
			return err
		}
		for _, r := range res {
			if err := enc.Encode(toLine(r, opts.DType)); err != nil {
				return err
			}
		}
		texts = texts[:0]
		return nil
	}
	return readJSONLines(stdin, func(line int, raw []byte) error {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("stdin line %d: want a JSON string: %v", line, err)
		}
		texts = append(texts, s)
		if len(texts) >= *batch {
			return flush()
		}
		return nil
	}, flush)
}

func toLine(r sie.Encoding, dt sie.DType) encodeLine {
	l := encodeLine{Sparse: r.Sparse}
	if r.Dense != nil {
		l.Dense = r.Dense
	}
	if r.Multivector != nil {
		l.Multivector = r.Multivector
	}
	if dt == sie.Float32 {
		return l
	}
	l.DType = dt.String()
	if q := r.Quantized; q != nil {
		l.Dense = quantizedValues(*q)
		switch dt {
		case sie.Binary:
			l.Dims = q.Dims
		case sie.Int8:
			l.Scale = &q.Scale
		case sie.Uint8:
			l.Scale, l.Min = &q.Scale, &q.Min
		}
	}
	if r.QuantizedMultivector != nil {
		vecs := make([]any, len(r.QuantizedMultivector))
		for i, q := range r.QuantizedMultivector {
			vecs[i] = quantizedValues(q)
			switch dt {
			case sie.Binary:
				l.Dims = q.Dims
			case sie.Int8:
				l.MultivectorScale = append(l.MultivectorScale, q.Scale)
			case sie.Uint8:
				l.MultivectorScale = append(l.MultivectorScale, q.Scale)
				l.MultivectorMin = append(l.MultivectorMin, q.Min)
			}
		}
		l.Multivector = vecs
	}
	return l
}

// quantizedValues is a quantized vector as JSON numbers.
func quantizedValues(q sie.Quantized) any {
	switch q.DType {
	case sie.Float16:
		return q.Float32()
	case sie.Int8:
		return q.Int8s()
	}
	ints := make([]int, len(q.Data)) // uint8 codes or packed bits; []byte would become base64
	for i, b := range q.Data {
		ints[i] = int(b)
	}
	return ints
}
