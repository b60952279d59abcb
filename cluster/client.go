package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/sie-project/sie"
)

// ClientOptions configures a Client. The zero value sends to the default
// lane with sensible limits.
type ClientOptions struct {
	// Lane is where the client's work goes.
	Lane Lane
	// MaxItems caps the texts (or rerank documents) per message; zero means
	// 32. A request larger than that becomes several messages that workers
	// run in parallel; the answer of one message must fit NATS's maximum
	// payload (1 MiB by default).
	MaxItems int
	// MaxBytes caps the text bytes per message; zero means 256 KiB.
	MaxBytes int
	// Timeout bounds a call when its context has no earlier deadline; zero
	// means 30 s.
	Timeout time.Duration
	// LaneCheck is how long a worker's answer vouches that the lane is
	// served before the client asks again; zero means 2 s.
	LaneCheck time.Duration
	// Stream shapes the pool's stream if this client is the first to
	// create it.
	Stream StreamOptions
	// Logger receives diagnostics; nil means none.
	Logger *slog.Logger
}

func (o ClientOptions) withDefaults() ClientOptions {
	o.Lane = o.Lane.withDefaults()
	if o.MaxItems <= 0 {
		o.MaxItems = 32
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 10
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.LaneCheck <= 0 {
		o.LaneCheck = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Client runs Embed, Encode and Rerank on the workers of a lane. It
// satisfies sie.Service, so code written against an *sie.Engine runs against
// a cluster by changing the constructor. It is safe for concurrent use.
//
// Each call is split into messages of at most MaxItems texts, published to
// the lane's work subject with a message id (JetStream drops a repeated
// publish), and answered on the client's one reply inbox.
type Client struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	opts   ClientOptions
	inbox  string
	sub    *nats.Subscription
	stream string

	mu       sync.Mutex
	pending  map[string]chan workResult
	laneSeen time.Time
	closed   bool
}

var _ sie.Service = (*Client)(nil)

// NewClient ensures the lane's pool stream exists and subscribes the
// client's reply inbox.
func NewClient(ctx context.Context, nc *nats.Conn, opts ClientOptions) (*Client, error) {
	if nc == nil {
		return nil, errors.New("sie/cluster: NewClient needs a NATS connection")
	}
	o := opts.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := EnsureStream(ctx, js, o.Lane.Pool, o.Stream); err != nil {
		return nil, err
	}
	c := &Client{nc: nc, js: js, opts: o, inbox: nats.NewInbox(), stream: StreamName(o.Lane.Pool), pending: map[string]chan workResult{}}
	c.sub, err = nc.Subscribe(c.inbox+".*", c.receive)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return c, nil
}

// Close ends the client's subscription; calls in flight fail with
// ErrUnavailable. It does not close the NATS connection.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	return c.sub.Unsubscribe()
}

// Lane is where the client sends work.
func (c *Client) Lane() Lane { return c.opts.Lane }

func (c *Client) receive(m *nats.Msg) {
	var r workResult
	if err := json.Unmarshal(m.Data, &r); err != nil {
		c.opts.Logger.Warn("sie/cluster: unreadable reply dropped", "err", err)
		return
	}
	c.mu.Lock()
	ch := c.pending[r.Request]
	if ch != nil {
		select {
		case ch <- r:
		default: // a duplicate answer beyond the buffer: the part is answered already
		}
	}
	c.mu.Unlock()
}

// Embed embeds texts on the lane's workers, like Engine.Embed.
func (c *Client) Embed(ctx context.Context, model string, texts []string, opts ...sie.Option) ([][]float32, error) {
	co := sie.ReadOptions(opts...)
	parts := c.split(texts)
	items := make([]workItem, len(parts))
	for i, p := range parts {
		items[i] = workItem{Op: opEmbed, Model: model, Texts: texts[p[0]:p[1]], Options: co}
	}
	res, err := c.call(ctx, model, opEmbed, items)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, 0, len(texts))
	for i, r := range res {
		if len(r.Vectors) != parts[i][1]-parts[i][0] {
			return nil, c.badReply(model, opEmbed, len(r.Vectors), parts[i][1]-parts[i][0])
		}
		out = append(out, r.Vectors...)
	}
	return out, nil
}

// Encode encodes items on the lane's workers, like Engine.Encode.
func (c *Client) Encode(ctx context.Context, model string, items []string, opts sie.EncodeOptions) ([]sie.Encoding, error) {
	parts := c.split(items)
	wi := make([]workItem, len(parts))
	for i, p := range parts {
		wi[i] = workItem{Op: opEncode, Model: model, Texts: items[p[0]:p[1]], Encode: &opts}
	}
	res, err := c.call(ctx, model, opEncode, wi)
	if err != nil {
		return nil, err
	}
	out := make([]sie.Encoding, 0, len(items))
	for i, r := range res {
		if len(r.Encodings) != parts[i][1]-parts[i][0] {
			return nil, c.badReply(model, opEncode, len(r.Encodings), parts[i][1]-parts[i][0])
		}
		out = append(out, r.Encodings...)
	}
	return out, nil
}

// Rerank scores docs against query on the lane's workers, like
// Engine.Rerank: sorted by descending score, ties in the caller's order,
// TopK applied to the whole list.
func (c *Client) Rerank(ctx context.Context, model, query string, docs []string, opts ...sie.Option) ([]sie.Ranked, error) {
	co := sie.ReadOptions(opts...)
	topK := co.TopK
	co.TopK = 0 // each part ranks all of its documents; the cut is global
	parts := c.split(docs)
	items := make([]workItem, len(parts))
	for i, p := range parts {
		items[i] = workItem{Op: opRerank, Model: model, Query: query, Texts: docs[p[0]:p[1]], Options: co}
	}
	res, err := c.call(ctx, model, opRerank, items)
	if err != nil {
		return nil, err
	}
	out := make([]sie.Ranked, 0, len(docs))
	for i, r := range res {
		n := parts[i][1] - parts[i][0]
		if len(r.Ranked) != n {
			return nil, c.badReply(model, opRerank, len(r.Ranked), n)
		}
		for _, x := range r.Ranked {
			if x.Index < 0 || x.Index >= n {
				return nil, c.badReply(model, opRerank, x.Index, n)
			}
			out = append(out, sie.Ranked{Index: parts[i][0] + x.Index, Score: x.Score})
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Score != out[b].Score {
			return out[a].Score > out[b].Score
		}
		return out[a].Index < out[b].Index
	})
	if topK > 0 && topK < len(out) {
		out = out[:topK]
	}
	return out, nil
}

// Info describes a model as a worker of the lane has it (loading it there
// if needed), like Engine.Info.
func (c *Client) Info(ctx context.Context, model string) (sie.ModelInfo, error) {
	res, err := c.call(ctx, model, opInfo, []workItem{{Op: opInfo, Model: model}})
	if err != nil {
		return sie.ModelInfo{}, err
	}
	if res[0].Info == nil {
		return sie.ModelInfo{}, c.badReply(model, opInfo, 0, 1)
	}
	info := res[0].Info.ModelInfo
	info.Outputs = res[0].Info.Outputs
	return info, nil
}

// Tokenize tokenizes texts on the lane's workers, like Engine.Tokenize.
func (c *Client) Tokenize(ctx context.Context, model string, texts []string, opts ...sie.Option) ([][]sie.Token, error) {
	co := sie.ReadOptions(opts...)
	parts := c.split(texts)
	items := make([]workItem, len(parts))
	for i, p := range parts {
		items[i] = workItem{Op: opTokenize, Model: model, Texts: texts[p[0]:p[1]], Options: co}
	}
	res, err := c.call(ctx, model, opTokenize, items)
	if err != nil {
		return nil, err
	}
	out := make([][]sie.Token, 0, len(texts))
	for i, r := range res {
		if len(r.Tokens) != parts[i][1]-parts[i][0] {
			return nil, c.badReply(model, opTokenize, len(r.Tokens), parts[i][1]-parts[i][0])
		}
		out = append(out, r.Tokens...)
	}
	return out, nil
}

// EmbedIDs embeds token-id inputs on the lane's workers, like
// Engine.EmbedIDs.
func (c *Client) EmbedIDs(ctx context.Context, model string, inputs [][]int) ([][]float32, error) {
	parts := c.splitSized(len(inputs), func(i int) int { return 8 * len(inputs[i]) })
	items := make([]workItem, len(parts))
	for i, p := range parts {
		items[i] = workItem{Op: opEmbedIDs, Model: model, IDs: inputs[p[0]:p[1]]}
	}
	res, err := c.call(ctx, model, opEmbedIDs, items)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, 0, len(inputs))
	for i, r := range res {
		if len(r.Vectors) != parts[i][1]-parts[i][0] {
			return nil, c.badReply(model, opEmbedIDs, len(r.Vectors), parts[i][1]-parts[i][0])
		}
		out = append(out, r.Vectors...)
	}
	return out, nil
}

// Load has one worker of the lane load model; the others load it on first
// use. It fails like a call when no worker serves the lane.
func (c *Client) Load(ctx context.Context, model string) error {
	_, err := c.call(ctx, model, opLoad, []workItem{{Op: opLoad, Model: model}})
	return err
}

// Stats describes the client side only: the cluster's models live on the
// workers (see Lag for the lane's queue).
func (c *Client) Stats() sie.Stats {
	return sie.Stats{Backend: "cluster " + c.opts.Lane.String(), Models: map[string]sie.ModelStats{}}
}

func (c *Client) badReply(model, op string, got, want int) error {
	return &sie.ModelError{Model: model, Op: op, Err: fmt.Errorf("%w: a worker answered %d results for %d items", sie.ErrBackend, got, want)}
}

// split cuts n texts into [start, end) parts of at most MaxItems texts and
// MaxBytes bytes (a longer text gets a part of its own). No texts still give
// one empty part, so that the workers' Engine answers as it would locally.
func (c *Client) split(texts []string) [][2]int {
	return c.splitSized(len(texts), func(i int) int { return len(texts[i]) })
}

func (c *Client) splitSized(n int, size func(i int) int) [][2]int {
	var parts [][2]int
	start, bytes := 0, 0
	for i := range n {
		s := size(i)
		if i > start && (i-start >= c.opts.MaxItems || bytes+s > c.opts.MaxBytes) {
			parts = append(parts, [2]int{start, i})
			start, bytes = i, 0
		}
		bytes += s
	}
	return append(parts, [2]int{start, n})
}

// call publishes the items of one request and waits for every answer.
func (c *Client) call(ctx context.Context, model, op string, items []workItem) ([]workResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	if err := c.checkLane(ctx); err != nil {
		return nil, &sie.ModelError{Model: model, Op: op, Err: err}
	}

	id := nuid.Next()
	ch := make(chan workResult, 2*len(items))
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, &sie.ModelError{Model: model, Op: op, Err: fmt.Errorf("%w: client closed", ErrUnavailable)}
	}
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.pending[id] == ch {
			delete(c.pending, id)
		}
		c.mu.Unlock()
	}()

	deadline, _ := ctx.Deadline()
	subject := Subject(c.opts.Lane, model)
	futures := make([]jetstream.PubAckFuture, 0, len(items))
	var pubErr error
	for i := range items {
		it := &items[i]
		it.V, it.Request, it.Part, it.ReplyTo, it.Deadline = wireVersion, id, i, c.inbox+"."+id, deadline.UnixMilli()
		data, err := json.Marshal(it)
		if err != nil {
			pubErr = fmt.Errorf("%w: %w", sie.ErrInvalidInput, err)
			break
		}
		msg := &nats.Msg{Subject: subject, Data: data}
		f, err := c.js.PublishMsgAsync(msg, jetstream.WithMsgID(id+"."+strconv.Itoa(i)), jetstream.WithExpectStream(c.stream))
		if err != nil {
			pubErr = publishError(err)
			break
		}
		futures = append(futures, f)
	}
	// Wait for every publish acknowledgement, keeping the sequences of the
	// stored parts so that a failed request takes them back.
	var stored []uint64
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			stored = append(stored, ack.Sequence)
		case err := <-f.Err():
			if pubErr == nil {
				pubErr = publishError(err)
			}
		case <-ctx.Done():
			if pubErr == nil {
				pubErr = c.timeout(ctx)
			}
		}
	}
	if pubErr != nil {
		c.withdraw(stored)
		return nil, &sie.ModelError{Model: model, Op: op, Err: pubErr}
	}

	res := make([]workResult, len(items))
	got := make([]bool, len(items))
	for left := len(items); left > 0; {
		select {
		case r, ok := <-ch:
			if !ok {
				return nil, &sie.ModelError{Model: model, Op: op, Err: fmt.Errorf("%w: client closed", ErrUnavailable)}
			}
			if r.Part < 0 || r.Part >= len(items) || got[r.Part] {
				continue // a duplicate answer from a redelivered item
			}
			if r.Err != nil {
				return nil, r.Err.toError(model, op)
			}
			res[r.Part], got[r.Part] = r, true
			left--
		case <-ctx.Done():
			return nil, &sie.ModelError{Model: model, Op: op, Err: c.timeout(ctx)}
		}
	}
	return res, nil
}

func (c *Client) timeout(ctx context.Context) error {
	if err := context.Cause(ctx); errors.Is(err, context.Canceled) {
		return err
	}
	return &kindError{msg: fmt.Sprintf("%v after %s", ErrTimeout, c.opts.Timeout), kinds: []error{ErrTimeout, context.DeadlineExceeded}}
}

// withdraw deletes parts of a failed request from the stream (best effort:
// a worker may have taken them already; their answers are then dropped).
func (c *Client) withdraw(seqs []uint64) {
	if len(seqs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.js.Stream(ctx, c.stream)
	if err != nil {
		return
	}
	for _, s := range seqs {
		_ = st.DeleteMsg(ctx, s)
	}
}

// Ping asks whether a worker serves the lane now: nil, or ErrProvisioning
// when none answers.
func (c *Client) Ping(ctx context.Context) error {
	c.mu.Lock()
	c.laneSeen = time.Time{}
	c.mu.Unlock()
	return c.checkLane(ctx)
}

// checkLane asks the lane's workers whether anyone is there, at most once
// per LaneCheck while they answer.
func (c *Client) checkLane(ctx context.Context) error {
	c.mu.Lock()
	fresh := time.Since(c.laneSeen) < c.opts.LaneCheck
	c.mu.Unlock()
	if fresh {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := c.nc.RequestWithContext(rctx, presenceSubject(c.opts.Lane), nil)
	switch {
	case err == nil:
		c.mu.Lock()
		c.laneSeen = time.Now()
		c.mu.Unlock()
		return nil
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w %s", ErrProvisioning, c.opts.Lane)
	case ctx.Err() != nil:
		return c.timeout(ctx)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("%w %s (no worker answered within 1 s)", ErrProvisioning, c.opts.Lane)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// publishError classifies a failed publish: a full stream is backpressure.
func publishError(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == 10077 { // JSStreamStoreFailedF: maximum messages/bytes exceeded
		return &kindError{msg: fmt.Sprintf("%v: %s", ErrBackpressure, apiErr.Description), kinds: []error{ErrBackpressure, sie.ErrOverloaded}}
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
