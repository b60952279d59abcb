package arch

// Cross-encoder heads: the *ForSequenceClassification classes of Hugging Face
// transformers that rerankers are saved as, mirroring
// BertForSequenceClassification (models/bert/modeling_bert.py: BertPooler →
// classifier), RobertaClassificationHead (models/roberta/modeling_roberta.py,
// shared by XLM-RoBERTa: dense → tanh → out_proj on <s>, no pooler) and
// ModernBertForSequenceClassification (models/modernbert/modeling_modernbert.py:
// cls or mean pooling → ModernBertPredictionHead → classifier), plus the score
// activation that sentence-transformers' CrossEncoder applies.
//
// Heads work on packed rows: `first` [B, S] holds the row index of the first
// token ([CLS] / <s>) of each of the S segments of a row, and logits come out
// [B, S, numLabels].

import (
	"encoding/json"
	"fmt"
	"strings"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Score activations a cross-encoder declares.
const (
	ScoreSigmoid  = "sigmoid"  // scores = sigmoid(logits)
	ScoreIdentity = "identity" // scores = raw logits
)

// SequenceClassifier is an encoder with a sequence-classification head.
type SequenceClassifier interface {
	Encoder
	// NumLabels is the number of logits per sequence (len(id2label)).
	NumLabels() int
	// ScoreActivation is ScoreSigmoid or ScoreIdentity, from the checkpoint.
	ScoreActivation() string
	// Classify maps hidden [B, T, H] (Forward's output) and first [B, S]
	// int32 (index of each packed segment's first token) to logits
	// [B, S, NumLabels]. Heads that pool over whole segments (ModernBERT with
	// classifier_pooling "mean") need the segment ids: call ClassifySegments.
	Classify(p Params, hidden, first *Node) *Node
}

// segmentPooler is implemented by heads that read every token of a segment.
type segmentPooler interface {
	classifySegments(p Params, hidden, first, segments *Node) *Node
}

// ClassifySegments is c.Classify for any head, passing segments [B, T]
// (Inputs.Segments) to the heads that pool over whole segments. Engines
// should call this rather than Classify.
func ClassifySegments(c SequenceClassifier, p Params, hidden, first, segments *Node) *Node {
	if sp, ok := c.(segmentPooler); ok {
		return sp.classifySegments(p, hidden, first, segments)
	}
	return c.Classify(p, hidden, first)
}

// classifierHead holds what every head reads from config.json: the number of
// labels and the declared score activation.
type classifierHead struct {
	numLabels  int
	activation string
}

func (h classifierHead) NumLabels() int          { return h.numLabels }
func (h classifierHead) ScoreActivation() string { return h.activation }

// parseClassifierHead reads num_labels (len(id2label), else num_labels, else
// transformers' default 2) and the sentence-transformers activation
// (`sentence_transformers.activation_fn`, or the older
// `sbert_ce_default_activation_function`). Sigmoid when declared, or when the
// head has one label and declares nothing; identity (raw logits) otherwise.
func parseClassifierHead(config []byte) (classifierHead, error) {
	var c struct {
		ID2Label             map[string]string `json:"id2label"`
		NumLabels            *int              `json:"num_labels"`
		SentenceTransformers struct {
			ActivationFn string `json:"activation_fn"`
		} `json:"sentence_transformers"`
		LegacyActivation string `json:"sbert_ce_default_activation_function"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return classifierHead{}, fmt.Errorf("config.json: %w", err)
	}
	h := classifierHead{numLabels: 2}
	switch {
	case len(c.ID2Label) > 0:
		h.numLabels = len(c.ID2Label)
	case c.NumLabels != nil:
		h.numLabels = *c.NumLabels
	}
	if h.numLabels <= 0 {
		return h, fmt.Errorf("config: num_labels must be positive, got %d", h.numLabels)
	}
	declared := c.SentenceTransformers.ActivationFn
	if declared == "" {
		declared = c.LegacyActivation
	}
	switch name := declared[strings.LastIndex(declared, ".")+1:]; {
	case declared == "":
		h.activation = ScoreIdentity
		if h.numLabels == 1 {
			h.activation = ScoreSigmoid
		}
	case name == "Sigmoid":
		h.activation = ScoreSigmoid
	case name == "Identity":
		h.activation = ScoreIdentity
	default:
		return h, fmt.Errorf("config: cross-encoder activation_fn %q is not supported (Sigmoid or Identity)", declared)
	}
	return h, nil
}

// BertForSequenceClassification is BertModel + BertPooler (dense + tanh on
// [CLS]) + classifier.
type BertForSequenceClassification struct {
	*BertModel
	classifierHead
	classifier linear
}

// NewBertForSequenceClassification takes the encoder (under "bert."), its
// pooler and the top-level classifier.
func NewBertForSequenceClassification(config []byte, w *Weights) (*BertForSequenceClassification, error) {
	head, err := parseClassifierHead(config)
	if err != nil {
		return nil, err
	}
	m, err := NewBertModel(config, w)
	if err != nil {
		return nil, err
	}
	m.arch = "BertForSequenceClassification"
	h := m.cfg.HiddenSize
	if m.pooler == nil { // the head needs it: Take records it as missing
		m.pooler = &bertPooler{dense: takeLinear(w, "pooler.dense", h, h, true)}
	}
	return &BertForSequenceClassification{
		BertModel:      m,
		classifierHead: head,
		classifier:     takeLinearExact(w, "classifier", h, head.numLabels, true),
	}, nil
}

// Classify: hidden [B, T, H], first [B, S] → logits [B, S, labels].
func (m *BertForSequenceClassification) Classify(p Params, hidden, first *Node) *Node {
	cls := segmentTokens(hidden, first)                         // [B, S, H]
	pooled := m.pooler.dense.apply(p, cls, activation.TypeTanh) // BertPooler
	return m.classifier.apply(p, pooled)                        // [B, S, labels]
}

// RobertaForSequenceClassification is RobertaModel (no pooler) +
// RobertaClassificationHead: dense → tanh → out_proj on <s>. It serves
// XLMRobertaForSequenceClassification too.
type RobertaForSequenceClassification struct {
	*RobertaModel
	classifierHead
	dense, outProj linear
}

// NewRobertaForSequenceClassification takes the encoder (under "roberta.")
// and the top-level `classifier.dense` / `classifier.out_proj`.
func NewRobertaForSequenceClassification(config []byte, w *Weights, arch string) (*RobertaForSequenceClassification, error) {
	head, err := parseClassifierHead(config)
	if err != nil {
		return nil, err
	}
	m, err := NewRobertaModel(config, w, arch)
	if err != nil {
		return nil, err
	}
	h := m.cfg.HiddenSize
	return &RobertaForSequenceClassification{
		RobertaModel:   m,
		classifierHead: head,
		dense:          takeLinearExact(w, "classifier.dense", h, h, true),
		outProj:        takeLinearExact(w, "classifier.out_proj", h, head.numLabels, true),
	}, nil
}

// Classify: hidden [B, T, H], first [B, S] → logits [B, S, labels].
func (m *RobertaForSequenceClassification) Classify(p Params, hidden, first *Node) *Node {
	x := m.dense.apply(p, segmentTokens(hidden, first), activation.TypeTanh) // [B, S, H]
	return m.outProj.apply(p, x)                                             // [B, S, labels]
}

// ModernBertForSequenceClassification is ModernBertModel + pooling ("cls":
// first token, "mean": mean over the segment) + ModernBertPredictionHead
// (dense → classifier_activation → norm) + classifier.
type ModernBertForSequenceClassification struct {
	*ModernBertModel
	classifierHead
	dense      linear
	act        activation.Type
	norm       layerNorm
	classifier linear
}

// NewModernBertForSequenceClassification takes the encoder (under "model.")
// and `head.dense`, `head.norm`, `classifier`.
func NewModernBertForSequenceClassification(config []byte, w *Weights) (*ModernBertForSequenceClassification, error) {
	head, err := parseClassifierHead(config)
	if err != nil {
		return nil, err
	}
	m, err := NewModernBertModel(config, w)
	if err != nil {
		return nil, err
	}
	c := m.cfg
	if c.ClassifierPooling != "cls" && c.ClassifierPooling != "mean" {
		return nil, fmt.Errorf("config: classifier_pooling %q is not supported (cls or mean)", c.ClassifierPooling)
	}
	act, ok := activationByName(c.ClassifierActivation)
	if !ok {
		return nil, fmt.Errorf("config: classifier_activation %q is not supported", c.ClassifierActivation)
	}
	m.arch = "ModernBertForSequenceClassification"
	h := c.HiddenSize
	return &ModernBertForSequenceClassification{
		ModernBertModel: m,
		classifierHead:  head,
		dense:           takeLinearExact(w, "head.dense", h, h, c.ClassifierBias),
		act:             act,
		norm:            takeLayerNormExact(w, "head.norm", h, c.NormEps, c.NormBias),
		classifier:      takeLinearExact(w, "classifier", h, head.numLabels, true),
	}, nil
}

// head is ModernBertPredictionHead then the classifier: [B, S, H] → [B, S, labels].
func (m *ModernBertForSequenceClassification) head(p Params, pooled *Node) *Node {
	x := m.norm.apply(p, activation.Apply(m.act, m.dense.apply(p, pooled)))
	return m.classifier.apply(p, x)
}

// Classify implements classifier_pooling "cls"; with "mean" it panics (the
// segments are needed: use ClassifySegments).
func (m *ModernBertForSequenceClassification) Classify(p Params, hidden, first *Node) *Node {
	if m.cfg.ClassifierPooling != "cls" {
		exceptions.Panicf("arch: %s with classifier_pooling %q needs the segment ids: call arch.ClassifySegments",
			m.arch, m.cfg.ClassifierPooling)
	}
	return m.head(p, segmentTokens(hidden, first))
}

func (m *ModernBertForSequenceClassification) classifySegments(p Params, hidden, first, segments *Node) *Node {
	if m.cfg.ClassifierPooling == "mean" {
		return m.head(p, segmentMean(hidden, segments, first.Shape().Dimensions[1]))
	}
	return m.Classify(p, hidden, first)
}

func init() {
	Register(func(config []byte, w *Weights) (Encoder, error) {
		return NewBertForSequenceClassification(config, w)
	}, "BertForSequenceClassification")
	for _, arch := range []string{"XLMRobertaForSequenceClassification", "RobertaForSequenceClassification"} {
		Register(func(config []byte, w *Weights) (Encoder, error) {
			return NewRobertaForSequenceClassification(config, w, arch)
		}, arch)
	}
	Register(func(config []byte, w *Weights) (Encoder, error) {
		return NewModernBertForSequenceClassification(config, w)
	}, "ModernBertForSequenceClassification")
}

var (
	_ SequenceClassifier = (*BertForSequenceClassification)(nil)
	_ SequenceClassifier = (*RobertaForSequenceClassification)(nil)
	_ SequenceClassifier = (*ModernBertForSequenceClassification)(nil)
	_ segmentPooler      = (*ModernBertForSequenceClassification)(nil)
)
