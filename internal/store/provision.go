// Package store holds the fleet's adapters on JetStream: provisioning of
// streams, consumers and buckets; the event store with server-enforced
// optimistic concurrency; result, dead-letter and timer publishing; and the
// read models in KV. The domain never imports it.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/contract"
)

// The workers' durable consumers. Each is shared by every replica of its
// worker: replicas bind to it and the server spreads messages among them.
const (
	ConsumerCommandWorker = "command-worker"
	ConsumerPolicyWorker  = "policy-worker"
	ConsumerProjector     = "projector"
	ConsumerTimers        = "timer-dispatcher"
)

// ConsumerSettings tune one durable consumer.
type ConsumerSettings struct {
	// AckWait is how long the server waits for an ack before redelivering.
	// It must exceed the handler's whole in-process retry time.
	AckWait time.Duration
	// MaxDeliver bounds redeliveries of one message (-1: unbounded).
	MaxDeliver int
	// BackOff, when set, replaces AckWait between redeliveries (its length
	// must be below MaxDeliver).
	BackOff []time.Duration
	// MaxAckPending bounds the messages in flight across all replicas.
	MaxAckPending int
}

// Settings of every resource the fleet provisions. Changing one and
// provisioning again updates the resource in place.
type Settings struct {
	Names contract.Names
	// Replicas of every stream and bucket: 1 on a single server, 3 on a cluster.
	Replicas int
	// Storage of the streams (file by default).
	Storage jetstream.StorageType
	// CommandsDedupWindow is PERSON_COMMANDS' duplicate window: a command
	// resubmitted with the same Nats-Msg-Id inside it is dropped.
	CommandsDedupWindow time.Duration
	// EventsDedupWindow is PERSON_EVENTS' duplicate window (event ids derive
	// from command ids; beyond it, the aggregate's memory of recent command
	// ids stops a repeated append).
	EventsDedupWindow time.Duration
	// EventsMaxAge expires events (0: never, the default: it is the store).
	EventsMaxAge time.Duration
	// ResultsMaxAge expires results (default 1 h).
	ResultsMaxAge time.Duration
	// DLQMaxAge expires dead letters (default 30 days).
	DLQMaxAge time.Duration
	// TimersMaxAge bounds how long an armed timer can wait (default 400 days).
	TimersMaxAge time.Duration
	// MaxMsgSize bounds one message in any stream (default 1 MiB).
	MaxMsgSize int32
	// Consumers by name (ConsumerCommandWorker, …); missing ones get defaults.
	Consumers map[string]ConsumerSettings
}

// DefaultConsumer is the consumer default: AckWait 30 s, 10 deliveries, no
// BackOff, 1024 in flight. BackOff is off by default on purpose: with it the
// server waits only BackOff[0] for the first ack, and the handler's
// in-process retries (Watermill's Retry middleware) must finish before that.
func DefaultConsumer() ConsumerSettings {
	return ConsumerSettings{AckWait: 30 * time.Second, MaxDeliver: 10, MaxAckPending: 1024}
}

// FirstAckWait is how long the server waits for the first ack of a
// delivery: BackOff[0] when BackOff is set, else AckWait.
func (c ConsumerSettings) FirstAckWait() time.Duration {
	if len(c.BackOff) > 0 {
		return c.BackOff[0]
	}
	return c.AckWait
}

// SetDefaults fills every unset field.
func (s *Settings) SetDefaults() {
	if s.Names == (contract.Names{}) {
		s.Names = contract.DefaultNames()
	}
	if s.Replicas <= 0 {
		s.Replicas = 1
	}
	if s.CommandsDedupWindow <= 0 {
		s.CommandsDedupWindow = 10 * time.Minute
	}
	if s.EventsDedupWindow <= 0 {
		s.EventsDedupWindow = 10 * time.Minute
	}
	if s.ResultsMaxAge <= 0 {
		s.ResultsMaxAge = time.Hour
	}
	if s.DLQMaxAge <= 0 {
		s.DLQMaxAge = 30 * 24 * time.Hour
	}
	if s.TimersMaxAge <= 0 {
		s.TimersMaxAge = 400 * 24 * time.Hour
	}
	if s.MaxMsgSize <= 0 {
		s.MaxMsgSize = 1 << 20
	}
	if s.Consumers == nil {
		s.Consumers = map[string]ConsumerSettings{}
	}
	for _, name := range []string{ConsumerCommandWorker, ConsumerPolicyWorker, ConsumerProjector, ConsumerTimers} {
		c, ok := s.Consumers[name]
		def := DefaultConsumer()
		if !ok {
			s.Consumers[name] = def
			continue
		}
		if c.AckWait <= 0 {
			c.AckWait = def.AckWait
		}
		if c.MaxDeliver == 0 {
			c.MaxDeliver = def.MaxDeliver
		}
		if c.MaxAckPending <= 0 {
			c.MaxAckPending = def.MaxAckPending
		}
		s.Consumers[name] = c
	}
}

// Validate reports every inconsistent setting at once.
func (s *Settings) Validate() error {
	var errs []error
	if s.Replicas != 1 && s.Replicas != 3 && s.Replicas != 5 {
		errs = append(errs, fmt.Errorf("replicas %d: use 1, 3 or 5", s.Replicas))
	}
	if s.EventsMaxAge < 0 {
		errs = append(errs, errors.New("events max age is negative"))
	}
	for name, c := range s.Consumers {
		if c.MaxDeliver > 0 && len(c.BackOff) >= c.MaxDeliver {
			errs = append(errs, fmt.Errorf("consumer %s: %d backoff steps need max deliver above %d", name, len(c.BackOff), len(c.BackOff)))
		}
	}
	return errors.Join(errs...)
}

// DeliverSubject is where the server pushes a consumer's messages; replicas
// subscribe to it in the queue group named after the consumer.
func (s *Settings) DeliverSubject(consumer string) string {
	return "_deliver." + s.Names.Prefix() + "." + consumer
}

// Streams returns the stream configurations.
func (s *Settings) Streams() []jetstream.StreamConfig {
	n := s.Names
	base := func(name, desc string, subjects []string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name: name, Description: desc, Subjects: subjects,
			Storage: s.Storage, Replicas: s.Replicas, MaxMsgSize: s.MaxMsgSize,
			Discard: jetstream.DiscardOld, AllowDirect: true,
		}
	}
	cmds := base(n.CommandsStream(), "person commands (work queue)", []string{n.Commands()})
	cmds.Retention = jetstream.WorkQueuePolicy
	cmds.Duplicates = s.CommandsDedupWindow

	events := base(n.EventsStream(), "person events: the event store", []string{n.Events()})
	events.Duplicates = s.EventsDedupWindow
	events.MaxAge = s.EventsMaxAge
	events.DenyDelete, events.DenyPurge = true, true
	events.AllowAtomicPublish = true

	results := base(n.ResultsStream(), "command results, streamed to producers", []string{n.Results()})
	results.MaxAge = s.ResultsMaxAge
	results.Duplicates = min(s.ResultsMaxAge, 10*time.Minute)

	dlq := base(n.DLQStream(), "dead letters of every worker", []string{n.DLQs()})
	dlq.MaxAge = s.DLQMaxAge

	timers := base(n.TimersStream(), "durable timers (message schedules)", []string{n.Timers()})
	timers.MaxAge = s.TimersMaxAge
	timers.AllowMsgSchedules = true
	return []jetstream.StreamConfig{cmds, events, results, dlq, timers}
}

// ConsumerConfigs returns the durable consumers, keyed by stream.
func (s *Settings) ConsumerConfigs() map[string][]jetstream.ConsumerConfig {
	n := s.Names
	mk := func(name, filter, desc string) jetstream.ConsumerConfig {
		c := s.Consumers[name]
		return jetstream.ConsumerConfig{
			Durable: name, Description: desc, FilterSubject: filter,
			DeliverSubject: s.DeliverSubject(name), DeliverGroup: name,
			DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: c.AckWait, MaxDeliver: c.MaxDeliver, BackOff: c.BackOff, MaxAckPending: c.MaxAckPending,
			Replicas: s.Replicas,
		}
	}
	return map[string][]jetstream.ConsumerConfig{
		n.CommandsStream(): {mk(ConsumerCommandWorker, n.Commands(), "command-worker replicas: decide and append")},
		n.EventsStream(): {
			mk(ConsumerPolicyWorker, n.Events(), "policy-worker replicas: policies"),
			mk(ConsumerProjector, n.Events(), "projector replicas: read models"),
		},
		n.TimersStream(): {mk(ConsumerTimers, n.TimersFired(), "policy-worker replicas: fired timers")},
	}
}

// Buckets returns the KV buckets of the read models.
func (s *Settings) Buckets() []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{Bucket: s.Names.SummaryBucket(), Description: "person summary read model", History: 1, Storage: s.Storage, Replicas: s.Replicas},
		{Bucket: s.Names.OnboardingBucket(), Description: "onboarding status read model", History: 1, Storage: s.Storage, Replicas: s.Replicas},
	}
}

// Provision creates or updates every stream and bucket, and the named
// consumers (every consumer when none is named: a worker provisions only
// its own, so its settings never overwrite another worker's). It is
// idempotent and safe to run from every replica at once.
func Provision(ctx context.Context, js jetstream.JetStream, s Settings, consumers ...string) error {
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	for _, cfg := range s.Streams() {
		if err := unanswered(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("provision stream %s: %w", cfg.Name, err)
		}
	}
	for stream, cfgs := range s.ConsumerConfigs() {
		for _, cfg := range cfgs {
			if len(consumers) > 0 && !slices.Contains(consumers, cfg.Durable) {
				continue
			}
			if err := unanswered(ctx, func(ctx context.Context) error {
				if err := keepStartPosition(ctx, js, stream, &cfg); err != nil {
					return err
				}
				_, err := js.CreateOrUpdatePushConsumer(ctx, stream, cfg)
				return err
			}); err != nil {
				return fmt.Errorf("provision consumer %s on %s: %w", cfg.Durable, stream, err)
			}
		}
	}
	for _, cfg := range s.Buckets() {
		if err := unanswered(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("provision bucket %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// unanswered runs op with a short timeout, again while the server does not
// answer in time, until ctx ends: a cluster still electing its leaders, or
// every replica of a fleet creating the same R3 stream at once (the meta
// leader answers one of the identical requests, the others wait), can leave
// a JetStream API request unanswered. Any other error (a setting the server
// refuses) returns at once.
func unanswered(ctx context.Context, op func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := op(actx)
		cancel()
		retry := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
			errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled)
		if err == nil || !retry || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(min(attempt, 4)) * 250 * time.Millisecond):
		}
	}
}

// keepStartPosition carries an existing consumer's start position (deliver
// policy, start sequence or time) into cfg: the server refuses to change
// it, and it is where the consumer began, not a setting. A consumer that
// `personctl migrate` created on a new events stream starts after the
// events the old consumer had already handled; provisioning it again with
// the default (deliver all) must not fail.
func keepStartPosition(ctx context.Context, js jetstream.JetStream, stream string, cfg *jetstream.ConsumerConfig) error {
	c, err := js.PushConsumer(ctx, stream, cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	have := c.CachedInfo().Config
	cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = have.DeliverPolicy, have.OptStartSeq, have.OptStartTime
	return nil
}
