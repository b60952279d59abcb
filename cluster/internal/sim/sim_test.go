package sim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func latency(t *testing.T) Latency {
	t.Helper()
	l, err := ReadLatency(filepath.Join("testdata", "latency.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Batches) < 3 || l.Source == "" {
		t.Fatalf("testdata/latency.json holds %d batch sizes and source %q", len(l.Batches), l.Source)
	}
	return l
}

// capacity is the texts per second one worker runs at fetch batch b.
func capacity(l Latency, b, texts int) float64 {
	return float64(b*texts) / l.Of(b*texts).Seconds()
}

func constant(r float64) func(time.Duration) float64 { return func(time.Duration) float64 { return r } }

// base is a lane of 4 preloaded workers at 70 % of their capacity.
func base(l Latency) Config {
	c := Config{
		Seed: 1, Duration: 10 * time.Minute, TextsPerItem: 4, Latency: l,
		FetchBatch: 16, AckWait: 30 * time.Second, Progress: true, NakDelay: 5 * time.Second, MaxDeliver: 20,
		ColdLoad: 60 * time.Second, MinWorkers: 4, MaxWorkers: 4, LagThreshold: 64,
		Poll: 15 * time.Second, StartDelay: 30 * time.Second, Cooldown: 5 * time.Minute,
	}
	c.Rate = constant(0.7 * 4 * capacity(l, c.FetchBatch, c.TextsPerItem) / float64(c.TextsPerItem))
	return c
}

func TestLatencyTable(t *testing.T) {
	l := Latency{Batches: map[string]float64{"1": 2, "8": 10, "32": 34}}
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{1, 2 * time.Millisecond}, {8, 10 * time.Millisecond}, {20, 22 * time.Millisecond}, {64, 66 * time.Millisecond}} {
		if got := l.Of(c.n); got != c.want {
			t.Errorf("Of(%d) = %s, want %s", c.n, got, c.want)
		}
	}
}

// TestDeterministic: the same seed gives the same run; work is conserved.
func TestDeterministic(t *testing.T) {
	c := base(latency(t))
	a, b := Run(c), Run(c)
	if a != b {
		t.Fatalf("two runs differ:\n%+v\n%+v", a, b)
	}
	if a.Arrived == 0 || a.Done+a.DeadLettered != a.Arrived {
		t.Errorf("%d arrived, %d done, %d dead-lettered", a.Arrived, a.Done, a.DeadLettered)
	}
	c.Seed = 2
	if Run(c) == a {
		t.Error("another seed gave the identical run")
	}
}

// table renders the simulated results the docs quote.
func table(l Latency) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Simulated (cluster/internal/sim), fed with batch latencies of %s measured on one node (%d tokens per text):", l.Model, l.Tokens)
	for _, n := range []int{1, 8, 32, 64, 128} {
		fmt.Fprintf(&b, " %d → %s;", n, l.Of(n).Round(100*time.Microsecond))
	}
	b.WriteString(" items of 4 texts, 10 simulated minutes, seed 1.\n\n")

	b.WriteString("Fetch batch (4 workers, 70 % of the capacity at batch 16, progress acks):\n\n")
	b.WriteString("| fetch batch | p50 | p99 | duplicates |\n|---|---|---|---|\n")
	for _, fb := range []int{1, 4, 16, 32} {
		c := base(l)
		c.FetchBatch = fb
		r := Run(c)
		fmt.Fprintf(&b, "| %d | %s | %s | %d |\n", fb, r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.Duplicates)
	}

	b.WriteString("\nAck wait without progress acks (fetch batch 32, 4 workers at 95 % load, one batch ≈ ")
	c95 := base(l)
	c95.FetchBatch = 32
	fmt.Fprintf(&b, "%s):\n\n", l.Of(32*4).Round(time.Millisecond))
	b.WriteString("| ack wait | progress acks | duplicates | p99 |\n|---|---|---|---|\n")
	for _, aw := range []time.Duration{5 * time.Second, 10 * time.Second, 30 * time.Second} {
		for _, prog := range []bool{false, true} {
			c := c95
			c.Rate = constant(0.95 * 4 * capacity(l, 32, 4) / 4)
			c.AckWait, c.Progress = aw, prog
			r := Run(c)
			fmt.Fprintf(&b, "| %s | %v | %d | %s |\n", aw, prog, r.Duplicates, r.P99.Round(time.Millisecond))
		}
	}

	b.WriteString("\nCold model: hand-back delay × delivery limit against the load time (one worker starting cold, at half its capacity):\n\n")
	b.WriteString("| cold load | policy | dead letters | p99 |\n|---|---|---|---|\n")
	for _, load := range []time.Duration{30 * time.Second, 120 * time.Second, 300 * time.Second} {
		for _, pol := range []struct {
			name string
			prog bool
		}{{"progress acks (sie)", true}, {"nak 5 s × 20", false}} {
			c := base(l)
			c.MinWorkers, c.MaxWorkers, c.ColdStart, c.ColdLoad, c.Progress = 1, 1, true, load, pol.prog
			c.StartDelay, c.Duration = 0, 2*time.Minute
			c.Rate = constant(0.5 * capacity(l, c.FetchBatch, c.TextsPerItem) / float64(c.TextsPerItem))
			r := Run(c)
			fmt.Fprintf(&b, "| %s | %s | %d of %d | %s |\n", load, pol.name, r.DeadLettered, r.Arrived, r.P99.Round(time.Second))
		}
	}

	b.WriteString("\nAutoscaling on consumer lag (KEDA nats-jetstream, poll 15 s, new worker serves after 30 s + 60 s load, 1–16 workers; load steps from 50 % of one worker to 6 workers' worth for 10 minutes, then back):\n\n")
	b.WriteString("| lag threshold | p50 | p99 | max lag | max workers | worker-minutes |\n|---|---|---|---|---|---|\n")
	for _, th := range []int{16, 64, 256, 1024} {
		c := base(l)
		one := capacity(l, c.FetchBatch, c.TextsPerItem) / float64(c.TextsPerItem)
		c.MinWorkers, c.MaxWorkers, c.LagThreshold, c.Duration = 1, 16, th, 20*time.Minute
		c.Rate = func(t time.Duration) float64 {
			if t >= 5*time.Minute && t < 15*time.Minute {
				return 6 * one
			}
			return 0.5 * one
		}
		r := Run(c)
		fmt.Fprintf(&b, "| %d | %s | %s | %d | %d | %.0f |\n", th, r.P50.Round(time.Millisecond), r.P99.Round(time.Second), r.MaxLag, r.MaxWorkers, r.WorkerSeconds/60)
	}
	return b.String()
}

// TestResults renders the simulated tables and compares them with
// testdata/results.md, which docs/cluster.md quotes verbatim; with
// SIE_SIM_UPDATE=1 it writes the file instead. The assertions below check
// the conclusions the docs draw from them.
func TestResults(t *testing.T) {
	l := latency(t)
	got := table(l)
	path := filepath.Join("testdata", "results.md")
	if os.Getenv("SIE_SIM_UPDATE") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("simulated results differ from %s (rerun with SIE_SIM_UPDATE=1 and update docs/cluster.md):\n%s", path, got)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "cluster.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), got) {
		t.Errorf("docs/cluster.md does not quote testdata/results.md verbatim")
	}

	// Conclusions: progress acks never duplicate work or dead-letter a cold
	// model; without them a 5 s × 20 budget loses items once loading takes
	// longer than 100 s.
	c := base(l)
	c.MinWorkers, c.MaxWorkers, c.ColdStart, c.ColdLoad = 1, 1, true, 300*time.Second
	c.StartDelay, c.Duration = 0, 2*time.Minute
	c.Rate = constant(0.5 * capacity(l, c.FetchBatch, c.TextsPerItem) / float64(c.TextsPerItem))
	if r := Run(c); r.DeadLettered != 0 || r.Duplicates != 0 {
		t.Errorf("progress acks, 300 s load: %+v", r)
	}
	c.Progress = false
	if r := Run(c); r.DeadLettered == 0 {
		t.Errorf("nak 5 s × 20 against a 300 s load lost nothing: %+v", r)
	}
	c.ColdLoad = 30 * time.Second
	if r := Run(c); r.DeadLettered != 0 {
		t.Errorf("nak 5 s × 20 against a 30 s load lost %d items", r.DeadLettered)
	}
}
