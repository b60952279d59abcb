package sie

import (
	"context"
	"slices"
	"sync"
)

// sequence is one tokenized text.
type sequence struct {
	ids, types []int32
}

// Shape grid. XLA compiles one program per input shape, so batches are
// padded up to the next grid point: lengths grow by about 1.5× per step and
// row counts double. Both grids are documented on Options.
var (
	lengthGrid = []int{8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192}
	rowGrid    = []int{1, 2, 4, 8, 16, 32, 64, 128, 256}
)

// maxCompiledShapes bounds each model's executable cache.
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

// pack lays sequences out one per row, padded to the grid.
func (m *model) pack(seqs []sequence) *deviceBatch {
	longest := 1
	for _, s := range seqs {
		longest = max(longest, len(s.ids))
	}
	b := &deviceBatch{rows: snap(rowGrid, len(seqs)), length: snap(lengthGrid, longest), slots: 1}
	n := b.rows * b.length
	b.ids = make([]int32, n)
	b.types = make([]int32, n)
	b.pos = make([]int32, n)
	b.seg = make([]int32, n)
	b.first = make([]int32, b.rows)
	b.last = make([]int32, b.rows)
	for i := range b.ids {
		b.ids[i] = int32(m.padID)
	}
	for r, s := range seqs {
		off := r * b.length
		copy(b.ids[off:], s.ids)
		copy(b.types[off:], s.types)
		for t := range s.ids {
			b.pos[off+t] = int32(m.info.PositionOffset + t)
			b.seg[off+t] = 1
		}
		b.last[r] = int32(len(s.ids) - 1)
		b.where = append(b.where, [2]int{r, 0})
		b.start = append(b.start, 0)
		b.seqLen = append(b.seqLen, len(s.ids))
	}
	return b
}

// request is one caller's texts waiting for the model's worker.
type request struct {
	ctx     context.Context
	outputs outputSet
	seqs    []sequence
	out     []result
	err     error
	done    chan struct{}
}

// batcher owns one model's queue: callers tokenize in their own goroutine and
// enqueue; a single worker goroutine forms batches within the token budget,
// runs them and hands each caller its vectors.
type batcher struct {
	m         *model
	queue     chan *request
	quit      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
	maxTokens int
	maxRows   int
}

func newBatcher(m *model, queueSize, maxTokens, maxRows int) *batcher {
	b := &batcher{
		m: m, queue: make(chan *request, queueSize), quit: make(chan struct{}), stopped: make(chan struct{}),
		maxTokens: maxTokens, maxRows: maxRows,
	}
	go b.loop()
	return b
}

// submit enqueues seqs and waits for their outputs.
func (b *batcher) submit(ctx context.Context, outputs outputSet, seqs []sequence) ([]result, error) {
	r := &request{ctx: ctx, outputs: outputs, seqs: seqs, done: make(chan struct{})}
	select {
	case <-b.quit:
		return nil, ErrClosed
	default:
	}
	select {
	case b.queue <- r:
	case <-b.quit:
		return nil, ErrClosed
	default:
		return nil, ErrOverloaded
	}
	select {
	case <-r.done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close stops accepting work, finishes what is queued and waits for the
// worker. It is safe to call more than once.
func (b *batcher) close() {
	b.closeOnce.Do(func() { close(b.quit) })
	<-b.stopped
}

func (b *batcher) loop() {
	defer close(b.stopped)
	for {
		var first *request
		select {
		case first = <-b.queue:
		case <-b.quit:
			// Drain: whatever was admitted before Close still gets an answer.
			for {
				select {
				case r := <-b.queue:
					b.process([]*request{r})
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
		b.process(pending)
	}
}

func countTokens(seqs []sequence) int {
	n := 0
	for _, s := range seqs {
		n += len(s.ids)
	}
	return n
}

// item is one sequence of one request.
type item struct {
	r   *request
	idx int
}

// process runs every live request of pending, grouped by the outputs they
// ask for: sequences sorted by length (longest first) and cut into batches
// whose padded size fits the budget.
func (b *batcher) process(pending []*request) {
	groups := map[outputSet][]*request{}
	var order []outputSet
	for _, r := range pending {
		if _, ok := groups[r.outputs]; !ok {
			order = append(order, r.outputs)
		}
		groups[r.outputs] = append(groups[r.outputs], r)
	}
	for _, o := range order {
		b.processGroup(o, groups[o])
	}
}

func (b *batcher) processGroup(outputs outputSet, pending []*request) {
	var items []item
	for _, r := range pending {
		if err := r.ctx.Err(); err != nil {
			r.err = err // dropped before it reaches the device
			close(r.done)
			continue
		}
		r.out = make([]result, len(r.seqs))
		for i := range r.seqs {
			items = append(items, item{r, i})
		}
	}
	slices.SortStableFunc(items, func(a, c item) int {
		return len(c.r.seqs[c.idx].ids) - len(a.r.seqs[a.idx].ids)
	})
	for start := 0; start < len(items); {
		length := snap(lengthGrid, len(items[start].r.seqs[items[start].idx].ids))
		rows := max(1, min(b.maxRows, b.maxTokens/length))
		// Keep to a grid row count so a full batch needs no padding rows.
		for i := len(rowGrid) - 1; i >= 0; i-- {
			if rowGrid[i] <= rows {
				rows = rowGrid[i]
				break
			}
		}
		end := min(len(items), start+rows)
		b.runBatch(outputs, items[start:end])
		start = end
	}
	for _, r := range pending {
		if r.out == nil {
			continue // answered above
		}
		if r.err == nil && slices.ContainsFunc(r.out, func(v result) bool { return v.dense == nil && v.logits == nil }) {
			// Cancelled while its batches were being formed.
			r.err = r.ctx.Err()
		}
		if r.err != nil {
			r.out = nil
		}
		close(r.done)
	}
}

func (b *batcher) runBatch(outputs outputSet, items []item) {
	var live []item
	for _, it := range items {
		if it.r.err == nil && it.r.ctx.Err() == nil {
			live = append(live, it)
		}
	}
	if len(live) == 0 {
		return
	}
	seqs := make([]sequence, len(live))
	for i, it := range live {
		seqs[i] = it.r.seqs[it.idx]
	}
	res, err := b.m.run(outputs, b.m.pack(seqs))
	for i, it := range live {
		if err != nil {
			it.r.err = err
			continue
		}
		it.r.out[it.idx] = res[i]
	}
}
