package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// isNull reports whether a JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// componentType reads the "type" field every tokenizer.json component carries.
func componentType(raw json.RawMessage) (string, error) {
	var c struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", err
	}
	if c.Type == nil {
		return "", errors.New(`missing "type"`)
	}
	return *c.Type, nil
}

// Truncation mirrors tokenizer.json's truncation block.
type Truncation struct {
	MaxLength int
	// Stride is parsed and kept but not used: overflowing windows are not
	// produced by this package.
	Stride    int
	Strategy  string // "LongestFirst" (default), "OnlyFirst" or "OnlySecond"
	Direction string // "Right" (default) or "Left"
}

// Padding mirrors tokenizer.json's padding block. The tokenizer does not pad;
// the batcher does, using these settings.
type Padding struct {
	Strategy        string // "BatchLongest" or "Fixed"
	FixedLength     int    // with Strategy "Fixed"
	Direction       string // "Right" or "Left"
	PadID           int
	PadTypeID       int
	PadToken        string
	PadToMultipleOf int // 0 when unset
}

func parseTruncation(raw json.RawMessage) (*Truncation, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c struct {
		Direction *string `json:"direction"`
		MaxLength *int    `json:"max_length"`
		Strategy  *string `json:"strategy"`
		Stride    *int    `json:"stride"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: truncation: %w", err)
	}
	if c.MaxLength == nil || c.Strategy == nil || c.Stride == nil {
		return nil, errors.New("tokenizer: truncation: max_length, strategy and stride are required")
	}
	t := &Truncation{MaxLength: *c.MaxLength, Stride: *c.Stride, Strategy: *c.Strategy, Direction: "Right"}
	if c.Direction != nil {
		t.Direction = *c.Direction
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Truncation) validate() error {
	switch t.Strategy {
	case "", "LongestFirst", "OnlyFirst", "OnlySecond":
	default:
		return fmt.Errorf("tokenizer: unknown truncation strategy %q", t.Strategy)
	}
	switch t.Direction {
	case "", "Right", "Left":
	default:
		return fmt.Errorf("tokenizer: unknown truncation direction %q", t.Direction)
	}
	if t.MaxLength < 0 || t.Stride < 0 {
		return errors.New("tokenizer: negative truncation max_length or stride")
	}
	return nil
}

func parsePadding(raw json.RawMessage) (*Padding, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c struct {
		Strategy        json.RawMessage `json:"strategy"`
		Direction       *string         `json:"direction"`
		PadToMultipleOf *int            `json:"pad_to_multiple_of"`
		PadID           int             `json:"pad_id"`
		PadTypeID       int             `json:"pad_type_id"`
		PadToken        *string         `json:"pad_token"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: padding: %w", err)
	}
	p := &Padding{Strategy: "BatchLongest", Direction: "Right", PadID: c.PadID, PadTypeID: c.PadTypeID, PadToken: "[PAD]"}
	if !isNull(c.Strategy) {
		var s string
		var fixed struct {
			Fixed *int `json:"Fixed"`
		}
		switch {
		case json.Unmarshal(c.Strategy, &s) == nil:
			if s != "BatchLongest" {
				return nil, fmt.Errorf("tokenizer: padding: unknown strategy %q", s)
			}
		case json.Unmarshal(c.Strategy, &fixed) == nil && fixed.Fixed != nil:
			p.Strategy, p.FixedLength = "Fixed", *fixed.Fixed
		default:
			return nil, fmt.Errorf("tokenizer: padding: unknown strategy %s", c.Strategy)
		}
	}
	if c.Direction != nil {
		if *c.Direction != "Left" && *c.Direction != "Right" {
			return nil, fmt.Errorf("tokenizer: padding: unknown direction %q", *c.Direction)
		}
		p.Direction = *c.Direction
	}
	if c.PadToMultipleOf != nil {
		p.PadToMultipleOf = *c.PadToMultipleOf
	}
	if c.PadToken != nil {
		p.PadToken = *c.PadToken
	}
	return p, nil
}
