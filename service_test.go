package sie

import (
	"errors"
	"reflect"
	"testing"
)

func TestCallOptionsRoundTrip(t *testing.T) {
	cases := []CallOptions{
		{},
		{IsQuery: true, Instruction: "Represent this: "},
		{Prompt: "query", NoPrompt: true},
		{TopK: 3, ScoreActivation: ScoreRaw},
		{ScoreBy: ScoreHybrid, HybridWeights: &[3]float64{0.5, 0.25, 0.25}},
	}
	for _, c := range cases {
		if got := ReadOptions(c.Options()...); !reflect.DeepEqual(got, c) {
			t.Errorf("ReadOptions(%+v.Options()) = %+v", c, got)
		}
	}
}

func TestNoPrompt(t *testing.T) {
	p := prompts{
		query: "query: {text}", document: "passage: {text}", defaultInstruction: "Find it",
		named: map[string]string{"web": "web: "},
	}
	cases := []struct {
		name string
		opts []Option
		want string
	}{
		{"document template", nil, "passage: hi"},
		{"query template", []Option{Query()}, "query: hi"},
		{"no prompt, document", []Option{NoPrompt()}, "hi"},
		{"no prompt, query", []Option{NoPrompt(), Query()}, "hi"},
		{"named prompt still applies", []Option{NoPrompt(), Prompt("web")}, "web: hi"},
	}
	for _, c := range cases {
		got, err := p.apply("hi", newCallConfig(c.opts))
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if _, err := p.apply("hi", newCallConfig([]Option{NoPrompt(), Instruction("x")})); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("NoPrompt with an instruction: got %v, want ErrInvalidInput", err)
	}
}
