package sie

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/hub/hubtest"
)

// hfHubNode returns node and the oracle script that drives the npm package
// @huggingface/hub (installed in tools/node by scripts/setup-test-deps.sh).
func hfHubNode(t *testing.T) (node, script string) {
	t.Helper()
	script, _ = filepath.Abs(filepath.Join("tools", "node", "hf_hub_cache.mjs"))
	pkg := filepath.Join("tools", "node", "node_modules", "@huggingface", "hub", "package.json")
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(pkg); err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or @huggingface/hub missing (run scripts/setup-test-deps.sh): %v %v", err, serr)
		}
		t.Skip("node or tools/node/node_modules/@huggingface/hub missing: run scripts/setup-test-deps.sh")
	}
	return node, script
}

func runNode(t *testing.T, node string, args ...string) string {
	t.Helper()
	cmd := exec.Command(node, args...)
	cmd.Env = append(os.Environ(), "HF_TOKEN=", "HF_HUB_OFFLINE=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// TestCacheInteropNPM checks sie's cache against an independent
// implementation, the npm package @huggingface/hub 2.17.5: a snapshot it
// downloads from the fake hub loads in sie offline, and a snapshot sie
// downloads is found by it without any file being downloaded again.
func TestCacheInteropNPM(t *testing.T) {
	node, script := hfHubNode(t)
	for _, v := range []string{"HF_TOKEN", "HF_HUB_OFFLINE", "HF_ENDPOINT", "SIE_CACHE"} {
		t.Setenv(v, "")
	}
	t.Setenv("HF_HOME", t.TempDir())
	c, err := golden.Load("bert-cls")
	if err != nil {
		t.Fatal(err)
	}
	var want [][]float32
	if err := c.Output("embedding", &want); err != nil {
		t.Fatal(err)
	}
	texts, textOpts := fixtureTexts(c)
	s := hubtest.New(t)
	files := fixtureFiles(t, "bert-cls")
	commit := s.Serve("org/tiny-bert", files)
	ctx := context.Background()

	// npm downloads; sie loads offline, with no request.
	cache := t.TempDir()
	// The package logs each download on stdout; the folder is the last line.
	lines := strings.Split(strings.TrimSpace(runNode(t, node, script, "snapshot", s.URL, "org/tiny-bert", cache, "main")), "\n")
	dir := lines[len(lines)-1]
	if want := filepath.Join(cache, "models--org--tiny-bert", "snapshots", commit); dir != want {
		t.Fatalf("npm snapshot in %s, want %s", dir, want)
	}
	s.ResetRequests()
	t.Setenv("HF_HUB_OFFLINE", "1")
	e := openEngine(t, Options{CacheDir: cache, Hub: HubOptions{Endpoint: s.URL}})
	for i, text := range texts {
		got, err := e.Embed(ctx, "org/tiny-bert", []string{text}, textOpts[i]...)
		if err != nil {
			t.Fatal(err)
		}
		checkEmbedding(t, i, got[0], want[i])
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("sie sent %d requests offline: %v", n, s.Requests())
	}
	t.Setenv("HF_HUB_OFFLINE", "")

	// sie downloads; npm finds every file without downloading it again.
	cache2 := t.TempDir()
	dir2, err := Pull(ctx, "org/tiny-bert", Options{CacheDir: cache2, Hub: HubOptions{Endpoint: s.URL}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	s.ResetRequests()
	out := runNode(t, node, append([]string{script, "files", s.URL, "org/tiny-bert", cache2, commit}, names...)...)
	sc := bufio.NewScanner(strings.NewReader(out))
	seen := 0
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "{") {
			t.Errorf("npm: %s", sc.Text()) // a "Downloading …" line
			continue
		}
		var r struct {
			Path, Pointer string
			Sum           string `json:"content_sha256"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(files[r.Path])
		if r.Pointer != filepath.Join(dir2, filepath.FromSlash(r.Path)) || r.Sum != hex.EncodeToString(sum[:]) {
			t.Errorf("npm read %s from %s (sha256 %s); want %s", r.Path, r.Pointer, r.Sum, filepath.Join(dir2, r.Path))
		}
		seen++
	}
	if seen != len(names) {
		t.Errorf("npm read %d files, want %d", seen, len(names))
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("npm sent %d requests for files sie had cached: %v", n, s.Requests())
	}
	// And its snapshotDownload over sie's cache lists the repository but
	// downloads nothing.
	s.ResetRequests()
	runNode(t, node, script, "snapshot", s.URL, "org/tiny-bert", cache2, "main")
	for _, r := range s.Requests() {
		if !strings.HasPrefix(r.Path, "/api/") {
			t.Errorf("npm downloaded %s although sie had it", r.Path)
		}
	}
}
