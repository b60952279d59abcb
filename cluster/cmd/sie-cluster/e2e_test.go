package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sie-project/sie"
)

// proc is a sie-cluster process of the test, its output captured.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM and waits (bounded) for the process to drain and exit.
func (p *proc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not exit 20 s after SIGTERM; stderr:\n%s", p.cmd.Args[1], p.stderr.String())
	}
}

// waitLine waits (bounded) for a line of the process's stdout to match re
// and returns the first submatch.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				return m[1]
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("%v exited (%v); stderr:\n%s", p.cmd.Args, err, p.stderr.String())
		default:
		}
	}
	t.Fatalf("%v printed no line matching %s in 60 s; stderr:\n%s", p.cmd.Args, re, p.stderr.String())
	return ""
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s/readyz not 200 within 60 s", base)
}

// TestEndToEnd runs `sie-cluster gateway` and two `sie-cluster worker`
// processes on 127.0.0.1 around an embedded nats-server: openai-go against
// the gateway gets the library's vectors, both workers answer items, and a
// lane without workers answers 503 with Retry-After 60.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts processes")
	}
	bin := filepath.Join(t.TempDir(), "sie-cluster")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := ns.ClientURL()
	model, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata", "fixtures", "bert-mean"))
	if err != nil {
		t.Fatal(err)
	}

	gw := start(t, bin, "gateway", "--nats", url, "--addr", "127.0.0.1:0", "--model", model, "--max-items", "2", "--quiet")
	base := "http://" + gw.waitLine(t, regexp.MustCompile(`^listening on (\S+)$`))
	var workers []*proc
	for _, id := range []string{"w1", "w2"} {
		w := start(t, bin, "worker", "--nats", url, "--id", id, "--preload", model, "--concurrency", "2")
		w.waitLine(t, regexp.MustCompile(`^worker (\S+) on `))
		workers = append(workers, w)
	}
	waitReady(t, base)

	texts := []string{
		"The quick brown fox jumps over the lazy dog.", "Embeddings map text to vectors.", "a",
		"Paris is the capital of France.", "¿Dónde está la biblioteca?", "東京は日本の首都です。",
		"Workers pull from a durable consumer.", "The gateway speaks OpenAI's dialect.",
		"Two workers, one lane.", "The last text.",
	}
	client := openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: model, Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
	})
	if err != nil {
		t.Fatalf("openai-go: %v\ngateway stderr:\n%s", err, gw.stderr.String())
	}
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	// OpenAI's route embeds texts as sent: no prompt.
	want, err := eng.Embed(ctx, model, texts, sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != len(want) {
		t.Fatalf("%d embeddings, want %d", len(resp.Data), len(want))
	}
	for _, d := range resp.Data {
		w := want[d.Index]
		if len(d.Embedding) != len(w) {
			t.Fatalf("embedding %d: %d dims, want %d", d.Index, len(d.Embedding), len(w))
		}
		var m float64
		for j := range w {
			m = math.Max(m, math.Abs(d.Embedding[j]-float64(w[j])))
		}
		if m > 1e-5 {
			t.Errorf("embedding %d: max |gateway − library| = %g", d.Index, m)
		}
	}

	// A lane nobody serves: 503 with SIE's provisioning Retry-After. (A
	// catalog id, which needs no --model; the gateway downloads nothing.)
	empty := start(t, bin, "gateway", "--nats", url, "--addr", "127.0.0.1:0", "--pool", "nobody", "--quiet")
	emptyBase := "http://" + empty.waitLine(t, regexp.MustCompile(`^listening on (\S+)$`))
	body := `{"model":"sentence-transformers/all-MiniLM-L6-v2","input":["x"]}`
	r, err := http.Post(emptyBase+"/v1/embeddings", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "60" {
		t.Errorf("no worker: %d Retry-After %q (%s), want 503 with Retry-After 60", r.StatusCode, r.Header.Get("Retry-After"), b)
	}

	// Both workers answered items (each logs its counters when it stops).
	itemsRe := regexp.MustCompile(`Items:(\d+)`)
	for i, w := range workers {
		w.stop(t)
		m := itemsRe.FindStringSubmatch(w.stderr.String())
		if m == nil {
			t.Errorf("worker %d logged no stats:\n%s", i+1, w.stderr.String())
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("worker %d answered no item: the work did not spread", i+1)
		}
		t.Logf("worker %d: %s", i+1, m[0])
	}
}
