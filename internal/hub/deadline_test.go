package hub

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sie-project/sie/internal/hub/hubtest"
)

// TestDownloadDeadline: a download whose body trickles in is abandoned when
// the caller's deadline passes; the error says so (context.DeadlineExceeded)
// and no blob, partial or whole, is left in the cache.
func TestDownloadDeadline(t *testing.T) {
	s := hubtest.New(t)
	s.Serve("org/model", map[string][]byte{"model.safetensors": make([]byte, 1<<20)})
	s.Fail("org/model", "model.safetensors", hubtest.Failure{Kind: hubtest.SlowBody, Bytes: 1000})

	c := &Client{Endpoint: s.URL, CacheDir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Download(ctx, "org/model", "main", "model.safetensors")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v; want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("returned %v after the deadline", d)
	}
	err = filepath.WalkDir(c.CacheDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) != ".lock" {
			if st, _ := os.Stat(p); st != nil && st.Size() > 1000 && filepath.Base(filepath.Dir(p)) == "blobs" {
				t.Errorf("blob left in the cache: %s (%d bytes)", p, st.Size())
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
