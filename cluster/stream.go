package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamOptions shapes a pool's work stream. The zero value is the default.
// Whoever creates the stream first sets its shape (the gateway or a worker,
// both call EnsureStream); later callers use it as it is, so the two sides
// never fight over a configuration.
type StreamOptions struct {
	// MaxMsgs caps the items waiting or in progress in the pool; beyond it
	// publishing fails with ErrBackpressure. Zero means 100000.
	MaxMsgs int64
	// MaxBytes caps the stream's bytes likewise; zero means 1 GiB.
	MaxBytes int64
	// MaxAge drops items nobody took for this long; zero means 30 minutes
	// (it must exceed MaxDeliver × AckWait of the workers, or items expire
	// while still retried).
	MaxAge time.Duration
	// File keeps the stream on disk instead of in memory (survives a NATS
	// restart; slower).
	File bool
	// Replicas is the stream's replication in a NATS cluster; zero means 1.
	Replicas int
	// Duplicates is the window in which a repeated message id is dropped;
	// zero means 2 minutes.
	Duplicates time.Duration
}

func (o StreamOptions) withDefaults() StreamOptions {
	if o.MaxMsgs <= 0 {
		o.MaxMsgs = 100000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 30 * time.Minute
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Duplicates <= 0 {
		o.Duplicates = 2 * time.Minute
	}
	return o
}

// EnsureStream creates the pool's work-queue stream unless it exists, and
// the dead-letter stream with it.
func EnsureStream(ctx context.Context, js jetstream.JetStream, pool string, opts StreamOptions) error {
	o := opts.withDefaults()
	if pool == "" {
		pool = "default"
	}
	storage := jetstream.MemoryStorage
	if o.File {
		storage = jetstream.FileStorage
	}
	cfg := jetstream.StreamConfig{
		Name:        StreamName(pool),
		Description: "sie work items of pool " + pool,
		Subjects:    []string{"sie.work." + NormalizeToken(pool) + ".*.*.*"},
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew, // refuse new work when full: backpressure at publish time
		MaxMsgs:     o.MaxMsgs,
		MaxBytes:    o.MaxBytes,
		MaxAge:      o.MaxAge,
		Storage:     storage,
		Replicas:    o.Replicas,
		Duplicates:  o.Duplicates,
	}
	if err := ensure(ctx, js, cfg); err != nil {
		return err
	}
	return ensure(ctx, js, jetstream.StreamConfig{
		Name:        DeadLetterStream,
		Description: "sie work items past their delivery limit",
		Subjects:    []string{"sie.dlq.>"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      24 * time.Hour,
		MaxBytes:    o.MaxBytes,
		Storage:     storage,
		Replicas:    o.Replicas,
		Duplicates:  o.Duplicates,
	})
}

func ensure(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	if _, err := js.Stream(ctx, cfg.Name); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: stream %s: %w", ErrUnavailable, cfg.Name, err)
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("%w: creating stream %s: %w", ErrUnavailable, cfg.Name, err)
	}
	return nil
}

// LaneLag is what the lane's consumer has not finished: items not yet
// delivered to any worker plus items delivered and not yet acknowledged.
// KEDA's nats-jetstream scaler reads the same consumer (num_pending, from
// the server's monitoring endpoint) to size the lane's workers.
type LaneLag struct {
	Pending     uint64 // waiting for a worker
	AckPending  int    // taken by a worker, not yet answered
	Redelivered int    // delivered more than once
}

// Lag reads the lag of a lane's consumer.
func Lag(ctx context.Context, js jetstream.JetStream, l Lane) (LaneLag, error) {
	l = l.withDefaults()
	c, err := js.Consumer(ctx, StreamName(l.Pool), ConsumerName(l))
	if err != nil {
		return LaneLag{}, fmt.Errorf("%w: consumer %s of %s: %w", ErrUnavailable, ConsumerName(l), StreamName(l.Pool), err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return LaneLag{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return LaneLag{Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered}, nil
}
