package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sie-project/sie/internal/hub/hubtest"
)

func TestMain(m *testing.M) {
	// Retries wait 1 s doubling in production; tests need not.
	retryBase = 10 * time.Millisecond
	if os.Getenv("SIE_HUB_HELPER") == "1" {
		os.Exit(helperProcess())
	}
	os.Exit(m.Run())
}

// clearEnv removes the variables the client reads, so the developer's own
// settings cannot leak into a test.
func clearEnv(t *testing.T) {
	for _, v := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE",
		"TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME",
		"XDG_CACHE_HOME", "HF_HUB_DISABLE_SYMLINKS", "HF_HUB_DISABLE_IMPLICIT_TOKEN",
		"HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT"} {
		t.Setenv(v, "")
	}
	// No token file either.
	t.Setenv("HF_HOME", t.TempDir())
}

func testFiles() map[string][]byte {
	return map[string][]byte{
		"config.json":                       []byte(`{"architectures": ["BertModel"]}`),
		"tokenizer.json":                    []byte(`{"version": "1.0"}`),
		"model.safetensors":                 hubtest.Bytes(300_000, 1),
		"1_Pooling/config.json":             []byte(`{"pooling_mode_mean_tokens": true}`),
		"a/b/c.json":                        []byte(`{"nested": true}`),
		"odd dir/we?ird %name:,x.json":      []byte(`{"odd": true}`),
		"sparse_linear.pt":                  hubtest.Bytes(5000, 2),
		"onnx/model.onnx":                   hubtest.Bytes(7000, 3),
		"model.safetensors.index.json.keep": []byte("x"),
	}
}

func newTest(t *testing.T) (*hubtest.Server, *Client, string) {
	clearEnv(t)
	s := hubtest.New(t)
	commit := s.Serve("org/model", testFiles())
	c := &Client{Endpoint: s.URL, CacheDir: t.TempDir(), EtagTimeout: 5 * time.Second, DownloadTimeout: 5 * time.Second}
	return s, c, commit
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertClean fails if a temporary or partial file is left in the cache.
func assertClean(t *testing.T, root string) {
	t.Helper()
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && (strings.HasSuffix(p, ".incomplete") || strings.HasSuffix(p, ".tmp") || strings.Contains(info.Name(), ".probe-")) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func TestDownloadCacheLayout(t *testing.T) {
	s, c, commit := newTest(t)
	ctx := context.Background()
	storage := filepath.Join(c.CacheDir, "models--org--model")
	for name, data := range testFiles() {
		p, err := c.Download(ctx, "org/model", "", name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := filepath.Join(storage, "snapshots", commit, filepath.FromSlash(name)); p != want {
			t.Errorf("path %s, want %s", p, want)
		}
		if !bytes.Equal(read(t, p), data) {
			t.Errorf("%s: content differs", name)
		}
		f, _ := s.Lookup("org/model", "main", name)
		// A relative symlink into blobs/, named by the etag the hub computes:
		// sha256 for LFS files, the git blob sha1 otherwise.
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatalf("%s: not a symlink: %v", name, err)
		}
		depth := strings.Count(name, "/")
		wantTarget := strings.Repeat("../", depth+2) + "blobs/" + f.ETag
		if filepath.ToSlash(target) != wantTarget {
			t.Errorf("%s -> %s, want %s", name, target, wantTarget)
		}
		if f.LFS != (len(f.ETag) == 64) {
			t.Errorf("%s: LFS %v but etag %s", name, f.LFS, f.ETag)
		}
		if _, err := os.Stat(filepath.Join(c.CacheDir, ".locks", "models--org--model", f.ETag+".lock")); err != nil {
			t.Errorf("%s: no lock file: %v", name, err)
		}
		st, _ := os.Stat(filepath.Join(storage, "blobs", f.ETag))
		if st.Mode().Perm()&0o044 != 0o044 {
			t.Errorf("%s: blob mode %v is not readable by others (umask 022 expected on CI)", name, st.Mode().Perm())
		}
	}
	if ref := read(t, filepath.Join(storage, "refs", "main")); string(ref) != commit {
		t.Errorf("refs/main = %q, want %q with no newline", ref, commit)
	}
	if tag := read(t, filepath.Join(c.CacheDir, "CACHEDIR.TAG")); !bytes.HasPrefix(tag, []byte("Signature: 8a477f597d28d172789f06886806bc55")) {
		t.Errorf("CACHEDIR.TAG = %q", tag)
	}
	// The odd filename went over the wire escaped segment by segment.
	if n := s.Count("HEAD", "/org/model/resolve/main/odd%20dir/we%3Fird%20%25name:%2Cx.json"); n != 1 {
		t.Errorf("escaped HEAD sent %d times; log: %v", n, s.Requests())
	}
	// Sizes are real sizes and ranges mean what they say: no compression.
	for _, r := range s.Requests() {
		if r.AcceptEncoding != "identity" {
			t.Errorf("Accept-Encoding %q on %s %s", r.AcceptEncoding, r.Method, r.Path)
		}
	}
	assertClean(t, c.CacheDir)
}

func TestDownloadRequestCounts(t *testing.T) {
	s, c, commit := newTest(t)
	ctx := context.Background()
	names := []string{"config.json", "model.safetensors", "a/b/c.json"}
	for _, n := range names {
		if _, err := c.Download(ctx, "org/model", "main", n); err != nil {
			t.Fatal(err)
		}
	}
	// A warm cache and a branch: one HEAD per file, nothing else.
	s.ResetRequests()
	for _, n := range names {
		if _, err := c.Download(ctx, "org/model", "main", n); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Requests(); len(got) != len(names) || slices.ContainsFunc(got, func(r hubtest.Request) bool { return r.Method != "HEAD" }) {
		t.Errorf("branch on a warm cache: %d requests, want %d HEADs: %v", len(got), len(names), got)
	}
	// A pinned commit: no request at all.
	s.ResetRequests()
	for _, n := range names {
		if _, err := c.Download(ctx, "org/model", commit, n); err != nil {
			t.Fatal(err)
		}
	}
	// Offline: no request either, through refs/main.
	off := *c
	off.Offline = true
	for _, n := range names {
		if _, err := off.Download(ctx, "org/model", "main", n); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	_, err := c.Download(ctx, "org/model", "main", "tokenizer.json")
	if !errors.Is(err, ErrOfflineNotCached) || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("offline, not cached: %v, want ErrOfflineNotCached naming tokenizer.json", err)
	}
	if got := s.Requests(); len(got) != 0 {
		t.Errorf("pinned commit and offline sent %d requests: %v", len(got), got)
	}
	t.Setenv("HF_HUB_OFFLINE", "")

	// The branch moves: the HEAD sees the new commit and the ref follows.
	files := testFiles()
	files["config.json"] = []byte(`{"architectures": ["BertModel"], "v": 2}`)
	commit2 := s.Serve("org/model", files)
	p, err := c.Download(ctx, "org/model", "main", "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(t, p), files["config.json"]) || !strings.Contains(p, commit2) {
		t.Errorf("after the branch moved got %s", p)
	}
	if ref := read(t, filepath.Join(c.CacheDir, "models--org--model", "refs", "main")); string(ref) != commit2 {
		t.Errorf("refs/main = %s, want %s", ref, commit2)
	}
	// The unchanged LFS blob is linked into the new snapshot without a GET.
	s.ResetRequests()
	if _, err := c.Download(ctx, "org/model", "main", "model.safetensors"); err != nil {
		t.Fatal(err)
	}
	if n := s.Count("GET", ""); n != 0 {
		t.Errorf("existing blob downloaded again: %v", s.Requests())
	}
}

func TestTokenNeverReachesCDN(t *testing.T) {
	s, c, _ := newTest(t)
	c.Token = "hf_secret"
	s.Gate("org/model", "hf_secret")
	ctx := context.Background()
	if _, err := c.Snapshot(ctx, "org/model", "main", SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	cdn, hub := 0, 0
	for _, r := range s.Requests() {
		switch r.Server {
		case "cdn":
			cdn++
			if r.Authorization != "" {
				t.Errorf("Authorization sent to the CDN: %+v", r)
			}
		case "hub":
			hub++
			if r.Authorization != "Bearer hf_secret" {
				t.Errorf("hub request without the token: %+v", r)
			}
		}
	}
	if cdn == 0 || hub == 0 {
		t.Errorf("expected requests to both hosts, got hub %d, cdn %d", hub, cdn)
	}
}

func TestFailures(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		setup   func(s *hubtest.Server, c *Client)
		wantErr error // nil: the download succeeds
		check   func(t *testing.T, s *hubtest.Server, c *Client, err error)
	}{
		{name: "repo not found", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "", hubtest.Failure{Kind: hubtest.RepoNotFound})
		}, wantErr: ErrRepoNotFound},
		{name: "revision not found", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "config.json", hubtest.Failure{Kind: hubtest.RevisionNotFound})
		}, wantErr: ErrRevisionNotFound},
		{name: "entry not found", file: "missing.json", wantErr: ErrFileNotFound,
			check: func(t *testing.T, s *hubtest.Server, c *Client, err error) {
				f, _ := s.Lookup("org/model", "main", "config.json")
				_ = f
				commit := readRef(t, c)
				if _, err := os.Stat(filepath.Join(c.CacheDir, "models--org--model", ".no_exist", commit, "missing.json")); err != nil {
					t.Errorf("no .no_exist marker: %v", err)
				}
				// Known missing at a pinned commit: no request.
				s.ResetRequests()
				if _, err := c.Download(context.Background(), "org/model", commit, "missing.json"); !errors.Is(err, ErrFileNotFound) {
					t.Errorf("pinned, known missing: %v", err)
				}
				if n := len(s.Requests()); n != 0 {
					t.Errorf("%d requests for a file known missing", n)
				}
			}},
		{name: "gated without token", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Gate("org/model", "hf_good")
		}, wantErr: ErrGated, check: func(t *testing.T, s *hubtest.Server, c *Client, err error) {
			if he := new(Error); !errors.As(err, &he) || he.StatusCode != 401 {
				t.Errorf("want a 401, got %v", err)
			}
		}},
		{name: "gated wrong token", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Gate("org/model", "hf_good")
			c.Token = "hf_bad"
		}, wantErr: ErrGated, check: func(t *testing.T, s *hubtest.Server, c *Client, err error) {
			if strings.Contains(err.Error(), "hf_bad") {
				t.Errorf("the token is in the message: %v", err)
			}
		}},
		{name: "gated right token", file: "model.safetensors", setup: func(s *hubtest.Server, c *Client) {
			s.Gate("org/model", "hf_good")
			c.Token = "hf_good"
		}},
		{name: "invalid credentials", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "", hubtest.Failure{Kind: hubtest.BadCredentials})
		}, check: func(t *testing.T, s *hubtest.Server, c *Client, err error) {
			if he := new(Error); !errors.As(err, &he) || he.StatusCode != 401 || errors.Is(err, ErrRepoNotFound) {
				t.Errorf("want a plain 401, got %v", err)
			}
		}, wantErr: errAny},
		{name: "disabled", file: "config.json", setup: func(s *hubtest.Server, c *Client) { s.Disable("org/model") }, wantErr: ErrDisabled},
		{name: "429 then ok", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "config.json", hubtest.Failure{Kind: hubtest.RateLimited, Times: 1})
		}},
		{name: "500 twice then ok", file: "model.safetensors", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.ServerError, Times: 2})
		}},
		{name: "503 twice then ok", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "config.json", hubtest.Failure{Kind: hubtest.Unavailable, Times: 2})
		}},
		{name: "500 always", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "config.json", hubtest.Failure{Kind: hubtest.ServerError})
		}, wantErr: errAny, check: func(t *testing.T, s *hubtest.Server, c *Client, err error) {
			if n := s.Count("HEAD", "config.json"); n != 5 {
				t.Errorf("%d HEADs, want 5 tries", n)
			}
		}},
		{name: "HEAD hangs", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "config.json", hubtest.Failure{Kind: hubtest.HangHead})
			c.EtagTimeout = 200 * time.Millisecond
		}, wantErr: context.DeadlineExceeded},
		{name: "no X-Repo-Commit", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "config.json", hubtest.Failure{Kind: hubtest.NoCommitHeader})
		}, wantErr: ErrBadMetadata},
		{name: "no ETag", file: "model.safetensors", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.NoETag})
		}, wantErr: ErrBadMetadata},
		{name: "etag path injection", file: "model.safetensors", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.PathETag})
		}, wantErr: ErrBadMetadata, check: func(t *testing.T, s *hubtest.Server, c *Client, err error) {
			if _, err := os.Stat(filepath.Join(c.CacheDir, "evil")); err == nil {
				t.Error("a file was written outside the repository folder")
			}
		}},
		{name: "cut body resumes", file: "model.safetensors", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.CutBody, Times: 1, Bytes: 100_000})
		}, check: func(t *testing.T, s *hubtest.Server, c *Client, err error) {
			var ranges []string
			for _, r := range s.Requests() {
				if r.Server == "cdn" {
					ranges = append(ranges, r.Range)
				}
			}
			if !slices.Equal(ranges, []string{"", "bytes=100000-"}) {
				t.Errorf("CDN requests had ranges %q, want a resume at 100000", ranges)
			}
		}},
		{name: "cut regular file resumes", file: "a/b/c.json", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "a/b/c.json", hubtest.Failure{Kind: hubtest.CutBody, Times: 1, Bytes: 5})
		}, check: func(t *testing.T, s *hubtest.Server, c *Client, err error) {
			if n := len(s.Requests()); n != 3 { // HEAD, GET, ranged GET
				t.Errorf("%d requests: %v", n, s.Requests())
			}
		}},
		{name: "range ignored restarts", file: "model.safetensors", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.CutBody, Times: 1, Bytes: 1000})
			s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.IgnoreRange, Times: 1})
		}},
		{name: "flipped byte", file: "model.safetensors", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.FlipByte})
		}, wantErr: ErrIntegrity},
		{name: "flipped byte regular file", file: "config.json", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "config.json", hubtest.Failure{Kind: hubtest.FlipByte})
		}, wantErr: ErrIntegrity},
		{name: "short body", file: "model.safetensors", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.ShortBody})
		}, wantErr: ErrIntegrity},
		{name: "expired CDN URL", file: "model.safetensors", setup: func(s *hubtest.Server, c *Client) {
			s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.ExpiredURL, Times: 1})
		}, check: func(t *testing.T, s *hubtest.Server, c *Client, err error) {
			if n := s.Count("HEAD", "model.safetensors"); n != 2 {
				t.Errorf("%d HEADs, want 2 (one more after the URL expired)", n)
			}
		}},
		{name: "renamed private repository", file: "model.safetensors", setup: func(s *hubtest.Server, c *Client) {
			// The relative redirect is followed with the token (the new
			// name needs it); the CDN still gets none.
			s.Serve("org/new-name", testFiles())
			s.Gate("org/new-name", "hf_tok")
			s.Rename("org/model", "org/new-name")
			c.Token = "hf_tok"
		}, check: func(t *testing.T, s *hubtest.Server, c *Client, err error) {
			for _, r := range s.Requests() {
				if (r.Server == "cdn") != (r.Authorization == "") {
					t.Errorf("request %+v", r)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c, _ := newTest(t)
			if tc.setup != nil {
				tc.setup(s, c)
			}
			p, err := c.Download(context.Background(), "org/model", "main", tc.file)
			storage := filepath.Join(c.CacheDir, "models--org--model")
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				f, _ := s.Lookup("org/model", "main", tc.file)
				if !bytes.Equal(read(t, p), f.Data) {
					t.Error("content differs")
				}
			} else {
				if err == nil {
					t.Fatalf("no error, want %v", tc.wantErr)
				}
				if tc.wantErr != errAny && !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				// Nothing half-done: no blob, no snapshot entry.
				blobs, _ := os.ReadDir(filepath.Join(storage, "blobs"))
				if len(blobs) != 0 {
					t.Errorf("blobs left behind: %v", blobs)
				}
				if present(filepath.Join(storage, "snapshots")) {
					t.Error("snapshot entry left")
				}
				if strings.Contains(err.Error(), "Signature=") {
					t.Errorf("signed URL in the message: %v", err)
				}
			}
			if tc.check != nil {
				tc.check(t, s, c, err)
			}
			assertClean(t, c.CacheDir)
		})
	}
}

var errAny = errors.New("any error")

func readRef(t *testing.T, c *Client) string {
	t.Helper()
	return string(read(t, filepath.Join(c.CacheDir, "models--org--model", "refs", "main")))
}

func TestCacheFallback(t *testing.T) {
	s, c, commit := newTest(t)
	ctx := context.Background()
	if _, err := c.Download(ctx, "org/model", "main", "config.json"); err != nil {
		t.Fatal(err)
	}
	// The hub hangs, fails or refuses: the cached file answers at once.
	for _, k := range []hubtest.Kind{hubtest.HangHead, hubtest.ServerError, hubtest.RateLimited, hubtest.BadCredentials} {
		s.ClearFailures()
		s.Fail("org/model", "", hubtest.Failure{Kind: k})
		c.EtagTimeout = 200 * time.Millisecond
		p, err := c.Download(ctx, "org/model", "main", "config.json")
		if err != nil || !strings.Contains(p, commit) {
			t.Errorf("failure %d: %q, %v; want the cached file", k, p, err)
		}
	}
	// A missing revision is not answered from the cache.
	s.ClearFailures()
	s.Fail("org/model", "config.json", hubtest.Failure{Kind: hubtest.RevisionNotFound})
	if _, err := c.Download(ctx, "org/model", "main", "config.json"); !errors.Is(err, ErrRevisionNotFound) {
		t.Errorf("RevisionNotFound: %v", err)
	}
}

func TestRevisionNames(t *testing.T) {
	s, c, commit := newTest(t)
	ctx := context.Background()
	pr := s.Commit("org/model", "refs/pr/1", map[string][]byte{"config.json": []byte(`{"pr": 1}`)})
	p, err := c.Download(ctx, "org/model", "refs/pr/1", "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(read(t, p)) != `{"pr": 1}` {
		t.Error("wrong content for refs/pr/1")
	}
	if n := s.Count("HEAD", "/resolve/refs%2Fpr%2F1/config.json"); n != 1 {
		t.Errorf("revision not escaped as one segment: %v", s.Requests())
	}
	if ref := read(t, filepath.Join(c.CacheDir, "models--org--model", "refs", "refs", "pr", "1")); string(ref) != pr {
		t.Errorf("refs/refs/pr/1 = %q", ref)
	}
	// Upper-case hex is a ref name to the hub: asked, not trusted.
	s.ResetRequests()
	if _, err := c.Download(ctx, "org/model", strings.ToUpper(commit), "config.json"); !errors.Is(err, ErrRevisionNotFound) {
		t.Errorf("upper-case commit: %v", err)
	}
	if len(s.Requests()) != 1 {
		t.Errorf("upper-case commit: %d requests, want 1", len(s.Requests()))
	}
}

func TestInvalidNamesSendNothing(t *testing.T) {
	s, c, _ := newTest(t)
	ctx := context.Background()
	for _, r := range []string{"", "../x", "a/../b", "/abs", "a/b/c", "org/na me", "a--b/c", ".hidden/x", "org/", `a\b`} {
		if _, err := c.Download(ctx, r, "main", "config.json"); err == nil {
			t.Errorf("repo %q accepted", r)
		}
	}
	for _, f := range []string{"", "../x", "/etc/passwd", "a/../../b", `a\..\b`, "a//b", "./a", "a/", "c:x", `\\server\share`, "a\x00b"} {
		if _, err := c.Download(ctx, "org/model", "main", f); err == nil {
			t.Errorf("file %q accepted", f)
		}
	}
	for _, r := range []string{"..", "a/../b", "/x", "a/", `a\b`, "x\ny"} {
		if _, err := c.Download(ctx, "org/model", r, "config.json"); err == nil {
			t.Errorf("revision %q accepted", r)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests for invalid names", n)
	}
}

func TestSnapshot(t *testing.T) {
	s, c, commit := newTest(t)
	ctx := context.Background()
	sel := SnapshotOptions{Select: func(files []string) []string {
		return slices.DeleteFunc(files, func(f string) bool { return strings.HasPrefix(f, "onnx/") })
	}}
	dir, err := c.Snapshot(ctx, "org/model", "main", sel)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(c.CacheDir, "models--org--model", "snapshots", commit) {
		t.Errorf("dir %s", dir)
	}
	for name, data := range testFiles() {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasPrefix(name, "onnx/") {
			if present(p) {
				t.Error("onnx/ downloaded despite the selection")
			}
			continue
		}
		if !bytes.Equal(read(t, p), data) {
			t.Errorf("%s differs", name)
		}
	}
	// The listing was paginated (two entries a page) and followed to the end.
	if n := s.Count("GET", "/api/models/org/model/tree/"+commit); n < 5 {
		t.Errorf("%d tree pages fetched", n)
	}
	var tree treeCache
	if err := json.Unmarshal(read(t, filepath.Join(c.CacheDir, "models--org--model", "trees", commit+".json")), &tree); err != nil || tree.FormatVersion != 1 || len(tree.Files) != len(testFiles()) {
		t.Errorf("trees/<commit>.json: %+v, %v", tree, err)
	}
	// Warm: a pinned commit costs nothing; a branch one request.
	s.ResetRequests()
	if _, err := c.Snapshot(ctx, "org/model", commit, sel); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("pinned warm snapshot: %d requests", n)
	}
	if _, err := c.Snapshot(ctx, "org/model", "main", sel); err != nil {
		t.Fatal(err)
	}
	if got := s.Requests(); len(got) != 1 || !strings.Contains(got[0].Path, "/revision/main") {
		t.Errorf("branch warm snapshot: %v, want one /revision request", got)
	}
	// Offline: no request; a snapshot missing a selected file is refused.
	s.ResetRequests()
	off := *c
	off.Offline = true
	if _, err := off.Snapshot(ctx, "org/model", "main", sel); err != nil {
		t.Error(err)
	}
	if _, err := off.Snapshot(ctx, "org/model", "main", SnapshotOptions{}); !errors.Is(err, ErrOfflineNotCached) || !strings.Contains(err.Error(), "onnx/model.onnx") {
		t.Errorf("offline, incomplete: %v", err)
	}
	if _, err := off.Snapshot(ctx, "org/other", "main", SnapshotOptions{}); !errors.Is(err, ErrOfflineNotCached) {
		t.Errorf("offline, absent: %v", err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("offline: %d requests", n)
	}
}

// TestConcurrentDownloads: 8 goroutines snapshot the same model at once;
// each blob is downloaded once.
func TestConcurrentDownloads(t *testing.T) {
	s, c, _ := newTest(t)
	// Slow enough (about 0.3 s) that all goroutines ask while it flows.
	s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.SlowBody, Bytes: 50_000})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			cc := *c
			_, err := cc.Snapshot(context.Background(), "org/model", "main", SnapshotOptions{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	assertOneGETPerBlob(t, s)
	assertClean(t, c.CacheDir)
}

func assertOneGETPerBlob(t *testing.T, s *hubtest.Server) {
	t.Helper()
	gets := map[string]int{}
	for _, r := range s.Requests() {
		if r.Method != "GET" || strings.Contains(r.Path, "/api/") {
			continue
		}
		key := r.Path
		if r.Server == "hub" {
			key = r.Path[strings.Index(r.Path, "/resolve/")+len("/resolve/"):]
			key = key[strings.Index(key, "/")+1:]
		}
		gets[key]++
	}
	if len(gets) != len(testFiles()) {
		t.Errorf("%d distinct downloads, want %d: %v", len(gets), len(testFiles()), gets)
	}
	for k, n := range gets {
		if n != 1 {
			t.Errorf("%s downloaded %d times", k, n)
		}
	}
}

// TestTwoProcesses: this test binary, re-executed, and this process
// download the same model into one cache at once; the blob locks make each
// blob travel once.
func TestTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	s, c, _ := newTest(t)
	// Slow the largest file (about 0.8 s) so the two processes overlap.
	big := hubtest.Bytes(2<<20, 9)
	files := testFiles()
	files["model.safetensors"] = big
	s.Serve("org/model", files)
	s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.SlowBody, Bytes: 128 << 10})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SIE_HUB_HELPER=1", "HF_ENDPOINT="+s.URL, "HF_HUB_CACHE="+c.CacheDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_, err := c.Snapshot(context.Background(), "org/model", "main", SnapshotOptions{})
	if werr := cmd.Wait(); werr != nil {
		t.Fatalf("helper: %v\n%s", werr, out.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	helperDirs := strings.TrimSpace(out.String())
	if !strings.HasSuffix(helperDirs, "OK") {
		t.Fatalf("helper output: %s", helperDirs)
	}
	assertOneGETPerBlob(t, s)
	// Both processes asked for it; the second waited on the lock, found the
	// blob and linked it.
	heads := 0
	for _, r := range s.Requests() {
		if r.Method == "HEAD" && strings.HasSuffix(r.Path, "/model.safetensors") {
			heads++
		}
	}
	if heads != 2 {
		t.Errorf("%d HEADs for model.safetensors, want one per process", heads)
	}
	p := filepath.Join(c.CacheDir, "models--org--model", "snapshots", readRef(t, c), "model.safetensors")
	if !bytes.Equal(read(t, p), big) {
		t.Error("model.safetensors differs")
	}
}

func helperProcess() int {
	var c Client
	if _, err := c.Snapshot(context.Background(), "org/model", "main", SnapshotOptions{}); err != nil {
		fmt.Println("helper:", err)
		return 1
	}
	fmt.Println("OK")
	return 0
}

func TestEnvironment(t *testing.T) {
	clearEnv(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("HF_HOME", "")
	steps := []struct {
		set, val, want string
	}{
		{"", "", filepath.Join(home, ".cache", "huggingface", "hub")},
		{"XDG_CACHE_HOME", "/x", "/x/huggingface/hub"},
		{"HF_HOME", "~/hf", filepath.Join(home, "hf", "hub")},
		{"HUGGINGFACE_HUB_CACHE", "/legacy", "/legacy"},
		{"HF_HUB_CACHE", "$HOME/hc", filepath.Join(home, "hc")},
	}
	for _, s := range steps {
		if s.set != "" {
			t.Setenv(s.set, s.val)
		}
		if got := DefaultCacheDir(); got != s.want {
			t.Errorf("after %s=%s: cache %s, want %s", s.set, s.val, got, s.want)
		}
	}
	if got := (&Client{CacheDir: "/opt"}).cacheDir(); got != "/opt" {
		t.Errorf("CacheDir option: %s", got)
	}

	// Token: HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, then the file, cleaned.
	t.Setenv("HF_HOME", home)
	os.WriteFile(filepath.Join(home, "token"), []byte(" hf_file\r\n"), 0o600)
	if got := EnvToken(); got != "hf_file" {
		t.Errorf("token from file: %q", got)
	}
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy")
	if got := EnvToken(); got != "hf_legacy" {
		t.Errorf("legacy token: %q", got)
	}
	t.Setenv("HF_TOKEN", "hf_env\n")
	if got := EnvToken(); got != "hf_env" {
		t.Errorf("HF_TOKEN: %q", got)
	}
	t.Setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
	if got := EnvToken(); got != "" {
		t.Errorf("implicit token disabled: %q", got)
	}

	for v, want := range map[string]bool{"1": true, "on": true, "YES": true, "True": true, "0": false, "no": false, "": false} {
		t.Setenv("HF_HUB_OFFLINE", v)
		if got := EnvOffline(); got != want {
			t.Errorf("HF_HUB_OFFLINE=%q: %v", v, got)
		}
	}
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("TRANSFORMERS_OFFLINE", "1")
	if !EnvOffline() {
		t.Error("TRANSFORMERS_OFFLINE ignored")
	}
	t.Setenv("HF_ENDPOINT", "http://mirror.example/")
	if got := (&Client{}).endpoint(); got != "http://mirror.example" {
		t.Errorf("endpoint %s", got)
	}
	t.Setenv("HF_HUB_ETAG_TIMEOUT", "3")
	if got := (&Client{}).etagTimeout(); got != 3*time.Second {
		t.Errorf("etag timeout %v", got)
	}
}

func TestProgress(t *testing.T) {
	_, c, _ := newTest(t)
	var mu sync.Mutex
	var events []Progress
	c.Progress = func(p Progress) {
		mu.Lock()
		events = append(events, p)
		mu.Unlock()
	}
	if _, err := c.Download(context.Background(), "org/model", "main", "model.safetensors"); err != nil {
		t.Fatal(err)
	}
	if len(events) < 2 || events[0].Done != 0 || events[len(events)-1].Done != 300_000 || events[len(events)-1].Total != 300_000 {
		t.Errorf("progress events %+v", events)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Done < events[i-1].Done || events[i].File != "model.safetensors" {
			t.Errorf("event %d: %+v", i, events[i])
		}
	}
}

func TestReadsPythonCache(t *testing.T) {
	// A snapshot written without symlinks (Windows, HF_HUB_DISABLE_SYMLINKS)
	// and a ref ending in a newline are both read; no request is made.
	s, c, _ := newTest(t)
	commit := "0123456789abcdef0123456789abcdef01234567"
	snap := filepath.Join(c.CacheDir, "models--org--model", "snapshots", commit)
	os.MkdirAll(snap, 0o755)
	os.WriteFile(filepath.Join(snap, "config.json"), []byte("{}"), 0o644)
	os.MkdirAll(filepath.Join(c.CacheDir, "models--org--model", "refs"), 0o755)
	os.WriteFile(filepath.Join(c.CacheDir, "models--org--model", "refs", "v1"), []byte(commit+"\n"), 0o644)
	off := *c
	off.Offline = true
	if p, err := off.Download(context.Background(), "org/model", "v1", "config.json"); err != nil || string(read(t, p)) != "{}" {
		t.Errorf("%q, %v", p, err)
	}
	if p, err := c.Download(context.Background(), "org/model", commit, "config.json"); err != nil || string(read(t, p)) != "{}" {
		t.Errorf("%q, %v", p, err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests", n)
	}
}

func TestNoSymlinks(t *testing.T) {
	_, c, _ := newTest(t)
	t.Setenv("HF_HUB_DISABLE_SYMLINKS", "1")
	p, err := c.Download(context.Background(), "org/model", "main", "config.json")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		t.Errorf("want a regular file: %v %v", st, err)
	}
}

func TestNextLink(t *testing.T) {
	for h, want := range map[string]string{
		`<https://hub/api/x?cursor=2>; rel="next"`:                 "https://hub/api/x?cursor=2",
		`<https://hub/a>; rel="prev", <https://hub/b>; rel=next`:   "https://hub/b",
		`<https://hub/a>; rel="last", <https://hub/b>; REL="Next"`: "https://hub/b",
		``: "",
	} {
		if got := nextLink(h); got != want {
			t.Errorf("nextLink(%q) = %q, want %q", h, got, want)
		}
	}
}

func TestServeAtPinnedCommit(t *testing.T) {
	clearEnv(t)
	s := hubtest.New(t)
	const commit = "5c38ec7c405ec4b44b94cc5a9bb96e735b38267a"
	s.ServeAt("BAAI/bge-small-en-v1.5", commit, map[string][]byte{"config.json": []byte("{}")})
	c := &Client{Endpoint: s.URL, CacheDir: t.TempDir()}
	for _, rev := range []string{commit, "main"} {
		p, err := c.Download(context.Background(), "BAAI/bge-small-en-v1.5", rev, "config.json")
		if err != nil || !strings.Contains(p, commit) {
			t.Errorf("%s: %q %v", rev, p, err)
		}
	}
}

func TestVerify(t *testing.T) {
	s, c, commit := newTest(t)
	ctx := context.Background()
	if _, err := c.Snapshot(ctx, "org/model", "main", SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()
	if problems, err := c.Verify("org/model", "main"); err != nil || len(problems) != 0 {
		t.Fatalf("intact snapshot: %v %v", problems, err)
	}
	// Corrupt one blob, remove one entry.
	f, _ := s.Lookup("org/model", "main", "tokenizer.json")
	blob := filepath.Join(c.CacheDir, "models--org--model", "blobs", f.ETag)
	os.WriteFile(blob, []byte(`{"version": "2.0"}`), 0o644)
	os.Remove(filepath.Join(c.CacheDir, "models--org--model", "snapshots", commit, "a", "b", "c.json"))
	problems, err := c.Verify("org/model", commit)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 2 || !strings.HasPrefix(problems[0], "a/b/c.json: missing") || !strings.HasPrefix(problems[1], "tokenizer.json: content hash") {
		t.Errorf("problems: %q", problems)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("Verify sent %d requests", n)
	}
}

func TestSnapshotFallbackWhenUnreachable(t *testing.T) {
	_, c, commit := newTest(t)
	ctx := context.Background()
	if _, err := c.Snapshot(ctx, "org/model", "main", SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: the cached snapshot of refs/main answers.
	down := *c
	down.Endpoint = "http://127.0.0.1:1"
	dir, err := down.Snapshot(ctx, "org/model", "main", SnapshotOptions{})
	if err != nil || !strings.HasSuffix(dir, commit) {
		t.Errorf("%q %v", dir, err)
	}
	// Not cached: a not-found error that says the hub was unreachable.
	_, err = down.Snapshot(ctx, "org/other", "main", SnapshotOptions{})
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrNotFound) {
		t.Errorf("unreachable, not cached: %v", err)
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	s, c, _ := newTest(t)
	s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.SlowBody, Bytes: 10_000})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Download(ctx, "org/model", "main", "model.safetensors"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
	blobs, _ := os.ReadDir(filepath.Join(c.CacheDir, "models--org--model", "blobs"))
	if len(blobs) != 0 {
		t.Errorf("left in blobs/: %v", blobs)
	}
	assertClean(t, c.CacheDir)
}
