package hub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHub serves files keyed by request path and counts requests.
type fakeHub struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string]string
	requests atomic.Int32
	auth     []string
	paths    []string
}

func newFakeHub(t *testing.T, files map[string]string) *fakeHub {
	h := &fakeHub{files: files}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.Add(1)
		h.mu.Lock()
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		h.paths = append(h.paths, r.URL.EscapedPath())
		body, ok := h.files[r.URL.EscapedPath()]
		h.mu.Unlock()
		if !ok {
			w.Header().Set("X-Error-Message", "Entry not found")
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(h.Close)
	return h
}

func newClient(t *testing.T, endpoint string) *Client {
	t.Setenv("HF_TOKEN", "")
	return &Client{Endpoint: endpoint, CacheDir: t.TempDir()}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSnapshot(t *testing.T) {
	h := newFakeHub(t, map[string]string{
		"/org/model/resolve/main/config.json":           `{"a":1}`,
		"/org/model/resolve/main/1_Pooling/config.json": `{"pool":"mean"}`,
	})
	c := newClient(t, h.URL)
	ctx := context.Background()
	dir, err := c.Snapshot(ctx, "org/model", "", []string{"config.json", "1_Pooling/config.json"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.CacheDir, "hub", "org--model", "main"); dir != want {
		t.Errorf("dir = %s, want %s", dir, want)
	}
	if got := readString(t, filepath.Join(dir, "config.json")); got != `{"a":1}` {
		t.Errorf("config.json = %q", got)
	}
	if got := readString(t, filepath.Join(dir, "1_Pooling", "config.json")); got != `{"pool":"mean"}` {
		t.Errorf("1_Pooling/config.json = %q", got)
	}
	if h.requests.Load() != 2 {
		t.Errorf("%d requests, want 2", h.requests.Load())
	}
	if h.auth[0] != "" {
		t.Errorf("Authorization sent without a token: %q", h.auth[0])
	}
	assertNoTemp(t, c.CacheDir)

	// Cached: no further requests.
	dir2, err := c.Snapshot(ctx, "org/model", "main", []string{"config.json", "1_Pooling/config.json"})
	if err != nil || dir2 != dir {
		t.Fatalf("second Snapshot = %s, %v", dir2, err)
	}
	if h.requests.Load() != 2 {
		t.Errorf("cached call made requests: %d total", h.requests.Load())
	}
}

func TestSnapshotOptional(t *testing.T) {
	h := newFakeHub(t, map[string]string{
		"/model/resolve/v1/config.json": `{}`,
	})
	c := newClient(t, h.URL)
	ctx := context.Background()
	optional := []string{"1_Pooling/config.json", "config.json"}
	dir, missing, err := c.SnapshotOptional(ctx, "model", "v1", []string{"config.json"}, optional)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 1 || missing[0] != "1_Pooling/config.json" {
		t.Errorf("missing = %v", missing)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "1_Pooling", "config.json")); err == nil {
		t.Error("missing optional file was created")
	}
	n := h.requests.Load()
	if n != 2 {
		t.Errorf("%d requests, want 2 (duplicates are fetched once)", n)
	}
	_, missing, err = c.SnapshotOptional(ctx, "model", "v1", []string{"config.json"}, optional)
	if err != nil || len(missing) != 1 {
		t.Fatalf("second call: missing %v, err %v", missing, err)
	}
	if h.requests.Load() != n {
		t.Error("second call asked again for a file known to be missing")
	}
	// Asked for as required, the same file is an error.
	if _, err := c.Snapshot(ctx, "model", "v1", []string{"1_Pooling/config.json"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("required missing file: err = %v", err)
	}
}

func TestSnapshotNotFound(t *testing.T) {
	h := newFakeHub(t, nil)
	c := newClient(t, h.URL)
	_, err := c.Snapshot(context.Background(), "org/model", "main", []string{"model.safetensors"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	for _, want := range []string{"org/model", "model.safetensors", "404"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestSnapshotServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	_, err := c.Snapshot(context.Background(), "org/model", "main", []string{"config.json"})
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 500 {
		t.Fatalf("err = %v, want a StatusError 500", err)
	}
	if errors.Is(err, ErrNotFound) {
		t.Error("500 matches ErrNotFound")
	}
	if !strings.Contains(err.Error(), "500") {
		t.Errorf("error %q does not mention the status", err)
	}
	assertNoFiles(t, filepath.Join(c.CacheDir, "hub", "org--model", "main"))
}

func TestSnapshotAuth(t *testing.T) {
	h := newFakeHub(t, map[string]string{"/org/private/resolve/main/a.txt": "x"})
	c := newClient(t, h.URL)
	c.Token = "secret"
	if _, err := c.Snapshot(context.Background(), "org/private", "main", []string{"a.txt"}); err != nil {
		t.Fatal(err)
	}
	if h.auth[0] != "Bearer secret" {
		t.Errorf("Authorization = %q", h.auth[0])
	}

	// The token also comes from HF_TOKEN.
	h2 := newFakeHub(t, map[string]string{"/org/private/resolve/main/a.txt": "x"})
	c2 := newClient(t, h2.URL)
	t.Setenv("HF_TOKEN", "fromenv")
	if _, err := c2.Snapshot(context.Background(), "org/private", "main", []string{"a.txt"}); err != nil {
		t.Fatal(err)
	}
	if h2.auth[0] != "Bearer fromenv" {
		t.Errorf("Authorization = %q", h2.auth[0])
	}
}

func TestSnapshotRedirect(t *testing.T) {
	var cdnAuth atomic.Value
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cdnAuth.Store(r.Header.Get("Authorization"))
		w.Write([]byte("weights"))
	}))
	defer cdn.Close()
	hubSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A different host name for the same server: the token must not follow.
		http.Redirect(w, r, strings.Replace(cdn.URL, "127.0.0.1", "localhost", 1)+"/blob/abc?signature=1", http.StatusFound)
	}))
	defer hubSrv.Close()
	c := newClient(t, hubSrv.URL)
	c.Token = "secret"
	dir, err := c.Snapshot(context.Background(), "org/model", "main", []string{"model.safetensors"})
	if err != nil {
		t.Fatal(err)
	}
	if got := readString(t, filepath.Join(dir, "model.safetensors")); got != "weights" {
		t.Errorf("content = %q", got)
	}
	if got, _ := cdnAuth.Load().(string); got != "" {
		t.Errorf("token forwarded to the redirect target: %q", got)
	}
}

func TestSnapshotRevisionEscaped(t *testing.T) {
	h := newFakeHub(t, map[string]string{"/org/m/resolve/refs%2Fpr%2F1/a.txt": "pr"})
	c := newClient(t, h.URL)
	dir, err := c.Snapshot(context.Background(), "org/m", "refs/pr/1", []string{"a.txt"})
	if err != nil {
		t.Fatalf("%v (paths %v)", err, h.paths)
	}
	if filepath.Dir(dir) != filepath.Join(c.CacheDir, "hub", "org--m") {
		t.Errorf("dir = %s", dir)
	}
}

func TestSnapshotCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newClient(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err := c.Snapshot(ctx, "org/model", "main", []string{"big.bin"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	assertNoFiles(t, filepath.Join(c.CacheDir, "hub", "org--model", "main"))

	// Already cancelled: fails without a request.
	if _, err := c.Snapshot(ctx, "org/model", "main", []string{"x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestSnapshotTruncated(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("short"))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	if _, err := c.Snapshot(context.Background(), "org/model", "main", []string{"a.bin"}); err == nil {
		t.Fatal("truncated download: no error")
	}
	assertNoFiles(t, filepath.Join(c.CacheDir, "hub", "org--model", "main"))
}

func TestSnapshotSanitize(t *testing.T) {
	h := newFakeHub(t, nil)
	c := newClient(t, h.URL)
	ctx := context.Background()
	badRepos := []string{"", "../x", "a/../b", "/abs", "a/b/c", "org/na me", "a--b/c", ".hidden/x", "org/", "a\\b"}
	for _, r := range badRepos {
		if _, err := c.Snapshot(ctx, r, "main", []string{"config.json"}); err == nil {
			t.Errorf("repo %q accepted", r)
		}
	}
	badFiles := []string{"", "../x", "/etc/passwd", "a/../../b", "a\\..\\b", "a//b", "./a", "a/", "c:x", "a\x00b"}
	for _, f := range badFiles {
		if _, err := c.Snapshot(ctx, "org/model", "main", []string{f}); err == nil {
			t.Errorf("file %q accepted", f)
		}
		if _, _, err := c.SnapshotOptional(ctx, "org/model", "main", nil, []string{f}); err == nil {
			t.Errorf("optional file %q accepted", f)
		}
	}
	badRevs := []string{"..", "a/../b", "/x", ".missing", "a/", "a\\b", "x\ny"}
	for _, r := range badRevs {
		if _, err := c.Snapshot(ctx, "org/model", r, []string{"config.json"}); err == nil {
			t.Errorf("revision %q accepted", r)
		}
	}
	if n := h.requests.Load(); n != 0 {
		t.Errorf("%d requests made for invalid names", n)
	}
}

func TestDefaultsFromEnv(t *testing.T) {
	h := newFakeHub(t, map[string]string{"/org/m/resolve/main/a.txt": "x"})
	cache := t.TempDir()
	t.Setenv("HF_ENDPOINT", h.URL+"/")
	t.Setenv("SIE_CACHE", cache)
	t.Setenv("HF_TOKEN", "")
	var c Client
	dir, err := c.Snapshot(context.Background(), "org/m", "main", []string{"a.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, cache) {
		t.Errorf("dir %s not under SIE_CACHE %s", dir, cache)
	}
}

// assertNoTemp fails if a temporary file is left anywhere under root.
func assertNoTemp(t *testing.T, root string) {
	t.Helper()
	filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(info.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", path)
		}
		return nil
	})
}

// assertNoFiles fails if dir contains any regular file.
func assertNoFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			t.Errorf("file left behind: %s", path)
		}
		return nil
	})
}
