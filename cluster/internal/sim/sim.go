// Package sim is a deterministic discrete-event simulation of sie workers on
// a JetStream lane, fed with batch latencies measured on one node. It
// estimates what one machine cannot measure: how fetch batch size, ack
// wait, hand-back delay × delivery limit against model cold-load time, and
// the autoscaler's lag threshold shape latency, duplicate work, dead
// letters and worker time. Its numbers are simulated, not measured.
package sim

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"time"
)

// Latency is a measured single-node batch latency table.
type Latency struct {
	Source  string             `json:"source"`
	Note    string             `json:"note,omitempty"`
	Model   string             `json:"model"`
	Tokens  int                `json:"tokens_per_text"`
	Batches map[string]float64 `json:"batch_ms"` // batch size → milliseconds per Engine.Embed call
}

// ReadLatency reads a table written by the measurement benchmark.
func ReadLatency(path string) (Latency, error) {
	var l Latency
	b, err := os.ReadFile(path)
	if err != nil {
		return l, err
	}
	return l, json.Unmarshal(b, &l)
}

// Of is the latency of a batch of n texts: linear between measured sizes,
// extrapolated from the largest two beyond them.
func (l Latency) Of(n int) time.Duration {
	type pt struct{ n, ms float64 }
	var pts []pt
	for k, v := range l.Batches {
		var x int
		fmt.Sscan(k, &x)
		pts = append(pts, pt{float64(x), v})
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].n < pts[j].n })
	x := float64(n)
	i := sort.Search(len(pts), func(i int) bool { return pts[i].n >= x })
	switch {
	case i < len(pts) && pts[i].n == x:
		return ms(pts[i].ms)
	case i == 0:
		return ms(pts[0].ms * x / pts[0].n)
	case i == len(pts):
		i = len(pts) - 1
	}
	a, b := pts[i-1], pts[i]
	return ms(a.ms + (x-a.n)*(b.ms-a.ms)/(b.n-a.n))
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// Config is one simulated scenario.
type Config struct {
	Seed         uint64
	Duration     time.Duration                 // arrivals stop after it; the run goes on until the queue is empty
	Rate         func(t time.Duration) float64 // items (requests of TextsPerItem) per second at t
	TextsPerItem int

	Latency    Latency
	FetchBatch int           // items a worker takes per pull (run as one Engine batch)
	AckWait    time.Duration // redelivery after this without an ack
	Progress   bool          // workers send progress acks (sie) or not
	NakDelay   time.Duration // hand-back delay while a model is not loaded (without Progress)
	MaxDeliver int
	ColdLoad   time.Duration // model load time on a new worker

	// Autoscaling (KEDA nats-jetstream): every Poll the desired workers are
	// ceil(lag / LagThreshold) within [MinWorkers, MaxWorkers]; a new worker
	// serves after StartDelay (+ ColdLoad); scale-in waits Cooldown.
	MinWorkers, MaxWorkers int
	// ColdStart starts the first workers with the model not loaded (scale
	// from zero, or a model nobody has loaded yet).
	ColdStart        bool
	LagThreshold     int
	Poll, StartDelay time.Duration
	Cooldown         time.Duration
}

// Result sums up a run.
type Result struct {
	Arrived, Done, DeadLettered, Duplicates int
	P50, P99, Max                           time.Duration // arrival to ack of done items
	MaxLag                                  int
	WorkerSeconds                           float64
	MaxWorkers                              int
}

type item struct {
	id         int
	arrived    time.Duration
	deliveries int
	done       bool
}

type event struct {
	at    time.Duration
	seq   int
	kind  int
	w     *worker
	it    *item
	gen   int     // delivery generation for ack-wait timers
	batch []*item // evBatchDone
}

const (
	evArrive = iota
	evBatchDone
	evRedeliver // ack wait expired or nak delay over
	evWorkerReady
	evPoll
)

type events []*event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	if e[i].at != e[j].at {
		return e[i].at < e[j].at
	}
	return e[i].seq < e[j].seq
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(*event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

type worker struct {
	ready     bool // started (and, with progress acks, model loaded)
	busy      bool
	stopped   bool
	preloaded bool
	loading   bool // nak path: first delivery seen, model loading
	loadAt    time.Duration
}

// Run simulates cfg.
func Run(cfg Config) Result {
	s := &state{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed))}
	return s.run()
}

type state struct {
	cfg     Config
	rng     *rand.Rand
	q       events
	seq     int
	now     time.Duration
	queue   []*item // pending, in stream order
	gens    map[int]int
	workers []*worker
	lastUp  time.Duration
	res     Result
	lat     []time.Duration
	nextID  int
}

func (s *state) at(d time.Duration, e *event) {
	s.seq++
	e.at, e.seq = d, s.seq
	heap.Push(&s.q, e)
}

func (s *state) active() int {
	n := 0
	for _, w := range s.workers {
		if !w.stopped {
			n++
		}
	}
	return n
}

// inflight counts items delivered and not yet acked or dead-lettered.
func (s *state) inflight() int { return len(s.gens) }

// addWorker starts a worker: preloaded ones serve at once; new ones after
// StartDelay, plus ColdLoad with progress acks (sie loads before taking
// items). On the nak path the model loads on the first delivery instead.
func (s *state) addWorker(preloaded bool) {
	w := &worker{preloaded: preloaded}
	s.workers = append(s.workers, w)
	var delay time.Duration
	if !preloaded {
		delay = s.cfg.StartDelay
		if s.cfg.Progress {
			delay += s.cfg.ColdLoad
		}
	}
	s.at(s.now+delay, &event{kind: evWorkerReady, w: w})
}

func (s *state) run() Result {
	c := s.cfg
	s.gens = map[int]int{}
	for range max(c.MinWorkers, 1) {
		if c.ColdStart {
			s.addWorker(false)
		} else {
			s.addWorker(true)
		}
	}
	s.at(s.nextArrival(), &event{kind: evArrive})
	if c.Poll > 0 {
		s.at(c.Poll, &event{kind: evPoll})
	}
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(*event)
		s.account(e.at)
		s.now = e.at
		switch e.kind {
		case evArrive:
			if s.now > c.Duration {
				continue
			}
			s.nextID++
			s.queue = append(s.queue, &item{id: s.nextID, arrived: s.now})
			s.res.Arrived++
			s.at(s.nextArrival(), &event{kind: evArrive})
		case evWorkerReady:
			if !e.w.stopped {
				e.w.ready = true
			}
		case evBatchDone:
			e.w.busy = false
			for _, it := range e.batch {
				if it.done {
					s.res.Duplicates++
					continue
				}
				it.done = true
				delete(s.gens, it.id)
				s.res.Done++
				s.lat = append(s.lat, s.now-it.arrived)
			}
		case evRedeliver:
			if e.it.done || s.gens[e.it.id] != e.gen {
				continue
			}
			if e.it.deliveries >= c.MaxDeliver {
				delete(s.gens, e.it.id)
				e.it.done = true
				s.res.DeadLettered++
				continue
			}
			s.queue = append([]*item{e.it}, s.queue...)
		case evPoll:
			s.autoscale()
			if s.now < c.Duration || len(s.queue) > 0 || s.inflight() > 0 {
				s.at(s.now+c.Poll, &event{kind: evPoll})
			}
		}
		s.dispatch()
		if lag := len(s.queue) + s.inflight(); lag > s.res.MaxLag {
			s.res.MaxLag = lag
		}
	}
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	if n := len(s.lat); n > 0 {
		s.res.P50, s.res.P99, s.res.Max = s.lat[n/2], s.lat[min(n-1, n*99/100)], s.lat[n-1]
	}
	return s.res
}

func (s *state) nextArrival() time.Duration {
	r := s.cfg.Rate(s.now)
	if r <= 0 {
		return s.now + time.Second
	}
	return s.now + time.Duration(s.rng.ExpFloat64()/r*float64(time.Second))
}

// account adds worker time up to t.
func (s *state) account(t time.Duration) {
	dt := (t - s.now).Seconds()
	s.res.WorkerSeconds += dt * float64(s.active())
	if a := s.active(); a > s.res.MaxWorkers {
		s.res.MaxWorkers = a
	}
}

// dispatch gives idle ready workers a batch each.
func (s *state) dispatch() {
	c := s.cfg
	// Acked items leave the stream; a redelivery queued before the ack is
	// void.
	live := s.queue[:0]
	for _, it := range s.queue {
		if !it.done {
			live = append(live, it)
		}
	}
	s.queue = live
	for _, w := range s.workers {
		if !w.ready || w.busy || w.stopped || len(s.queue) == 0 {
			continue
		}
		n := min(c.FetchBatch, len(s.queue))
		batch := append([]*item(nil), s.queue[:n]...)
		s.queue = s.queue[n:]
		for _, it := range batch {
			it.deliveries++
			s.gens[it.id]++
		}
		// The nak path: a worker whose model is not loaded hands the batch
		// back with a delay and loads it in the background.
		if !c.Progress && !w.loadedAt(s.now, c.ColdLoad) {
			for _, it := range batch {
				s.at(s.now+c.NakDelay, &event{kind: evRedeliver, it: it, gen: s.gens[it.id]})
			}
			continue
		}
		d := c.Latency.Of(n * c.TextsPerItem)
		w.busy = true
		s.at(s.now+d, &event{kind: evBatchDone, w: w, batch: batch})
		if !c.Progress && d > c.AckWait {
			// No progress acks: JetStream gives the items to another worker
			// when the batch outlasts the ack wait.
			for _, it := range batch {
				s.at(s.now+c.AckWait, &event{kind: evRedeliver, it: it, gen: s.gens[it.id]})
			}
		}
	}
}

// loadedAt says whether the worker's model is loaded at t, starting the
// load on the first delivery (nak path).
func (w *worker) loadedAt(t, load time.Duration) bool {
	if w.preloaded {
		return true
	}
	if !w.loading {
		w.loading, w.loadAt = true, t+load
	}
	return t >= w.loadAt
}

// autoscale is KEDA's nats-jetstream rule on the consumer's lag.
func (s *state) autoscale() {
	c := s.cfg
	lag := len(s.queue) + s.inflight()
	want := int(math.Ceil(float64(lag) / float64(c.LagThreshold)))
	want = max(c.MinWorkers, min(c.MaxWorkers, want))
	have := s.active()
	switch {
	case want > have:
		for range want - have {
			s.addWorker(false)
		}
		s.lastUp = s.now
	case want < have && s.now-s.lastUp >= c.Cooldown:
		for i := len(s.workers) - 1; i >= 0 && have > want; i-- {
			if w := s.workers[i]; !w.stopped && !w.busy {
				w.stopped, w.ready = true, false
				have--
			}
		}
	}
}
