package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sie-project/sie"
)

// Fixture checkpoints of the core module (tiny random-weight models whose
// outputs the core tests check against upstream goldens).
var (
	embedModel  = fixture("bert-mean")
	rerankModel = fixture("bert-rerank")
)

func fixture(name string) string {
	p, err := filepath.Abs(filepath.Join("..", "testdata", "fixtures", name))
	if err != nil {
		panic(err)
	}
	return p
}

// startJetStream runs an embedded NATS server with JetStream on loopback,
// storing in a temporary directory, with its monitoring endpoint (what KEDA
// reads) on a free port.
func startJetStream(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, HTTPHost: "127.0.0.1", HTTPPort: -1,
		JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready in 10 s")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

func connect(t *testing.T, ns *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

var (
	engineOnce sync.Once
	sharedEng  *sie.Engine
	engineErr  error
)

// openEngine returns a new Engine; each worker gets its own, as separate
// processes would.
func openEngine(t *testing.T) *sie.Engine {
	t.Helper()
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// reference is the in-process Engine the cluster's answers are compared
// with.
func reference(t *testing.T) *sie.Engine {
	engineOnce.Do(func() { sharedEng, engineErr = sie.Open(sie.Options{}) })
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return sharedEng
}

// startWorker runs a worker until the test ends (or stop is called) and
// returns it.
func startWorker(t *testing.T, ns *server.Server, eng Engine, opts WorkerOptions) (w *Worker, stop func()) {
	t.Helper()
	nc := connect(t, ns)
	w, err := NewWorker(nc, eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("worker %s: %v", w.ID(), err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("worker %s did not stop in 30 s", w.ID())
			}
		})
	}
	t.Cleanup(stop)
	waitFor(t, "worker presence", 10*time.Second, func() bool {
		_, err := nc.Request(presenceSubject(w.opts.Lane), nil, time.Second)
		return err == nil
	})
	return w, stop
}

func newClient(t *testing.T, ns *server.Server, opts ClientOptions) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := NewClient(ctx, connect(t, ns), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond every 20 ms until it holds or limit passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); ; {
		if cond() {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var corpus = []string{
	"The quick brown fox jumps over the lazy dog.",
	"NATS JetStream keeps work items until a worker acknowledges them.",
	"Embeddings map text to vectors.",
	"a",
	"Paris is the capital of France.",
	"Rust and Go are both compiled languages.",
	"The weather today is sunny with a light breeze from the west.",
	"Rerankers score a query against each document.",
	"Workers pull from a durable consumer shared by the lane.",
	"¿Dónde está la biblioteca?",
	"東京は日本の首都です。",
	"One more sentence, for an uneven split.",
	"Backpressure refuses new work when the stream is full.",
	"Dead letters are items that failed too often.",
	"short",
	"The last text of the corpus.",
	"Beam pipelines embed corpora in batches.",
	"Kubernetes scales the workers with KEDA.",
	"A cold model loads while the item stays in progress.",
	"Twenty texts make seven messages of three.",
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// TestSubjects checks SIE's subject shape and token normalisation.
func TestSubjects(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"vidore/colqwen2.5-v0.2", "vidore__colqwen2_dot_5-v0_dot_2"}, // SIE's documented example
		{"BAAI/bge-m3", "BAAI__bge-m3"},
		{"intfloat/e5-base-v2", "intfloat__e5-base-v2"},
		{"a*b>c d\te", "a_b_c_d_e"},
		{"", "_"},
	} {
		if got := NormalizeToken(c.in); got != c.want {
			t.Errorf("NormalizeToken(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got, want := Subject(Lane{Pool: "gpu.a", Profile: "l4", Bundle: "default"}, "BAAI/bge-m3"), "sie.work.gpu_dot_a.l4.default.BAAI__bge-m3"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := Subject(Lane{}, "m"), "sie.work.default.cpu.default.m"; got != want {
		t.Errorf("Subject of the zero lane = %q, want %q", got, want)
	}
	if got, want := LaneFilter(Lane{Pool: "p"}), "sie.work.p.cpu.default.*"; got != want {
		t.Errorf("LaneFilter = %q, want %q", got, want)
	}
	if got, want := StreamName("gpu.a"), "SIE_WORK_gpu_dot_a"; got != want {
		t.Errorf("StreamName = %q, want %q", got, want)
	}
	if got, want := DeadLetterSubject("", "BAAI/bge-m3"), "sie.dlq.default.BAAI__bge-m3"; got != want {
		t.Errorf("DeadLetterSubject = %q, want %q", got, want)
	}
}

// TestWorkersMatchEngine: three workers answer Embed, Encode and Rerank
// with what the in-process Engine gives, and the work spreads over them.
func TestWorkersMatchEngine(t *testing.T) {
	ns := startJetStream(t)
	var workers []*Worker
	for range 3 {
		// Two items at a time each, so no worker can take all of them.
		w, _ := startWorker(t, ns, openEngine(t), WorkerOptions{Concurrency: 2, Preload: []string{embedModel}})
		workers = append(workers, w)
	}
	c := newClient(t, ns, ClientOptions{MaxItems: 3})
	ref := reference(t)
	ctx := ctxT(t, 60*time.Second)

	want, err := ref.Embed(ctx, embedModel, corpus)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Embed(ctx, embedModel, corpus)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d vectors, want %d", len(got), len(want))
	}
	for i := range want {
		// Batch composition differs between the workers and the reference;
		// the core's batch-invariance tests hold results to 1e-5.
		if d := maxDiff(got[i], want[i]); d > 1e-5 {
			t.Errorf("text %d: max |cluster − engine| = %g (got %v…, want %v…)", i, d, got[i][:3], want[i][:3])
		}
	}

	// Options travel: a query with an instruction.
	wantQ, err := ref.Embed(ctx, embedModel, corpus[:4], sie.Query(), sie.Instruction("Represent this:"))
	if err != nil {
		t.Fatal(err)
	}
	gotQ, err := c.Embed(ctx, embedModel, corpus[:4], sie.Query(), sie.Instruction("Represent this:"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range wantQ {
		if d := maxDiff(gotQ[i], wantQ[i]); d > 1e-5 {
			t.Errorf("query %d: max diff %g", i, d)
		}
	}

	eo := sie.EncodeOptions{Outputs: sie.Dense, DType: sie.Int8, Dims: 16}
	wantE, err := ref.Encode(ctx, embedModel, corpus[:7], eo)
	if err != nil {
		t.Fatal(err)
	}
	gotE, err := c.Encode(ctx, embedModel, corpus[:7], eo)
	if err != nil {
		t.Fatal(err)
	}
	for i := range wantE {
		if gotE[i].Quantized == nil || wantE[i].Quantized == nil {
			t.Fatalf("encoding %d: no quantized vector (got %+v)", i, gotE[i])
		}
		gq, wq := gotE[i].Quantized, wantE[i].Quantized
		if len(gq.Data) != len(wq.Data) || len(gq.Data) != 16 {
			t.Fatalf("encoding %d: %d bytes, want %d (16 dims)", i, len(gq.Data), len(wq.Data))
		}
		for j := range wq.Data {
			if d := int(gq.Data[j]) - int(wq.Data[j]); d > 1 || d < -1 {
				t.Errorf("encoding %d byte %d: %d, want %d", i, j, gq.Data[j], wq.Data[j])
			}
		}
	}

	query := "Which city is the capital of France?"
	for _, k := range []int{0, 4} {
		wantR, err := ref.Rerank(ctx, rerankModel, query, corpus, sie.TopK(k))
		if err != nil {
			t.Fatal(err)
		}
		gotR, err := c.Rerank(ctx, rerankModel, query, corpus, sie.TopK(k))
		if err != nil {
			t.Fatal(err)
		}
		if len(gotR) != len(wantR) {
			t.Fatalf("TopK(%d): %d results, want %d", k, len(gotR), len(wantR))
		}
		for i := range wantR {
			if gotR[i].Index != wantR[i].Index || math.Abs(float64(gotR[i].Score-wantR[i].Score)) > 1e-5 {
				t.Errorf("TopK(%d) rank %d: got %+v, want %+v", k, i, gotR[i], wantR[i])
			}
		}
	}

	// What an HTTP front end needs besides the calls.
	wantI, err := ref.Info(ctx, embedModel)
	if err != nil {
		t.Fatal(err)
	}
	gotI, err := c.Info(ctx, embedModel)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotI) != fmt.Sprint(wantI) {
		t.Errorf("Info = %+v, want %+v", gotI, wantI)
	}
	wantT, err := ref.Tokenize(ctx, embedModel, corpus, sie.Query())
	if err != nil {
		t.Fatal(err)
	}
	gotT, err := c.Tokenize(ctx, embedModel, corpus, sie.Query())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotT) != fmt.Sprint(wantT) {
		t.Errorf("Tokenize differs: got %v…, want %v…", gotT[0], wantT[0])
	}
	ids := make([][]int, len(wantT))
	for i, toks := range wantT {
		for _, tk := range toks {
			ids[i] = append(ids[i], tk.ID)
		}
	}
	wantV, err := ref.EmbedIDs(ctx, embedModel, ids)
	if err != nil {
		t.Fatal(err)
	}
	gotV, err := c.EmbedIDs(ctx, embedModel, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range wantV {
		if d := maxDiff(gotV[i], wantV[i]); d > 1e-5 {
			t.Errorf("EmbedIDs %d: max diff %g", i, d)
		}
	}
	if err := c.Load(ctx, rerankModel); err != nil {
		t.Errorf("Load: %v", err)
	}

	// Caller errors come back as the Engine's: same sentinel, same model.
	_, err = c.Rerank(ctx, rerankModel, query, corpus, sie.ScoreActivation("tanh"))
	var me *sie.ModelError
	if !errors.Is(err, sie.ErrInvalidInput) || !errors.As(err, &me) || me.Model != rerankModel {
		t.Errorf("bad activation: err = %v, want a *sie.ModelError for %s matching ErrInvalidInput", err, rerankModel)
	}
	_, err = c.Embed(ctx, filepath.Join(t.TempDir(), "missing"), corpus[:1])
	if !errors.Is(err, sie.ErrModelNotFound) {
		t.Errorf("missing model: err = %v, want ErrModelNotFound", err)
	}

	var items int64
	for _, w := range workers {
		st := w.Stats()
		t.Logf("worker %s: %+v", w.ID(), st)
		if st.Items == 0 {
			t.Errorf("worker %s answered no item: the work did not spread", w.ID())
		}
		items += st.Items
	}
	// 7 + 2 + 3 + 7 + 7 call items, 1 + 7 + 7 + 1 for Info, Tokenize,
	// EmbedIDs and Load, plus the two errors (the bad activation may stop
	// after its first failed part, so at least one each).
	if items < 26+16+2 {
		t.Errorf("workers answered %d items, want at least 44", items)
	}
}

// slowEngine wraps an Engine: loads take extra time, calls can be held at a
// gate or fail with a given error.
type slowEngine struct {
	Engine
	loadDelay time.Duration
	held      chan struct{} // receives one value per call that reached the gate
	gate      chan struct{} // calls wait until it is closed
	fail      error
}

func (e *slowEngine) Load(ctx context.Context, model string) error {
	select {
	case <-time.After(e.loadDelay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return e.Engine.Load(ctx, model)
}

func (e *slowEngine) Embed(ctx context.Context, model string, texts []string, opts ...sie.Option) ([][]float32, error) {
	if e.fail != nil {
		return nil, &sie.ModelError{Model: model, Op: "embed", Err: e.fail}
	}
	if e.gate != nil {
		select {
		case e.held <- struct{}{}:
		default:
		}
		select {
		case <-e.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return e.Engine.Embed(ctx, model, texts, opts...)
}

// TestColdModel: a model that is not loaded is loaded while the item is
// kept in progress (the load takes 2.5 × AckWait), then served, and the
// item was delivered once.
func TestColdModel(t *testing.T) {
	ns := startJetStream(t)
	eng := &slowEngine{Engine: openEngine(t), loadDelay: 2500 * time.Millisecond}
	w, _ := startWorker(t, ns, eng, WorkerOptions{AckWait: time.Second})
	c := newClient(t, ns, ClientOptions{})
	ctx := ctxT(t, 60*time.Second)
	got, err := c.Embed(ctx, embedModel, corpus[:5])
	if err != nil {
		t.Fatal(err)
	}
	want, err := reference(t).Embed(ctx, embedModel, corpus[:5])
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if d := maxDiff(got[i], want[i]); d > 1e-5 {
			t.Errorf("text %d: max diff %g", i, d)
		}
	}
	st := w.Stats()
	if st.Loads != 1 || st.Redelivered != 0 || st.Items != 1 {
		t.Errorf("worker stats %+v, want 1 load, 1 item, 0 redelivered", st)
	}
	js, _ := jetstream.New(connect(t, ns))
	lag, err := Lag(ctx, js, Lane{})
	if err != nil {
		t.Fatal(err)
	}
	if lag.Redelivered != 0 {
		t.Errorf("consumer redelivered %d items during the load, want 0", lag.Redelivered)
	}
}

// TestRedelivery: a worker that dies holding items without acking them;
// after AckWait another worker gets them and the call succeeds.
func TestRedelivery(t *testing.T) {
	ns := startJetStream(t)
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	dying := &slowEngine{Engine: openEngine(t), held: make(chan struct{}, 16), gate: gate}
	ncA := connect(t, ns)
	wa, err := NewWorker(ncA, dying, WorkerOptions{ID: "dying", AckWait: time.Second, Preload: []string{embedModel}})
	if err != nil {
		t.Fatal(err)
	}
	ctxA, cancelA := context.WithCancel(context.Background())
	t.Cleanup(cancelA)
	go wa.Run(ctxA)
	c := newClient(t, ns, ClientOptions{MaxItems: 2, Timeout: 30 * time.Second})
	waitFor(t, "the dying worker", 10*time.Second, func() bool { return c.checkLane(context.Background()) == nil })

	type result struct {
		v   [][]float32
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := c.Embed(context.Background(), embedModel, corpus[:6])
		done <- result{v, err}
	}()
	select {
	case <-dying.held:
	case <-time.After(20 * time.Second):
		t.Fatal("the dying worker took no item in 20 s")
	}
	ncA.Close() // dies: no ack, no nak
	cancelA()
	wb, _ := startWorker(t, ns, openEngine(t), WorkerOptions{ID: "survivor", AckWait: time.Second, Preload: []string{embedModel}})

	var r result
	select {
	case r = <-done:
	case <-time.After(40 * time.Second):
		t.Fatal("no answer 40 s after the worker died")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	want, err := reference(t).Embed(context.Background(), embedModel, corpus[:6])
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if d := maxDiff(r.v[i], want[i]); d > 1e-5 {
			t.Errorf("text %d: max diff %g", i, d)
		}
	}
	if st := wb.Stats(); st.Redelivered == 0 || st.Items != 3 {
		t.Errorf("survivor stats %+v: want the 3 items, at least one redelivered", st)
	}
}

// TestDeadLetter: an item every delivery fails on reaches MaxDeliver, lands
// in the dead-letter stream, leaves the work stream, and its caller gets
// ErrDeadLetter.
func TestDeadLetter(t *testing.T) {
	ns := startJetStream(t)
	failing := &slowEngine{Engine: openEngine(t), fail: sie.ErrOverloaded}
	w, _ := startWorker(t, ns, failing, WorkerOptions{MaxDeliver: 2, NakDelay: 100 * time.Millisecond, AckWait: time.Second, Preload: []string{embedModel}})
	c := newClient(t, ns, ClientOptions{Timeout: 20 * time.Second})
	start := time.Now()
	_, err := c.Embed(ctxT(t, 30*time.Second), embedModel, corpus[:2])
	if !errors.Is(err, ErrDeadLetter) {
		t.Fatalf("err = %v, want ErrDeadLetter", err)
	}
	t.Logf("dead-lettered after %s: %v", time.Since(start).Round(time.Millisecond), err)
	js, _ := jetstream.New(connect(t, ns))
	ctx := ctxT(t, 10*time.Second)
	dlq, err := js.Stream(ctx, DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := dlq.GetLastMsgForSubject(ctx, DeadLetterSubject("default", embedModel))
	if err != nil {
		t.Fatalf("no dead letter on %s: %v", DeadLetterSubject("default", embedModel), err)
	}
	var it workItem
	if err := json.Unmarshal(raw.Data, &it); err != nil || it.Model != embedModel || len(it.Texts) != 2 {
		t.Errorf("dead letter %s holds %+v (%v), want the 2-text item of %s", raw.Subject, it, err, embedModel)
	}
	if d := raw.Header.Get("Sie-Deliveries"); d != "2" {
		t.Errorf("Sie-Deliveries = %q, want 2", d)
	}
	work, err := js.Stream(ctx, StreamName("default"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := work.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("work stream still holds %d items", info.State.Msgs)
	}
	if st := w.Stats(); st.DeadLettered != 1 || st.HandedBack != 2 {
		t.Errorf("worker stats %+v, want 1 dead-lettered after 2 hand-backs", st)
	}
}

// TestNoWorker: a lane nobody serves fails at once with ErrProvisioning,
// which asks the caller to come back in a minute.
func TestNoWorker(t *testing.T) {
	ns := startJetStream(t)
	c := newClient(t, ns, ClientOptions{Lane: Lane{Pool: "gpu", Profile: "l4"}})
	start := time.Now()
	_, err := c.Embed(ctxT(t, 10*time.Second), embedModel, corpus[:1])
	if !errors.Is(err, ErrProvisioning) {
		t.Fatalf("err = %v, want ErrProvisioning", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s to notice no worker", d)
	}
	if ra, ok := RetryAfter(err); !ok || ra != time.Minute {
		t.Errorf("RetryAfter = %s, %v; want 1m, true", ra, ok)
	}
}

// TestBackpressure: a pool stream at its size limit refuses the next item;
// the call fails with ErrBackpressure (also sie.ErrOverloaded) and takes
// back the parts it had stored.
func TestBackpressure(t *testing.T) {
	ns := startJetStream(t)
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	held := &slowEngine{Engine: openEngine(t), held: make(chan struct{}, 16), gate: gate}
	stream := StreamOptions{MaxMsgs: 3}
	startWorker(t, ns, held, WorkerOptions{Concurrency: 1, Stream: stream, DrainTimeout: 200 * time.Millisecond, Preload: []string{embedModel}})
	c := newClient(t, ns, ClientOptions{MaxItems: 1, Stream: stream, Timeout: 10 * time.Second})
	_, err := c.Embed(ctxT(t, 20*time.Second), embedModel, corpus[:6])
	if !errors.Is(err, ErrBackpressure) || !errors.Is(err, sie.ErrOverloaded) {
		t.Fatalf("err = %v, want ErrBackpressure and sie.ErrOverloaded", err)
	}
	if ra, ok := RetryAfter(err); !ok || ra != 5*time.Second {
		t.Errorf("RetryAfter = %s, %v; want 5s, true", ra, ok)
	}
	js, _ := jetstream.New(connect(t, ns))
	ctx := ctxT(t, 10*time.Second)
	st, err := js.Stream(ctx, StreamName("default"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The three stored parts were withdrawn, except one a worker holds.
	if info.State.Msgs > 1 {
		t.Errorf("stream holds %d items after the refused call, want at most the 1 in progress", info.State.Msgs)
	}
}

// TestClientTimeout: no answer in time gives ErrTimeout (and
// context.DeadlineExceeded) promptly and leaves no pending call behind.
func TestClientTimeout(t *testing.T) {
	ns := startJetStream(t)
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	startWorker(t, ns, &slowEngine{Engine: openEngine(t), held: make(chan struct{}, 16), gate: gate}, WorkerOptions{DrainTimeout: 200 * time.Millisecond, Preload: []string{embedModel}})
	c := newClient(t, ns, ClientOptions{Timeout: 300 * time.Millisecond})
	start := time.Now()
	_, err := c.Embed(context.Background(), embedModel, corpus[:3])
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout and context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timed out after %s, want about 300 ms", d)
	}
	c.mu.Lock()
	n := len(c.pending)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d calls still pending after the timeout", n)
	}
	// A cancelled context is the caller's decision, not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err = c.Embed(ctx, embedModel, corpus[:3])
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("cancelled call: err = %v, want context.Canceled", err)
	}
}

// jsz reads a consumer from the server's monitoring endpoint, the numbers
// KEDA's nats-jetstream scaler reads.
func jsz(t *testing.T, ns *server.Server, stream, consumer string) (pending, ackPending int) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/jsz?consumers=true", ns.MonitorAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccountDetails []struct {
			StreamDetail []struct {
				Name           string `json:"name"`
				ConsumerDetail []struct {
					Name          string `json:"name"`
					NumPending    int    `json:"num_pending"`
					NumAckPending int    `json:"num_ack_pending"`
				} `json:"consumer_detail"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	for _, a := range body.AccountDetails {
		for _, s := range a.StreamDetail {
			for _, c := range s.ConsumerDetail {
				if s.Name == stream && c.Name == consumer {
					return c.NumPending, c.NumAckPending
				}
			}
		}
	}
	t.Fatalf("/jsz has no consumer %s on stream %s", consumer, stream)
	return 0, 0
}

// TestLag: the lane consumer's lag on the monitoring endpoint equals what
// was published and not acked, and drops to zero once answered.
func TestLag(t *testing.T) {
	ns := startJetStream(t)
	gate := make(chan struct{})
	held := &slowEngine{Engine: openEngine(t), held: make(chan struct{}, 16), gate: gate}
	startWorker(t, ns, held, WorkerOptions{Concurrency: 2, Preload: []string{embedModel}})
	c := newClient(t, ns, ClientOptions{MaxItems: 1})
	done := make(chan error, 1)
	go func() {
		_, err := c.Embed(ctxT(t, 60*time.Second), embedModel, corpus[:10])
		done <- err
	}()
	for range 2 {
		select {
		case <-held.held:
		case <-time.After(20 * time.Second):
			close(gate)
			t.Fatal("the worker took no item in 20 s")
		}
	}
	stream, consumer := StreamName("default"), ConsumerName(Lane{})
	js, _ := jetstream.New(connect(t, ns))
	waitFor(t, "10 published items", 10*time.Second, func() bool {
		p, a := jsz(t, ns, stream, consumer)
		return p+a == 10
	})
	p, a := jsz(t, ns, stream, consumer)
	if p != 8 || a != 2 {
		t.Errorf("/jsz: num_pending %d, num_ack_pending %d; want 8 waiting and the 2 the worker holds", p, a)
	}
	lag, err := Lag(ctxT(t, 5*time.Second), js, Lane{})
	if err != nil {
		t.Fatal(err)
	}
	if int(lag.Pending) != p || lag.AckPending != a {
		t.Errorf("Lag = %+v, /jsz says %d pending, %d ack pending", lag, p, a)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lag to drain", 10*time.Second, func() bool {
		p, a := jsz(t, ns, stream, consumer)
		return p == 0 && a == 0
	})
}

// TestDrain: a worker told to stop finishes the item it holds and answers
// it before Run returns.
func TestDrain(t *testing.T) {
	ns := startJetStream(t)
	gate := make(chan struct{})
	held := &slowEngine{Engine: openEngine(t), held: make(chan struct{}, 16), gate: gate}
	w, stop := startWorker(t, ns, held, WorkerOptions{AckWait: 4 * time.Second, Preload: []string{embedModel}})
	c := newClient(t, ns, ClientOptions{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Embed(ctxT(t, 30*time.Second), embedModel, corpus[:3])
		done <- err
	}()
	select {
	case <-held.held:
	case <-time.After(20 * time.Second):
		t.Fatal("the worker took no item in 20 s")
	}
	go func() { time.Sleep(300 * time.Millisecond); close(gate) }()
	start := time.Now()
	stop() // what SIGTERM does in sie-cluster worker
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("drain took %s, want under DrainTimeout (2 s) plus a fetch wait", d)
	}
	if err := <-done; err != nil {
		t.Fatalf("the held item was not answered: %v", err)
	}
	if st := w.Stats(); st.Items != 1 || st.HandedBack != 0 {
		t.Errorf("worker stats %+v, want the item answered, none handed back", st)
	}
}
