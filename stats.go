package sie

import (
	"slices"
	"sync"
	"time"
)

// Stats is a snapshot of an Engine's work and memory.
type Stats struct {
	Backend      string
	MemoryBudget int64 // bytes; 0 means unlimited
	MemoryUsed   int64 // bytes accounted to loaded models
	Models       map[string]ModelStats
}

// ModelStats describes one loaded model since it was loaded.
type ModelStats struct {
	Architecture string
	Bytes        int64 // weights plus the workspace estimate
	QueueDepth   int   // requests waiting now
	InFlight     int   // calls using the model now

	Requests   int64 // answered calls
	Overloaded int64 // calls refused with ErrOverloaded
	Batches    int64
	Rows       int64 // device rows, padding rows included
	Sequences  int64
	Tokens     int64 // real tokens
	// PaddedTokens counts every position the device computed
	// (rows × padded length); PaddingFraction = 1 − Tokens/PaddedTokens.
	PaddedTokens    int64
	PaddingFraction float64
	Compiles        int64 // distinct (outputs, shape) programs built

	// Latency of answered calls, from enqueue to answer, over the last
	// 1024 calls.
	LatencyP50, LatencyP90, LatencyP99 time.Duration
}

const latencyWindow = 1024

type modelStats struct {
	mu          sync.Mutex
	s           ModelStats
	latencies   []time.Duration // ring
	nextLatency int
}

func newModelStats() *modelStats { return &modelStats{} }

func (m *modelStats) batch(b *deviceBatch, _ time.Duration, compiled bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s.Batches++
	m.s.Rows += int64(b.rows)
	m.s.Sequences += int64(len(b.seqLen))
	for _, n := range b.seqLen {
		m.s.Tokens += int64(n)
	}
	m.s.PaddedTokens += int64(b.rows * b.length)
	if compiled {
		m.s.Compiles++
	}
}

func (m *modelStats) latency(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s.Requests++
	if len(m.latencies) < latencyWindow {
		m.latencies = append(m.latencies, d)
		return
	}
	m.latencies[m.nextLatency] = d
	m.nextLatency = (m.nextLatency + 1) % latencyWindow
}

func (m *modelStats) overloaded() {
	m.mu.Lock()
	m.s.Overloaded++
	m.mu.Unlock()
}

func (m *modelStats) snapshot() ModelStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.s
	if s.PaddedTokens > 0 {
		s.PaddingFraction = 1 - float64(s.Tokens)/float64(s.PaddedTokens)
	}
	if n := len(m.latencies); n > 0 {
		l := slices.Clone(m.latencies)
		slices.Sort(l)
		pick := func(q float64) time.Duration { return l[min(n-1, int(q*float64(n)))] }
		s.LatencyP50, s.LatencyP90, s.LatencyP99 = pick(0.50), pick(0.90), pick(0.99)
	}
	return s
}
