package sie

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sie-project/sie/internal/testhook"
)

// sequence is one tokenized text.
type sequence struct {
	ids, types []int32
}

// Shape grid. XLA compiles one program per input shape, so a batch is padded
// up to the next grid point: row lengths and row counts grow by about 1.5×
// per step (so padding wastes at most a third), packed segments per row
// double (they cost almost nothing). Options documents the same
// numbers (a test keeps the two in step).
var (
	lengthGrid = []int{8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192}
	rowGrid    = []int{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256}
	slotGrid   = []int{1, 2, 4, 8, 16, 32, 64}
)

// maxCompiledShapes bounds each model's executable cache per output set.
const maxCompiledShapes = 64

// snap returns the smallest grid value ≥ n, or n when it is beyond the grid.
func snap(grid []int, n int) int {
	for _, g := range grid {
		if g >= n {
			return g
		}
	}
	return n
}

// snapDown returns the largest grid value ≤ n (at least the grid's first).
func snapDown(grid []int, n int) int {
	best := grid[0]
	for _, g := range grid {
		if g <= n {
			best = g
		}
	}
	return best
}

// pack lays sequences out one per row (no packing), padded to the grid.
func (m *model) pack(seqs []sequence) *deviceBatch {
	rows := make([][]int, len(seqs))
	for i := range seqs {
		rows[i] = []int{i}
	}
	return m.layout(seqs, rows)
}

// layout builds a device batch: rows[r] lists the sequences packed, in order,
// into row r. Rows, row length and segments per row are snapped to the grid.
// Each sequence's positions restart at the architecture's offset, and its
// segment number (1-based) keeps attention and pooling inside it.
func (m *model) layout(seqs []sequence, rows [][]int) *deviceBatch {
	longest, slots := 1, 1
	for _, row := range rows {
		n := 0
		for _, i := range row {
			n += len(seqs[i].ids)
		}
		longest, slots = max(longest, n), max(slots, len(row))
	}
	b := &deviceBatch{rows: snap(rowGrid, len(rows)), length: snap(lengthGrid, longest), slots: snap(slotGrid, slots)}
	n := b.rows * b.length
	b.ids = make([]int32, n)
	b.types = make([]int32, n)
	b.pos = make([]int32, n)
	b.seg = make([]int32, n)
	b.first = make([]int32, b.rows*b.slots)
	b.last = make([]int32, b.rows*b.slots)
	for i := range b.ids {
		b.ids[i] = int32(m.padID)
	}
	b.where = make([][2]int, len(seqs))
	b.start = make([]int, len(seqs))
	b.seqLen = make([]int, len(seqs))
	for r, row := range rows {
		at := 0
		for slot, i := range row {
			s := seqs[i]
			off := r*b.length + at
			copy(b.ids[off:], s.ids)
			copy(b.types[off:], s.types)
			for t := range s.ids {
				b.pos[off+t] = int32(m.info.PositionOffset + t)
				b.seg[off+t] = int32(slot + 1)
			}
			b.first[r*b.slots+slot] = int32(at)
			b.last[r*b.slots+slot] = int32(at + len(s.ids) - 1)
			b.where[i] = [2]int{r, slot}
			b.start[i] = at
			b.seqLen[i] = len(s.ids)
			at += len(s.ids)
		}
	}
	return b
}

// request is one caller's sequences waiting for the model's worker.
type request struct {
	ctx      context.Context
	outputs  outputSet
	seqs     []sequence
	out      []result
	err      error
	left     int // sequences not yet answered; owned by the runner
	enqueued time.Time
	done     chan struct{}
}

// finish answers the request; called once, by the runner.
func (r *request) finish(err error) {
	if r.err == nil {
		r.err = err
	}
	if r.err != nil {
		r.out = nil
	}
	close(r.done)
}

// item is one sequence of one request.
type item struct {
	r   *request
	idx int
}

func (it item) len() int { return len(it.r.seqs[it.idx].ids) }

// planned is a batch ready for the device.
type planned struct {
	outputs outputSet
	items   []item // in batch order
	batch   *deviceBatch
	// cancelled lists requests dropped whole before planning.
	cancelled []*request
}

// batcher owns one model's queue. Callers tokenize in their own goroutine
// and enqueue; the planner goroutine takes what is waiting, sorts it by
// length and cuts it into packed batches within the token budget; the runner
// goroutine executes them and answers the callers. The planner prepares the
// next batch while the runner's batch is on the device.
type batcher struct {
	m         *model
	queue     chan *request
	batches   chan *planned
	quit      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once

	maxTokens, maxRows int
	packing            bool

	// device is held while a batch runs, by the runner or by a caller on
	// the direct path; inflight counts admitted requests not yet answered.
	device   sync.Mutex
	inflight atomic.Int64

	stats *modelStats
}

func newBatcher(m *model, o Options) *batcher {
	b := &batcher{
		m: m, queue: make(chan *request, o.QueueSize), batches: make(chan *planned, 1),
		quit: make(chan struct{}), stopped: make(chan struct{}),
		maxTokens: o.MaxBatchTokens, maxRows: o.MaxBatchRows, packing: !o.DisablePacking,
		stats: newModelStats(),
	}
	runnerDone := make(chan struct{})
	go b.plan()
	go func() {
		defer close(runnerDone)
		b.run()
	}()
	go func() {
		<-runnerDone
		close(b.stopped)
	}()
	return b
}

// submit enqueues seqs and waits for their outputs. A request that finds
// the model idle runs at once in the caller's goroutine (direct).
func (b *batcher) submit(ctx context.Context, outputs outputSet, seqs []sequence) ([]result, error) {
	r := &request{ctx: ctx, outputs: outputs, seqs: seqs, out: make([]result, len(seqs)), left: len(seqs),
		enqueued: time.Now(), done: make(chan struct{})}
	select {
	case <-b.quit:
		return nil, ErrClosed
	default:
	}
	if ok, err := b.direct(r); ok {
		return r.out, err
	}
	b.inflight.Add(1)
	select {
	case b.queue <- r:
	case <-b.quit:
		b.inflight.Add(-1)
		return nil, ErrClosed
	default:
		b.inflight.Add(-1)
		b.stats.overloaded()
		return nil, ErrOverloaded
	}
	select {
	case <-r.done:
		b.stats.latency(time.Since(r.enqueued))
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// direct runs r at once when nothing else is admitted, the device is free
// and r fits one batch: a lone request on an idle model then skips the
// hand-offs to the planner and the runner. It reports false, having done
// nothing, when r must take the queue. The batch runs in a goroutine of
// its own that holds the device until it ends, so that the caller can
// still give up at its deadline; it goes through runBatch like the
// runner's batches (panic isolation, test hooks, per-text errors).
func (b *batcher) direct(r *request) (bool, error) {
	if b.inflight.Load() != 0 || !b.device.TryLock() {
		return false, nil
	}
	handedOff := false
	defer func() {
		if !handedOff {
			b.device.Unlock()
		}
	}()
	select {
	case <-b.quit: // close is waiting for this lock before releasing the model
		return true, ErrClosed
	default:
	}
	if b.inflight.Load() != 0 {
		return false, nil // queued work came first
	}
	if err := r.ctx.Err(); err != nil {
		return true, err
	}
	items := make([]item, len(r.seqs))
	for i := range items {
		items[i] = item{r, i}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].len() > items[j].len() })
	batch, rows, rest := b.cut(items)
	if len(rest) > 0 {
		return false, nil // more than one batch: the planner splits it
	}
	seqs := make([]sequence, len(batch))
	for i, it := range batch {
		seqs[i] = r.seqs[it.idx]
	}
	db := b.m.layout(seqs, rows)
	var (
		res  []result
		err  error
		done = make(chan struct{})
	)
	handedOff = true
	go func() {
		defer close(done)
		defer b.device.Unlock()
		start := time.Now()
		res, err = b.runBatch(r.outputs, db)
		b.stats.batch(db, time.Since(start), b.m.noteShape(r.outputs, db))
	}()
	select {
	case <-done:
	case <-r.ctx.Done():
		return true, r.ctx.Err()
	}
	if err != nil {
		return true, err
	}
	for i, it := range batch {
		if res[i].err != nil {
			return true, res[i].err
		}
		r.out[it.idx] = res[i]
	}
	b.stats.latency(time.Since(r.enqueued))
	return true, nil
}

// close stops accepting work, finishes what was admitted and waits for both
// goroutines and any direct call. It is safe to call more than once.
func (b *batcher) close() {
	b.closeOnce.Do(func() { close(b.quit) })
	<-b.stopped
	// Only waiting for a direct call (see direct) to end.
	b.device.Lock()
	//lint:ignore SA2001 the critical section is the wait itself
	b.device.Unlock()
}

// plan is the planner goroutine.
func (b *batcher) plan() {
	defer close(b.batches)
	for {
		var first *request
		select {
		case first = <-b.queue:
		case <-b.quit:
			// Whatever was admitted before Close still gets an answer.
			for {
				select {
				case r := <-b.queue:
					b.planRequests([]*request{r})
				default:
					return
				}
			}
		}
		pending := []*request{first}
		tokens := countTokens(first.seqs)
	more:
		for tokens < b.maxTokens {
			select {
			case r := <-b.queue:
				pending = append(pending, r)
				tokens += countTokens(r.seqs)
			default:
				break more
			}
		}
		b.planRequests(pending)
	}
}

func countTokens(seqs []sequence) int {
	n := 0
	for _, s := range seqs {
		n += len(s.ids)
	}
	return n
}

// planRequests turns requests into batches, grouped by the outputs asked for.
func (b *batcher) planRequests(pending []*request) {
	groups := map[outputSet][]*request{}
	var order []outputSet
	for _, r := range pending {
		if _, ok := groups[r.outputs]; !ok {
			order = append(order, r.outputs)
		}
		groups[r.outputs] = append(groups[r.outputs], r)
	}
	for _, o := range order {
		b.planGroup(o, groups[o])
	}
}

// planGroup sorts the live sequences by length, longest first, and cuts them
// into batches: a batch's row length is its longest sequence snapped to the
// grid, its row count fits the token budget, and with packing each row is
// filled first-fit with the following (shorter) sequences.
func (b *batcher) planGroup(outputs outputSet, reqs []*request) {
	var items []item
	for _, r := range reqs {
		if r.ctx.Err() != nil {
			b.batches <- &planned{outputs: outputs, cancelled: []*request{r}}
			continue
		}
		for i := range r.seqs {
			items = append(items, item{r, i})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].len() > items[j].len() })
	for len(items) > 0 {
		var batch []item
		var rows [][]int
		batch, rows, items = b.cut(items)
		seqs := make([]sequence, len(batch))
		for i, it := range batch {
			seqs[i] = it.r.seqs[it.idx]
		}
		p := &planned{outputs: outputs, items: batch, batch: b.m.layout(seqs, rows)}
		b.batches <- p
	}
}

// cut takes the next batch from items (sorted longest first) and returns it,
// its row assignment, and the items left for later batches.
func (b *batcher) cut(items []item) (batch []item, rows [][]int, rest []item) {
	length := snap(lengthGrid, max(1, items[0].len()))
	maxRows := snapDown(rowGrid, max(1, min(b.maxRows, b.maxTokens/length)))
	if !b.packing {
		n := min(len(items), maxRows)
		for i := 0; i < n; i++ {
			rows = append(rows, []int{i})
		}
		return items[:n], rows, items[n:]
	}
	maxSlots := slotGrid[len(slotGrid)-1]
	free := []int{}
	for _, it := range items {
		n := it.len()
		placed := false
		for r := range rows {
			if free[r] >= n && len(rows[r]) < maxSlots {
				rows[r] = append(rows[r], len(batch))
				free[r] -= n
				placed = true
				break
			}
		}
		if !placed && len(rows) < maxRows {
			rows = append(rows, []int{len(batch)})
			free = append(free, length-n)
			placed = true
		}
		if placed {
			batch = append(batch, it)
		} else {
			rest = append(rest, it)
		}
	}
	return batch, rows, rest
}

// run is the runner goroutine: it executes planned batches in order and
// answers each request when its last sequence is done.
func (b *batcher) run() {
	for p := range b.batches {
		b.execute(p)
	}
}

func (b *batcher) execute(p *planned) {
	// The device may be busy with a direct call: wait for it first, then
	// drop sequences whose caller has gone away meanwhile, so that they
	// never reach the device.
	b.device.Lock()
	live := p.items[:0:0]
	for _, it := range p.items {
		if it.r.err == nil && it.r.ctx.Err() == nil {
			live = append(live, it)
		} else {
			b.answered(it.r, 1, it.r.ctx.Err())
		}
	}
	if len(live) == 0 {
		b.device.Unlock()
	} else {
		batch := p.batch
		if len(live) < len(p.items) {
			batch = b.relayout(live)
		}
		start := time.Now()
		res, err := b.runBatch(p.outputs, batch)
		b.stats.batch(batch, time.Since(start), b.m.noteShape(p.outputs, batch))
		b.device.Unlock()
		for i, it := range live {
			if err == nil {
				if res[i].err != nil {
					b.answered(it.r, 1, res[i].err)
					continue
				}
				it.r.out[it.idx] = res[i]
			}
			b.answered(it.r, 1, err)
		}
	}
	for _, r := range p.cancelled {
		b.answered(r, r.left, r.ctx.Err())
	}
}

// runBatch runs one batch on the model. A panic anywhere on the way (graph
// building, compiling, executing, reading the outputs) becomes an error for
// this batch's callers only: the runner goroutine survives, so the model
// keeps serving, and the model drops its compiled graphs, which the panic
// may have left half-built.
func (b *batcher) runBatch(outputs outputSet, batch *deviceBatch) (res []result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%w: internal failure while running a batch: %v", ErrBackend, r)
			b.m.dropExecs()
		}
	}()
	if testhook.Run != nil {
		testhook.Run(b.m.name)
	}
	return b.m.run(outputs, batch)
}

// relayout rebuilds a batch for the sequences still wanted.
func (b *batcher) relayout(items []item) *deviceBatch {
	seqs := make([]sequence, len(items))
	for i, it := range items {
		seqs[i] = it.r.seqs[it.idx]
	}
	if _, rows, rest := b.cut(items); len(rest) == 0 {
		return b.m.layout(seqs, rows)
	}
	return b.m.pack(seqs)
}

// answered records n answered sequences of r (with err, if any) and
// finishes r when none is left.
func (b *batcher) answered(r *request, n int, err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
	if r.left <= 0 {
		return
	}
	r.left -= n
	if r.left <= 0 {
		r.finish(nil)
		b.inflight.Add(-1)
	}
}
