package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
)

// Aliases the tests serve, each an upstream fixture in testdata.
var testAliases = map[string]string{
	"dense":    golden.Dir("bert-cls"),    // BERT, CLS pooling, a query prompt
	"prompted": golden.Dir("modernbert"),  // query and document templates
	"rerank":   golden.Dir("bert-rerank"), // cross-encoder
	"splade":   golden.Dir("splade"),      // sparse
	"colbert":  golden.Dir("colbert"),     // multivector
}

var (
	engineOnce sync.Once
	sharedEng  *sie.Engine
	engineErr  error
)

// testEngine is one Engine shared by the package's tests (loading the
// fixtures once).
func testEngine(t testing.TB) *sie.Engine {
	t.Helper()
	engineOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sie-server-test")
		if err != nil {
			engineErr = err
			return
		}
		sharedEng, engineErr = sie.Open(sie.Options{CacheDir: dir})
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return sharedEng
}

// testServer serves the fixtures under testAliases ("dense" is the
// default) and waits until they have loaded.
func testServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Aliases == nil {
		opts.Aliases = testAliases
	}
	if opts.DefaultModel == "" {
		opts.DefaultModel = "dense"
	}
	s := New(testEngine(t), opts)
	waitReady(t, s)
	return s
}

func waitReady(t testing.TB, s *Server) {
	t.Helper()
	ready, loadErr := s.Ready()
	select {
	case <-ready:
	case <-time.After(5 * time.Minute):
		t.Fatal("models did not load in 5 minutes")
	}
	if err := loadErr(); err != nil {
		t.Fatal(err)
	}
}

// do sends one recorded request to h and returns the status, headers and
// body.
func do(t testing.TB, h http.Handler, method, path, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

// mustJSON decodes body into v or fails the test, showing the body.
func mustJSON(t testing.TB, body []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(v); err != nil {
		t.Fatalf("cannot decode %s: %v", body, err)
	}
}

// sameVec requires got to equal want within 1e-6. JSON carries float32
// values losslessly; the tolerance covers the last-bit differences between
// batch compositions (a text embedded alone or with others), while a lost or
// crossed result differs by far more.
func sameVec(t testing.TB, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := got[i] - want[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("%s: value %d is %v, want %v (Go API)", what, i, got[i], want[i])
		}
	}
}

// sameVec64 compares an SDK's float64 vector with float32 values.
func sameVec64(t testing.TB, what string, got []float64, want []float32) {
	t.Helper()
	g := make([]float32, len(got))
	for i, x := range got {
		g[i] = float32(x)
	}
	sameVec(t, what, g, want)
}

func decodeBase64Floats(t testing.TB, s string) []float32 {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// l2Norm normalises v the way the routes do.
func l2Norm(v []float32) []float32 { return l2(v) }
