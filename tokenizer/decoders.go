package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Decoders turn tokens back into text. Encoding never uses them, but the
// file's "decoder" block is parsed and checked like every other component,
// so that an unknown decoder type is an error naming it. The supported types
// are the crate's: BPEDecoder, ByteLevel, WordPiece, Metaspace, CTC,
// Sequence, Replace, Fuse, Strip and ByteFallback.

type decoder interface {
	decoderType() string
}

type decoderFactory func(raw json.RawMessage) (decoder, error)

// decoderTypes maps the JSON "type" of a decoder to its constructor.
var decoderTypes = map[string]decoderFactory{}

func registerDecoder(name string, f decoderFactory) { decoderTypes[name] = f }

func buildDecoder(raw json.RawMessage) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: decoder: %w", err)
	}
	f, ok := decoderTypes[typ]
	if !ok {
		return nil, fmt.Errorf("tokenizer: unsupported decoder type %q", typ)
	}
	return f(raw)
}

// simpleDecoder is a decoder whose settings are only validated.
type simpleDecoder struct {
	typ    string
	fields map[string]json.RawMessage
}

func (d *simpleDecoder) decoderType() string { return d.typ }

// fieldDecoder returns a factory that checks the types of the known fields
// (absent fields take the crate's defaults).
func fieldDecoder(typ string, kinds map[string]string) decoderFactory {
	return func(raw json.RawMessage) (decoder, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("tokenizer: decoder %s: %w", typ, err)
		}
		for name, kind := range kinds {
			v, ok := m[name]
			if !ok || isNull(v) {
				continue
			}
			var err error
			switch kind {
			case "string":
				var s string
				err = json.Unmarshal(v, &s)
			case "bool":
				var b bool
				err = json.Unmarshal(v, &b)
			case "uint":
				var n uint64
				err = json.Unmarshal(v, &n)
			}
			if err != nil {
				return nil, fmt.Errorf("tokenizer: decoder %s: field %q: %w", typ, name, err)
			}
		}
		return &simpleDecoder{typ: typ, fields: m}, nil
	}
}

type sequenceDecoder []decoder

func (sequenceDecoder) decoderType() string { return "Sequence" }

func init() {
	registerDecoder("BPEDecoder", fieldDecoder("BPEDecoder", map[string]string{"suffix": "string"}))
	registerDecoder("ByteLevel", fieldDecoder("ByteLevel", map[string]string{"add_prefix_space": "bool", "trim_offsets": "bool", "use_regex": "bool"}))
	registerDecoder("WordPiece", fieldDecoder("WordPiece", map[string]string{"prefix": "string", "cleanup": "bool"}))
	registerDecoder("CTC", fieldDecoder("CTC", map[string]string{"pad_token": "string", "word_delimiter_token": "string", "cleanup": "bool"}))
	registerDecoder("Fuse", fieldDecoder("Fuse", nil))
	registerDecoder("ByteFallback", fieldDecoder("ByteFallback", nil))
	registerDecoder("Strip", fieldDecoder("Strip", map[string]string{"content": "string", "start": "uint", "stop": "uint"}))
	registerDecoder("Metaspace", func(raw json.RawMessage) (decoder, error) {
		// Same settings and checks as the pre-tokenizer.
		if _, err := newMetaspace(raw); err != nil {
			return nil, err
		}
		return &simpleDecoder{typ: "Metaspace"}, nil
	})
	registerDecoder("Replace", func(raw json.RawMessage) (decoder, error) {
		if _, err := newReplaceNormalizer(raw); err != nil {
			return nil, err
		}
		return &simpleDecoder{typ: "Replace"}, nil
	})
	registerDecoder("Sequence", func(raw json.RawMessage) (decoder, error) {
		var c struct {
			Decoders *[]json.RawMessage `json:"decoders"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("tokenizer: decoder Sequence: %w", err)
		}
		if c.Decoders == nil {
			return nil, errors.New(`tokenizer: decoder Sequence: missing "decoders"`)
		}
		seq := make(sequenceDecoder, 0, len(*c.Decoders))
		for _, r := range *c.Decoders {
			d, err := buildDecoder(r)
			if err != nil {
				return nil, err
			}
			if d != nil {
				seq = append(seq, d)
			}
		}
		return seq, nil
	})
}
