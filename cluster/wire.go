package cluster

import (
	"errors"

	"github.com/sie-project/sie"
)

// wireVersion is the version of workItem and workResult; a worker refuses
// items of another version rather than misreading them.
const wireVersion = 1

// Operations of a work item.
const (
	opEmbed  = "embed"
	opEncode = "encode"
	opRerank = "rerank"
	// The operations an HTTP front end needs besides the three calls.
	opInfo     = "info"
	opTokenize = "tokenize"
	opEmbedIDs = "embed_ids"
	opLoad     = "load"
)

// workItem is one message of a request: a bounded slice of its texts (or of
// a rerank's documents), with everything a worker needs to run it alone.
type workItem struct {
	V       int    `json:"v"`
	Request string `json:"request"` // the request id, unique per client call
	Part    int    `json:"part"`    // index of this slice in the request
	Op      string `json:"op"`
	Model   string `json:"model"` // as the caller named it (subjects hold a lossy form)

	Texts   []string           `json:"texts"`           // embed and encode items, or rerank documents
	IDs     [][]int            `json:"ids,omitempty"`   // embed_ids inputs
	Query   string             `json:"query,omitempty"` // rerank
	Options sie.CallOptions    `json:"options"`
	Encode  *sie.EncodeOptions `json:"encode,omitempty"`

	ReplyTo  string `json:"reply_to"`
	Deadline int64  `json:"deadline_unix_ms,omitempty"` // past it the answer is useless: drop the item
}

// workResult answers one workItem.
type workResult struct {
	V       int    `json:"v"`
	Request string `json:"request"`
	Part    int    `json:"part"`
	Worker  string `json:"worker,omitempty"`

	Vectors   [][]float32    `json:"vectors,omitempty"`
	Encodings []sie.Encoding `json:"encodings,omitempty"`
	Ranked    []rankedWire   `json:"ranked,omitempty"` // indices relative to the part's documents
	Tokens    [][]sie.Token  `json:"tokens,omitempty"`
	Info      *infoWire      `json:"info,omitempty"`

	Err *wireError `json:"error,omitempty"`
}

type rankedWire struct {
	Index int     `json:"index"`
	Score float32 `json:"score"`
}

// infoWire is sie.ModelInfo with its Outputs, which ModelInfo leaves out
// of JSON.
type infoWire struct {
	sie.ModelInfo
	Outputs sie.Output `json:"outputs"`
}

// wireError carries a failure with the sentinel it matches.
type wireError struct {
	Code    string `json:"code"`
	Model   string `json:"model,omitempty"`
	Op      string `json:"op,omitempty"`
	Message string `json:"message"`
}

func toWireError(err error) *wireError {
	w := &wireError{Code: errorCode(err), Message: err.Error()}
	var me *sie.ModelError
	if errors.As(err, &me) {
		w.Model, w.Op, w.Message = me.Model, me.Op, me.Err.Error()
	}
	return w
}

// toError rebuilds the caller-side error: a *sie.ModelError when the
// failure concerned a model, matching the same sentinel as on the worker.
func (w *wireError) toError(model, op string) error {
	var inner error = errors.New(w.Message)
	if kind := errorForCode(w.Code); kind != nil {
		inner = &kindError{msg: w.Message, kinds: []error{kind}}
	}
	if w.Model != "" {
		model = w.Model
	}
	if w.Op != "" {
		op = w.Op
	}
	return &sie.ModelError{Model: model, Op: op, Err: inner}
}
