package tokenizer

import (
	"path/filepath"
	"testing"
)

// TestGoldens compares every committed oracle golden (testdata/goldens/<spec>.jsonl.gz,
// written by tools/oracle/gen_goldens.js) field by field: ids, type ids,
// special-tokens mask, attention mask, tokens and byte offsets, or the error.
func TestGoldens(t *testing.T) {
	for _, name := range specNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tk := specTokenizer(t, name)
			cases := readGoldenCases(t, filepath.Join("testdata", "goldens", name+".jsonl.gz"))
			if len(cases) == 0 {
				t.Fatal("no golden cases")
			}
			bad := 0
			for _, c := range cases {
				if diff := runCase(tk, c); diff != "" {
					bad++
					if bad <= 10 {
						t.Errorf("%s\n  %s", describeCase(c), diff)
					}
				}
			}
			t.Logf("%s: %d/%d cases agree with the oracle", name, len(cases)-bad, len(cases))
		})
	}
}
