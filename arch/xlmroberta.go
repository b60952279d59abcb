package arch

// RoBERTa (Liu et al., 2019, "RoBERTa: A Robustly Optimized BERT Pretraining
// Approach") and XLM-RoBERTa (Conneau et al., 2019, "Unsupervised
// Cross-lingual Representation Learning at Scale"), mirroring Hugging Face
// transformers' models/roberta/modeling_roberta.py and
// models/xlm_roberta/modeling_xlm_roberta.py. Both copy BERT's blocks
// ("Copied from transformers.models.bert…"), so the graph is BertModel's; what
// differs is RobertaEmbeddings.create_position_ids_from_input_ids:
// positions are padding_idx + 1 + index among the real tokens, which the host
// computes from Info.PositionOffset, and the single token type
// (type_vocab_size 1). Task checkpoints store the encoder under `roberta.`.

import (
	"encoding/json"
	"fmt"
)

// robertaConfig is what RoBERTa adds to BertConfig.
type robertaConfig struct {
	PadTokenID *int `json:"pad_token_id"`
}

// RobertaModel is the bare RoBERTa / XLM-RoBERTa encoder: BertModel's
// layers with RoBERTa positions.
type RobertaModel struct {
	*BertModel
	paddingIdx int
}

// NewRobertaModel takes the encoder's tensors from w (under an optional
// "roberta." prefix) and names it arch.
func NewRobertaModel(config []byte, w *Weights, arch string) (*RobertaModel, error) {
	rc := robertaConfig{}
	if err := json.Unmarshal(config, &rc); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	pad := 1 // RobertaConfig's default pad_token_id
	if rc.PadTokenID != nil {
		pad = *rc.PadTokenID
	}
	if pad < 0 {
		return nil, fmt.Errorf("config: pad_token_id %d must not be negative (it sets the position offset)", pad)
	}
	// Task checkpoints store `roberta.embeddings…`. NewBertModel probes only
	// "" and "bert.", and keeps the prefix resolved here when neither exists.
	w.ResolvePrefix("embeddings.word_embeddings.weight", "", "roberta.")
	m, err := NewBertModel(config, w)
	if err != nil {
		return nil, err
	}
	if m.cfg.MaxPositionEmbeddings <= pad+1 {
		return nil, fmt.Errorf("config: max_position_embeddings %d leaves no position after the padding offset %d",
			m.cfg.MaxPositionEmbeddings, pad+1)
	}
	m.arch = arch
	return &RobertaModel{BertModel: m, paddingIdx: pad}, nil
}

// Info implements Encoder: positions start at padding_idx + 1, so a sequence
// holds max_position_embeddings − padding_idx − 1 tokens (512 for 514).
func (m *RobertaModel) Info() Info {
	info := m.BertModel.Info()
	info.PositionOffset = m.paddingIdx + 1
	info.MaxPositions = m.cfg.MaxPositionEmbeddings - m.paddingIdx - 1
	return info
}

func init() {
	for _, arch := range []string{"XLMRobertaModel", "RobertaModel"} {
		Register(func(config []byte, w *Weights) (Encoder, error) {
			return NewRobertaModel(config, w, arch)
		}, arch)
	}
}
