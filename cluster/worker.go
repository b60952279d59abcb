package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/sie-project/sie"
)

// Engine is what a Worker needs of a *sie.Engine: its calls, and loading
// models ahead of a call so that a cold model does not eat the item's
// delivery budget.
type Engine interface {
	sie.Service
	Info(ctx context.Context, model string) (sie.ModelInfo, error)
	Tokenize(ctx context.Context, model string, texts []string, opts ...sie.Option) ([][]sie.Token, error)
	EmbedIDs(ctx context.Context, model string, inputs [][]int) ([][]float32, error)
	Load(ctx context.Context, model string) error
	Stats() sie.Stats
}

var _ Engine = (*sie.Engine)(nil)

// WorkerOptions configures a Worker. The zero value serves the default lane
// with SIE's consumer settings.
type WorkerOptions struct {
	// Lane is the pool, profile and bundle whose items the worker takes.
	Lane Lane
	// ID names the worker in replies and logs; "" means host name plus a
	// random suffix.
	ID string
	// Preload lists models loaded before the worker takes any item.
	Preload []string
	// Concurrency caps the items the worker holds at once (each one call
	// into the Engine, whose batcher batches them together); zero means 64.
	Concurrency int
	// FetchBatch caps the items asked for in one pull; zero means
	// Concurrency.
	FetchBatch int
	// AckWait is how long an item may stay unanswered before JetStream
	// gives it to another worker; zero means 30 s. While a model loads or a
	// call runs, the worker extends it with progress acknowledgements.
	AckWait time.Duration
	// MaxDeliver is how often an item is delivered before it goes to the
	// dead-letter stream; zero means 20.
	MaxDeliver int
	// NakDelay is how long an item handed back waits before redelivery
	// (its model does not fit the memory budget now, or the Engine is
	// overloaded); zero means 5 s.
	NakDelay time.Duration
	// DrainTimeout bounds how long Run lets held items finish after its
	// context ends; items still running are then handed back at once. Zero
	// means half of AckWait.
	DrainTimeout time.Duration
	// Stream shapes the pool's stream if this worker is the first to
	// create it.
	Stream StreamOptions
	// Logger receives diagnostics; nil means none.
	Logger *slog.Logger
}

func (o WorkerOptions) withDefaults() WorkerOptions {
	o.Lane = o.Lane.withDefaults()
	if o.ID == "" {
		host, _ := os.Hostname()
		o.ID = host + "-" + nuid.Next()[16:]
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.FetchBatch <= 0 || o.FetchBatch > o.Concurrency {
		o.FetchBatch = o.Concurrency
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = 20
	}
	if o.NakDelay <= 0 {
		o.NakDelay = 5 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = o.AckWait / 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// WorkerStats counts what a worker did since it started.
type WorkerStats struct {
	Items        int64 // items answered (with a result or a caller error)
	Texts        int64 // texts or documents in them
	Redelivered  int64 // answered items that an earlier delivery had not finished
	Loads        int64 // items that waited for their model to load
	HandedBack   int64 // items returned for later delivery (budget, overload, drain)
	Expired      int64 // items dropped because their caller's deadline had passed
	DeadLettered int64 // items this worker moved to the dead-letter stream
}

// Worker takes work items of one lane from JetStream into an Engine and
// answers them. Several workers, in one process or many, share a lane.
type Worker struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	eng  Engine
	opts WorkerOptions

	items, texts, redelivered, loads, handedBack, expired, deadLettered atomic.Int64
}

// NewWorker returns a worker of the lane in opts; Run starts it.
func NewWorker(nc *nats.Conn, eng Engine, opts WorkerOptions) (*Worker, error) {
	if nc == nil || eng == nil {
		return nil, errors.New("sie/cluster: NewWorker needs a NATS connection and an Engine")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &Worker{nc: nc, js: js, eng: eng, opts: opts.withDefaults()}, nil
}

// ID is the worker's name.
func (w *Worker) ID() string { return w.opts.ID }

// Stats returns the worker's counters.
func (w *Worker) Stats() WorkerStats {
	return WorkerStats{
		Items: w.items.Load(), Texts: w.texts.Load(), Redelivered: w.redelivered.Load(), Loads: w.loads.Load(),
		HandedBack: w.handedBack.Load(), Expired: w.expired.Load(), DeadLettered: w.deadLettered.Load(),
	}
}

// Run loads the preloaded models, then takes and answers items until ctx
// ends. It then stops taking items, lets the ones it holds finish within
// DrainTimeout (hands the rest back for immediate redelivery) and returns
// nil; it returns an error when it cannot start or NATS fails for good.
func (w *Worker) Run(ctx context.Context) error {
	o := w.opts
	for _, m := range o.Preload {
		if err := w.eng.Load(ctx, m); err != nil {
			return fmt.Errorf("sie/cluster: preloading %s: %w", m, err)
		}
	}
	if err := EnsureStream(ctx, w.js, o.Lane.Pool, o.Stream); err != nil {
		return err
	}
	stream := StreamName(o.Lane.Pool)
	cons, err := w.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       ConsumerName(o.Lane),
		Description:   "sie workers of lane " + o.Lane.String(),
		FilterSubject: LaneFilter(o.Lane),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    o.MaxDeliver,
		MaxAckPending: 1000,
	})
	if err != nil {
		return fmt.Errorf("%w: consumer %s: %w", ErrUnavailable, ConsumerName(o.Lane), err)
	}

	// Items past their delivery limit: the server announces them; one
	// worker of the lane (a queue group) moves each to the dead-letter
	// stream and tells its caller.
	dlq, err := w.nc.QueueSubscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."+stream+"."+ConsumerName(o.Lane),
		"sie-dlq", w.deadLetter)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer dlq.Unsubscribe()
	// Presence: clients ask before publishing, so that a lane without
	// workers fails at once with ErrProvisioning instead of timing out.
	presence, err := w.nc.QueueSubscribe(presenceSubject(o.Lane), "sie-workers", func(m *nats.Msg) {
		_ = m.Respond([]byte(o.ID))
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer presence.Unsubscribe()
	if err := w.nc.Flush(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	o.Logger.Info("sie/cluster: worker started", "worker", o.ID, "lane", o.Lane.String(), "stream", stream)

	// Items run under work, which outlives ctx by DrainTimeout.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	slots := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	var runErr error
	for ctx.Err() == nil {
		// Take one free slot (waiting for it), then as many more as are
		// free, and ask for that many items.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		n := 1
	more:
		for n < o.FetchBatch {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(500*time.Millisecond))
		if err == nil {
			for msg := range batch.Messages() {
				n--
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					w.handle(work, msg)
				}()
			}
			err = batch.Error()
		}
		for ; n > 0; n-- {
			<-slots
		}
		if err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			if w.nc.IsClosed() {
				runErr = fmt.Errorf("%w: connection closed", ErrUnavailable)
				break
			}
			o.Logger.Warn("sie/cluster: fetch failed", "worker", o.ID, "err", err)
			select {
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
	// Drain: no new items; stop answering presence so clients see the lane
	// as it will be once the held items are done.
	_ = presence.Unsubscribe()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(o.DrainTimeout):
		cancelWork() // handle hands back what is still running
		<-done
	}
	o.Logger.Info("sie/cluster: worker stopped", "worker", o.ID)
	return runErr
}

// handle runs one item and settles it: ack after the answer is published,
// hand back (nak with a delay) when it cannot run here now, terminate when
// it cannot be read.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	o := w.opts
	var it workItem
	if err := json.Unmarshal(msg.Data(), &it); err != nil || it.V != wireVersion {
		o.Logger.Warn("sie/cluster: unreadable work item terminated", "worker", o.ID, "subject", msg.Subject(), "err", err, "version", it.V)
		_ = msg.Term()
		return
	}
	if it.Deadline != 0 && time.Now().UnixMilli() > it.Deadline {
		w.expired.Add(1)
		_ = msg.Ack()
		return
	}
	// Keep the item ours while a model loads or the call runs.
	stop := w.keepInProgress(msg)
	defer stop()

	if _, ok := w.eng.Stats().Models[it.Model]; !ok {
		err := w.eng.Load(ctx, it.Model)
		switch {
		case err == nil:
			w.loads.Add(1)
		case ctx.Err() != nil:
			w.handBack(msg, 0)
			return
		case errors.Is(err, sie.ErrResourceExhausted):
			// Models in use hold the budget; another worker (or this one
			// later) may have room.
			o.Logger.Info("sie/cluster: model does not fit the memory budget now; handed back", "worker", o.ID, "model", it.Model, "err", err)
			w.handBack(msg, o.NakDelay)
			return
		default:
			// A load error the caller must see (unknown model, bad
			// files): answer it; it does not get better elsewhere.
			w.answer(msg, &it, workResult{Err: toWireError(err)})
			return
		}
	}
	res, err := w.run(ctx, &it)
	switch {
	case ctx.Err() != nil:
		w.handBack(msg, 0)
	case errors.Is(err, sie.ErrOverloaded), errors.Is(err, sie.ErrResourceExhausted), errors.Is(err, sie.ErrClosed):
		w.handBack(msg, o.NakDelay)
	case err != nil:
		w.answer(msg, &it, workResult{Err: toWireError(err)})
	default:
		w.answer(msg, &it, res)
	}
}

// keepInProgress sends progress acknowledgements every third of AckWait
// until the returned stop is called.
func (w *Worker) keepInProgress(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(w.opts.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

func (w *Worker) handBack(msg jetstream.Msg, delay time.Duration) {
	w.handedBack.Add(1)
	if delay > 0 {
		_ = msg.NakWithDelay(delay)
	} else {
		_ = msg.Nak()
	}
}

func (w *Worker) run(ctx context.Context, it *workItem) (workResult, error) {
	switch it.Op {
	case opEmbed:
		v, err := w.eng.Embed(ctx, it.Model, it.Texts, it.Options.Options()...)
		return workResult{Vectors: v}, err
	case opEncode:
		var eo sie.EncodeOptions
		if it.Encode != nil {
			eo = *it.Encode
		}
		e, err := w.eng.Encode(ctx, it.Model, it.Texts, eo)
		return workResult{Encodings: e}, err
	case opInfo:
		info, err := w.eng.Info(ctx, it.Model)
		return workResult{Info: &infoWire{ModelInfo: info, Outputs: info.Outputs}}, err
	case opTokenize:
		tok, err := w.eng.Tokenize(ctx, it.Model, it.Texts, it.Options.Options()...)
		return workResult{Tokens: tok}, err
	case opEmbedIDs:
		v, err := w.eng.EmbedIDs(ctx, it.Model, it.IDs)
		return workResult{Vectors: v}, err
	case opLoad:
		return workResult{}, w.eng.Load(ctx, it.Model)
	case opRerank:
		r, err := w.eng.Rerank(ctx, it.Model, it.Query, it.Texts, it.Options.Options()...)
		res := workResult{Ranked: make([]rankedWire, len(r))}
		for i, x := range r {
			res.Ranked[i] = rankedWire{Index: x.Index, Score: x.Score}
		}
		return res, err
	}
	return workResult{}, &sie.ModelError{Model: it.Model, Op: it.Op, Err: fmt.Errorf("%w: unknown operation %q", sie.ErrInvalidInput, it.Op)}
}

// answer publishes the result and then acks; a reply that cannot be sent
// leaves the item unacked, so it is delivered again.
func (w *Worker) answer(msg jetstream.Msg, it *workItem, res workResult) {
	res.V, res.Request, res.Part, res.Worker = wireVersion, it.Request, it.Part, w.opts.ID
	data, err := json.Marshal(res)
	if err == nil && int64(len(data)) > w.nc.MaxPayload() {
		res = workResult{V: wireVersion, Request: it.Request, Part: it.Part, Worker: w.opts.ID, Err: &wireError{
			Code: "invalid_input", Model: it.Model, Op: it.Op,
			Message: fmt.Sprintf("sie: invalid input: the result of %d items is %d bytes, over the NATS payload limit of %d; send fewer items per message (ClientOptions.MaxItems)", len(it.Texts), len(data), w.nc.MaxPayload()),
		}}
		data, err = json.Marshal(res)
	}
	if err != nil {
		w.opts.Logger.Error("sie/cluster: encoding a result", "worker", w.opts.ID, "err", err)
		_ = msg.Term()
		return
	}
	if err := w.nc.Publish(it.ReplyTo, data); err != nil {
		w.opts.Logger.Warn("sie/cluster: reply failed; item left for redelivery", "worker", w.opts.ID, "err", err)
		return
	}
	if meta, err := msg.Metadata(); err == nil && meta.NumDelivered > 1 {
		w.redelivered.Add(1)
	}
	w.items.Add(1)
	w.texts.Add(int64(len(it.Texts) + len(it.IDs)))
	_ = msg.Ack()
}

// maxDeliveriesAdvisory is the part of JetStream's max-deliveries advisory
// the worker reads.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// deadLetter moves an item that reached its delivery limit to the
// dead-letter stream, removes it from the work stream (a work queue keeps
// it otherwise) and answers its caller with ErrDeadLetter.
func (w *Worker) deadLetter(m *nats.Msg) {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(m.Data, &adv); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := w.js.Stream(ctx, adv.Stream)
	if err != nil {
		return
	}
	raw, err := st.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return // already gone (answered late, or moved by another worker)
	}
	var it workItem
	_ = json.Unmarshal(raw.Data, &it)
	dl := nats.NewMsg(DeadLetterSubject(w.opts.Lane.Pool, it.Model))
	dl.Data = raw.Data
	dl.Header.Set("Sie-Stream", adv.Stream)
	dl.Header.Set("Sie-Subject", raw.Subject)
	dl.Header.Set("Sie-Stream-Seq", fmt.Sprint(adv.StreamSeq))
	dl.Header.Set("Sie-Deliveries", fmt.Sprint(adv.Deliveries))
	if _, err := w.js.PublishMsg(ctx, dl, jetstream.WithMsgID(fmt.Sprintf("dlq.%s.%d", adv.Stream, adv.StreamSeq))); err != nil {
		w.opts.Logger.Warn("sie/cluster: moving an item to the dead-letter stream failed", "worker", w.opts.ID, "err", err)
		return
	}
	_ = st.DeleteMsg(ctx, adv.StreamSeq)
	w.deadLettered.Add(1)
	w.opts.Logger.Warn("sie/cluster: item moved to the dead-letter stream", "worker", w.opts.ID, "model", it.Model,
		"stream_seq", adv.StreamSeq, "deliveries", adv.Deliveries)
	if it.ReplyTo != "" {
		res := workResult{V: wireVersion, Request: it.Request, Part: it.Part, Worker: w.opts.ID, Err: &wireError{
			Code: "dead_letter", Model: it.Model, Op: it.Op,
			Message: fmt.Sprintf("%s %s after %d deliveries (was %s sequence %d)", ErrDeadLetter, DeadLetterStream, adv.Deliveries, adv.Stream, adv.StreamSeq),
		}}
		if data, err := json.Marshal(res); err == nil {
			_ = w.nc.Publish(it.ReplyTo, data)
		}
	}
}
