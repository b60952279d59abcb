// Package examples_test checks that the code in the migration guides is
// the example code: every Go block in docs/migrate/*.md is preceded by a
// `<!-- file: PATH -->` line and must equal that file byte for byte, so
// the guides cannot drift from the programs the tests run.
package examples_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var guides = []string{"openai", "cohere", "tei", "infinity", "fastembed", "modal"}

var fileMarker = regexp.MustCompile(`^<!-- file: (\S+) -->$`)

func TestGuidesShowTheExampleFiles(t *testing.T) {
	root := ".."
	for _, g := range guides {
		t.Run(g, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(root, "docs", "migrate", g+".md"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(raw), "\n")
			var shown []string
			for i := 0; i < len(lines); i++ {
				if strings.TrimSpace(lines[i]) != "```go" {
					continue
				}
				m := []string(nil)
				if i > 0 {
					m = fileMarker.FindStringSubmatch(strings.TrimSpace(lines[i-1]))
				}
				if m == nil {
					t.Fatalf("line %d: a Go block without a <!-- file: PATH --> line before it", i+1)
				}
				var body strings.Builder
				j := i + 1
				for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
					body.WriteString(lines[j])
				}
				if j == len(lines) {
					t.Fatalf("line %d: unterminated Go block", i+1)
				}
				want, err := os.ReadFile(filepath.Join(root, m[1]))
				if err != nil {
					t.Fatalf("line %d: %v", i, err)
				}
				if body.String() != string(want) {
					t.Errorf("the block at line %d differs from %s: copy the file into the guide again", i+2, m[1])
				}
				shown = append(shown, m[1])
				i = j
			}
			// Each guide shows its provider's before and after programs.
			for _, leg := range []string{"before", "after"} {
				want := "examples/migrate/" + g + "/" + leg + "/main.go"
				found := false
				for _, s := range shown {
					found = found || s == want
				}
				if !found {
					t.Errorf("the guide does not show %s", want)
				}
			}
			// And the sections every guide has.
			for _, h := range []string{"## Before", "## After", "## Concept mapping", "## Target models", "## Caveats", "## Verify", "sie verify --model"} {
				if !strings.Contains(string(raw), h) {
					t.Errorf("no %q", h)
				}
			}
		})
	}
}
