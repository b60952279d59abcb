package hub

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDownloadDeadline: a hub that sends headers and part of a file, then
// stalls, is abandoned when the caller's deadline passes; the error says so
// (context.DeadlineExceeded) and no partial file is left in the cache.
func TestDownloadDeadline(t *testing.T) {
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stall)

	c := &Client{Endpoint: srv.URL, CacheDir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Snapshot(ctx, "org/model", "0123456789abcdef0123456789abcdef01234567", []string{"model.safetensors"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v; want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("returned %v after the deadline", d)
	}
	err = filepath.WalkDir(c.CacheDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if st, _ := os.Stat(p); st != nil && st.Size() > 0 {
				t.Errorf("partial file left in the cache: %s (%d bytes)", p, st.Size())
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
