package catalog

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sie-project/sie/arch"
)

var (
	placeholder = regexp.MustCompile(`\{[^{}]*\}`)
	commitHash  = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// checkTemplate reports what is wrong with a template: unknown placeholders,
// unbalanced braces, or a literal backslash-n where a newline was meant.
func checkTemplate(tpl string) string {
	for _, p := range placeholder.FindAllString(tpl, -1) {
		if p != "{text}" && p != "{instruction}" {
			return "unknown placeholder " + p
		}
	}
	rest := placeholder.ReplaceAllString(tpl, "")
	if strings.ContainsAny(rest, "{}") {
		return "unbalanced brace"
	}
	if strings.Contains(tpl, `\n`) {
		return `literal \n (a newline was meant)`
	}
	return ""
}

func TestCatalog(t *testing.T) {
	all := All()
	if len(all) < 55 {
		t.Fatalf("%d entries, want at least 55", len(all))
	}
	supported := arch.Supported()
	poolings := []string{"cls", "mean", "max", "mean_sqrt", "last_token"}
	for _, e := range all {
		fail := func(format string, args ...any) { t.Errorf("%s: "+format, append([]any{e.ID}, args...)...) }
		if e.ID == "" || e.Repo == "" || strings.Count(e.ID, "/") != 1 || strings.Contains(e.ID, ":") {
			fail("bad id %q or repository %q", e.ID, e.Repo)
		}
		if e.Revision != "" && !commitHash.MatchString(e.Revision) {
			fail("revision %q is not a commit hash", e.Revision)
		}
		if !slices.Contains(supported, e.Architecture) {
			fail("architecture %q is not registered (have %v)", e.Architecture, supported)
		}
		o := e.Outputs
		if len(o.Kinds()) == 0 {
			fail("no outputs")
		}
		if o.Dense < 0 || o.Sparse < 0 || o.Multivector < 0 {
			fail("negative output size %+v", o)
		}
		classifier := strings.HasSuffix(e.Architecture, "ForSequenceClassification")
		switch {
		case classifier:
			if o.Dense+o.Sparse+o.Multivector != 0 || !o.Score {
				fail("a cross-encoder gives a score only, got %v", o.Kinds())
			}
			if e.ScoreActivation != "sigmoid" && e.ScoreActivation != "identity" {
				fail("cross-encoder score_activation %q, want sigmoid or identity", e.ScoreActivation)
			}
		case e.ScoreActivation != "":
			fail("score_activation %q on a model without a cross-encoder head", e.ScoreActivation)
		}
		if o.Multivector > 0 && !o.Score {
			fail("a multivector model reranks by MaxSim: outputs.score must be true")
		}
		if o.Sparse > 0 && o.Dense == 0 && !strings.HasSuffix(e.Architecture, "ForMaskedLM") {
			fail("a SPLADE model needs a masked-LM architecture, got %s", e.Architecture)
		}
		if o.Dense > 0 {
			if !slices.Contains(poolings, e.Pooling) {
				fail("dense model with pooling %q (want one of %v)", e.Pooling, poolings)
			}
		} else if e.Pooling != "" || e.Normalize {
			fail("pooling/normalize set on a model without a dense output")
		}
		if e.MaxLength <= 0 && e.NPM == nil && o.Multivector == 0 {
			fail("max_length %d", e.MaxLength)
		}
		for name, tpl := range map[string]string{"query_template": e.QueryTemplate, "doc_template": e.DocumentTemplate} {
			if msg := checkTemplate(tpl); msg != "" {
				fail("%s %q: %s", name, tpl, msg)
			}
			if strings.Contains(tpl, "{instruction}") && e.DefaultInstruction == "" {
				fail("%s uses {instruction} but there is no default_instruction", name)
			}
		}
		if (e.QueryTemplate != "" || e.DocumentTemplate != "") && o.Dense == 0 {
			fail("templates on a model without a dense output")
		}
		for name, p := range e.Prompts {
			if msg := checkTemplate(p); msg != "" || name == "" {
				fail("prompt %q %q: %s", name, p, msg)
			}
		}
		for i, d := range e.MatryoshkaDims {
			if d <= 0 || d > o.Dense || (i > 0 && d == e.MatryoshkaDims[i-1]) {
				fail("matryoshka_dims %v do not fit dense dimension %d", e.MatryoshkaDims, o.Dense)
			}
		}
		seen := map[string]bool{}
		for _, p := range e.Profiles {
			if p.Name == "" || strings.Contains(p.Name, ":") || seen[p.Name] || p.Description == "" {
				fail("bad or repeated profile %+v", p)
			}
			seen[p.Name] = true
			if len(p.Outputs) == 0 {
				fail("profile %s selects no output", p.Name)
			}
			for _, k := range p.Outputs {
				if k == "score" || !slices.Contains(o.Kinds(), k) {
					fail("profile %s selects %q, which the model does not give (%v)", p.Name, k, o.Kinds())
				}
			}
			if p.Score != "" && !slices.Contains([]string{"dense", "sparse", "maxsim", "hybrid"}, p.Score) {
				fail("profile %s: unknown score mode %q", p.Name, p.Score)
			}
			pe, ok := Find(e.ID + ":" + p.Name)
			if !ok || pe.Profile != p.Name || len(pe.Outputs.Kinds()) == 0 {
				fail("Find(%q) = %+v, %v", e.ID+":"+p.Name, pe, ok)
			}
		}
		if len(e.Sources) == 0 {
			fail("no sources")
		}
		for _, s := range e.Sources {
			if strings.TrimSpace(s) == "" {
				fail("empty source")
			}
		}
	}
}

// TestTargetTable checks the migration target models against the facts of
// their published files (config.json, modules.json, 1_Pooling, model cards).
func TestTargetTable(t *testing.T) {
	type want struct {
		arch        string
		dense       int
		pooling     string
		query, doc  string
		instruction string
	}
	const wsq = "Given a web search query, retrieve relevant passages that answer the query"
	const bgeq = "Represent this sentence for searching relevant passages: {text}"
	table := map[string]want{
		"intfloat/e5-small-v2":                   {"BertModel", 384, "mean", "query: {text}", "passage: {text}", ""},
		"intfloat/e5-base-v2":                    {"BertModel", 768, "mean", "query: {text}", "passage: {text}", ""},
		"intfloat/e5-large-v2":                   {"BertModel", 1024, "mean", "query: {text}", "passage: {text}", ""},
		"Alibaba-NLP/gte-Qwen2-1.5B-instruct":    {"Qwen2ForCausalLM", 1536, "last_token", "Instruct: {instruction}\nQuery: {text}", "", wsq},
		"NovaSearch/stella_en_400M_v5":           {"NewModel", 1024, "mean", "Instruct: {instruction}\nQuery: {text}", "", wsq + "."},
		"BAAI/bge-small-en-v1.5":                 {"BertModel", 384, "cls", bgeq, "{text}", ""},
		"BAAI/bge-base-en-v1.5":                  {"BertModel", 768, "cls", bgeq, "{text}", ""},
		"BAAI/bge-large-en-v1.5":                 {"BertModel", 1024, "cls", bgeq, "{text}", ""},
		"sentence-transformers/all-MiniLM-L6-v2": {"BertModel", 384, "mean", "", "", ""},
	}
	for id, w := range table {
		e, ok := Find(id)
		if !ok {
			t.Errorf("%s is missing", id)
			continue
		}
		got := want{e.Architecture, e.Outputs.Dense, e.Pooling, e.QueryTemplate, e.DocumentTemplate, e.DefaultInstruction}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", id, got, w)
		}
		if !e.Normalize {
			t.Errorf("%s: not normalised", id)
		}
	}
	r, ok := Find("BAAI/bge-reranker-v2-m3")
	if !ok || r.Architecture != "XLMRobertaForSequenceClassification" || r.ScoreActivation != "sigmoid" || !r.Outputs.Score {
		t.Errorf("bge-reranker-v2-m3: %+v", r)
	}
	if e, _ := Find("Alibaba-NLP/gte-Qwen2-1.5B-instruct"); e.Revision == "" {
		t.Error("gte-Qwen2-1.5B-instruct: revision not pinned (its modeling code changed attention in 2c527fb)")
	}
	if e, _ := Find("cross-encoder/ms-marco-MiniLM-L-6-v2"); e.ScoreActivation != "identity" {
		t.Errorf("ms-marco-MiniLM-L-6-v2 gives raw logits (its config declares Identity), got %q", e.ScoreActivation)
	}
	// Upstream mistakes the catalog corrects.
	if e, _ := Find("WhereIsAI/UAE-Large-V1"); e.Pooling != "cls" {
		t.Errorf("UAE-Large-V1 pooling %q; its 1_Pooling/config.json is CLS", e.Pooling)
	}
	if e, _ := Find("BAAI/bge-small-en-v1.5"); e.Outputs.Dense != 384 {
		t.Errorf("bge-small-en-v1.5 dense %d (MTEB says 512 wrongly)", e.Outputs.Dense)
	}
}

func TestFindProfiles(t *testing.T) {
	base, ok := Find("BAAI/bge-m3")
	if !ok || base.Outputs != (Outputs{Dense: 1024, Sparse: 250002, Multivector: 1024, Score: true}) {
		t.Fatalf("bge-m3: %+v", base)
	}
	for name, want := range map[string]Outputs{
		"dense":   {Dense: 1024, Score: true},
		"sparse":  {Sparse: 250002, Score: true},
		"colbert": {Multivector: 1024, Score: true},
		"hybrid":  {Dense: 1024, Sparse: 250002, Multivector: 1024, Score: true},
	} {
		e, ok := Find("BAAI/bge-m3:" + name)
		if !ok || e.Outputs != want || e.Profile != name {
			t.Errorf("bge-m3:%s = %+v, %v; want outputs %+v", name, e, ok, want)
		}
	}
	if _, ok := Find("BAAI/bge-m3:nope"); ok {
		t.Error("unknown profile found")
	}
	if _, ok := Find("nobody/nothing"); ok {
		t.Error("unknown id found")
	}
	// Find returns copies.
	e, _ := Find("BAAI/bge-m3")
	e.Profiles[0].Outputs[0] = "changed"
	e.Sources[0] = "changed"
	if again, _ := Find("BAAI/bge-m3"); again.Profiles[0].Outputs[0] == "changed" || again.Sources[0] == "changed" {
		t.Error("Find shares state with the catalog")
	}
}

func TestParseRejectsDuplicates(t *testing.T) {
	if _, _, err := parse([]byte(`[{"id":"a/b","sources":["x"]},{"id":"a/b","sources":["y"]}]`)); err == nil {
		t.Error("duplicate id accepted")
	}
}
