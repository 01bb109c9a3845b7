package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/config"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/policy"
	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/telemetry"
)

// Kind names a worker; it is also its durable consumer's name and its
// dead-letter subject's last token.
type Kind string

// The workers.
const (
	CommandWorker Kind = store.ConsumerCommandWorker
	PolicyWorker  Kind = store.ConsumerPolicyWorker
	Projector     Kind = store.ConsumerProjector
)

// Config of one worker process. Bind declares every field as a flag with
// a PERSONFLEET_* environment default.
type Config struct {
	Kind Kind
	NATS config.NATS
	Log  config.Log

	Prefix string
	// EventsStream names the events stream when it is not <PREFIX>_EVENTS
	// (after `personctl migrate --apply` switched the fleet to a new one).
	EventsStream string
	Provision    bool
	// Stream settings (used when Provision is on).
	StreamReplicas      int
	CommandsDedupWindow time.Duration
	ResultsMaxAge       time.Duration
	// The worker's consumer.
	AckWait       time.Duration
	MaxDeliver    int
	MaxAckPending int
	// Concurrency is how many messages one process handles at once.
	Concurrency  int
	Retry        RetryConfig
	CloseTimeout time.Duration
	// command-worker
	CacheSize int
	Progress  bool
	// policy-worker
	InactivityPeriod time.Duration
	// HTTPAddr serves /healthz, /readyz and /metrics ("" turns them off).
	HTTPAddr string
	// Profiling adds /debug/pprof/ to the HTTP endpoints.
	Profiling bool
}

// Bind declares the flags.
func (c *Config) Bind(b *config.Binder) {
	c.NATS.Bind(b)
	c.Log.Bind(b)
	def := DefaultRetry()
	b.String(&c.Prefix, "prefix", contract.DefaultPrefix, "subject prefix; stream and bucket names derive from it")
	b.String(&c.EventsStream, "events-stream", "", "events stream name (default <PREFIX>_EVENTS; the new one after `personctl migrate --apply`)")
	b.Bool(&c.Provision, "provision", true, "create or update streams, buckets and this worker's consumer at start")
	b.Int(&c.StreamReplicas, "stream-replicas", 1, "replicas of streams and buckets (3 on a cluster)")
	b.Duration(&c.CommandsDedupWindow, "commands-dedup-window", 10*time.Minute, "duplicate window of the commands stream")
	b.Duration(&c.ResultsMaxAge, "results-max-age", time.Hour, "how long results are kept")
	b.Duration(&c.AckWait, "ack-wait", 30*time.Second, "consumer ack wait; must exceed the retry budget")
	b.Int(&c.MaxDeliver, "max-deliver", 10, "consumer max deliveries of one message")
	b.Int(&c.MaxAckPending, "max-ack-pending", 1024, "consumer max unacknowledged messages across replicas")
	b.Int(&c.Concurrency, "concurrency", 64, "messages handled at once by this process (one subscription each; keep replicas × concurrency ≤ max-ack-pending)")
	b.Duration(&c.Retry.Initial, "retry-initial", def.Initial, "first retry delay")
	b.Duration(&c.Retry.Max, "retry-max", def.Max, "longest retry delay")
	b.Float(&c.Retry.Multiplier, "retry-multiplier", def.Multiplier, "retry delay multiplier")
	b.Int(&c.Retry.MaxRetries, "retry-max-retries", def.MaxRetries, "retries before a message is parked in the DLQ")
	b.Duration(&c.CloseTimeout, "close-timeout", 15*time.Second, "how long shutdown waits for in-flight messages")
	b.Int(&c.CacheSize, "aggregate-cache", 10000, "command-worker: persons kept in memory between commands")
	b.Bool(&c.Progress, "result-progress", false, "command-worker: stream a non-final \"received\" result before the final one")
	b.Duration(&c.InactivityPeriod, "inactivity-period", policy.DefaultInactivityPeriod, "policy-worker: auto-archive delay after deactivation")
	b.String(&c.HTTPAddr, "http-addr", ":8080", "address of /healthz, /readyz and /metrics (empty: off)")
	b.Bool(&c.Profiling, "pprof", false, "also serve /debug/pprof/ on the HTTP address")
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	switch c.Kind {
	case CommandWorker, PolicyWorker, Projector:
	default:
		errs = append(errs, fmt.Errorf("unknown worker %q", c.Kind))
	}
	if err := c.Retry.Validate(); err != nil {
		errs = append(errs, err)
	}
	if b := c.Retry.Budget(); b >= c.AckWait {
		errs = append(errs, fmt.Errorf("retry budget %s must stay below ack wait %s, or messages are redelivered while being retried", b, c.AckWait))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("concurrency must be at least 1"))
	}
	if c.CloseTimeout <= 0 {
		errs = append(errs, errors.New("close timeout must be positive"))
	}
	if _, err := c.names(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// names are the fleet's stream, subject and bucket names.
func (c *Config) names() (contract.Names, error) {
	n, err := contract.NewNames(c.Prefix)
	if err != nil {
		return n, err
	}
	return n.WithEventsStream(c.EventsStream)
}

func (c *Config) settings(names contract.Names) store.Settings {
	cs := store.ConsumerSettings{AckWait: c.AckWait, MaxDeliver: c.MaxDeliver, MaxAckPending: c.MaxAckPending}
	consumers := map[string]store.ConsumerSettings{string(c.Kind): cs}
	if c.Kind == PolicyWorker {
		consumers[store.ConsumerTimers] = cs
	}
	return store.Settings{
		Names: names, Replicas: c.StreamReplicas, CommandsDedupWindow: c.CommandsDedupWindow,
		ResultsMaxAge: c.ResultsMaxAge, Consumers: consumers,
	}
}

// Run runs the worker until ctx is done, then shuts down gracefully: its
// subscriptions are drained (the server stops delivering to this process,
// and every message it already received is handled and acked), for up to
// CloseTimeout; then the router closes. A message not finished by then is
// neither acked nor parked, and the server redelivers it (to another
// replica) after AckWait — handlers are idempotent, so nothing is lost or
// doubled.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	return run(ctx, cfg, log, nil)
}

// wireFunc adds handlers to a router in place of a worker's own (tests use
// it to run their handler behind the production middleware and consumer).
type wireFunc func(names contract.Names, r *message.Router, subscribe subscribeFunc) error

func run(ctx context.Context, cfg Config, log *slog.Logger, wire wireFunc) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	names, _ := cfg.names()
	host, _ := os.Hostname()
	cfg.NATS.Name = fmt.Sprintf("%s@%s:%d", cfg.Kind, host, os.Getpid())
	log = log.With("worker", string(cfg.Kind))

	nc, err := cfg.NATS.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	settings := cfg.settings(names)
	settings.SetDefaults()
	if cfg.Provision {
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := store.Provision(pctx, js, settings, consumersOf(cfg.Kind)...)
		cancel()
		if err != nil {
			return err
		}
	}

	var drained atomic.Bool
	wlog := drainedLogger{LoggerAdapter: watermill.NewSlogLogger(log), drained: &drained}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.CloseTimeout}, wlog)
	if err != nil {
		return err
	}
	pub := store.NewPublisher(js, names)
	dlq := &deadLetters{worker: string(cfg.Kind), subject: names.DLQ(string(cfg.Kind)), pub: pub, log: log}
	met := telemetry.NewMetrics(string(cfg.Kind))
	if err := stack(router, cfg.Kind, dlq, cfg.Retry, met, log); err != nil {
		return err
	}
	// Each subscription gets its own connection: watermill-nats drains the
	// connection when it closes a subscriber.
	// The subscriptions' connections, drained first at shutdown.
	var subConns []*nats.Conn
	defer func() {
		for _, sc := range subConns {
			sc.Close() // no-op once drained
		}
	}()
	subscribe := func(consumer string) (message.Subscriber, error) {
		sc, err := cfg.NATS.Connect()
		if err != nil {
			return nil, err
		}
		subConns = append(subConns, sc)
		stream := streamOf(names, consumer)
		cs := settings.Consumers[consumer]
		sub, err := wmnats.NewSubscriberWithNatsConn(sc, subscriberConfig(stream, consumer, cfg.Concurrency, cs.FirstAckWait(), cfg.CloseTimeout), wlog)
		if err != nil {
			sc.Close()
			return nil, err
		}
		return sub, nil
	}
	var stop func()
	switch {
	case wire != nil:
		stop, err = func() {}, wire(names, router, subscribe)
	case cfg.Kind == CommandWorker:
		stop, err = wireCommandWorker(nc, js, names, cfg, router, subscribe, pub, dlq, met, log)
	case cfg.Kind == PolicyWorker:
		stop, err = wirePolicyWorker(names, cfg, router, subscribe, pub, met, log)
	case cfg.Kind == Projector:
		stop, err = wireProjector(ctx, nc, js, names, cfg, router, subscribe, log)
	}
	if err != nil {
		return err
	}
	defer stop()
	for _, c := range consumersOf(cfg.Kind) {
		stream := streamOf(names, c)
		met.WatchConsumer(stream, c, func(ctx context.Context) (telemetry.ConsumerState, error) {
			pc, err := js.PushConsumer(ctx, stream, c)
			if err != nil {
				return telemetry.ConsumerState{}, err
			}
			info, err := pc.Info(ctx)
			if err != nil {
				return telemetry.ConsumerState{}, err
			}
			return telemetry.ConsumerState{Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered}, nil
		})
	}
	if cfg.HTTPAddr != "" {
		ready := func() error {
			switch {
			case !nc.IsConnected():
				return errors.New("not connected to NATS")
			case !router.IsRunning() || router.IsClosed():
				return errors.New("router not running")
			}
			for _, sc := range subConns {
				if !sc.IsConnected() {
					return errors.New("a consumer's connection is down")
				}
			}
			return nil
		}
		hs, err := telemetry.Serve(cfg.HTTPAddr, met, ready, cfg.Profiling, log)
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
		}()
	}

	done := make(chan error, 1)
	go func() { done <- router.Run(context.WithoutCancel(ctx)) }()
	select {
	case <-router.Running():
		log.Info("worker running", "prefix", names.Prefix(), "concurrency", cfg.Concurrency)
	case err := <-done:
		return fmt.Errorf("router: %w", err)
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down", "close_timeout", cfg.CloseTimeout)
	case err := <-done:
		return fmt.Errorf("router stopped: %w", err)
	}
	drainSubscriptions(subConns, cfg.CloseTimeout, log)
	drained.Store(true)
	if err := router.Close(); err != nil {
		log.Warn("router close", "error", err)
	}
	if err := <-done; err != nil {
		log.Warn("router stopped", "error", err)
	}
	if err := nc.Drain(); err != nil {
		log.Warn("drain", "error", err)
	}
	log.Info("stopped")
	return nil
}

func consumersOf(k Kind) []string {
	if k == PolicyWorker {
		return []string{store.ConsumerPolicyWorker, store.ConsumerTimers}
	}
	return []string{string(k)}
}

// streamOf is the stream a worker consumer reads.
func streamOf(names contract.Names, consumer string) string {
	switch consumer {
	case store.ConsumerCommandWorker:
		return names.CommandsStream()
	case store.ConsumerTimers:
		return names.TimersStream()
	default:
		return names.EventsStream()
	}
}

type subscribeFunc func(consumer string) (message.Subscriber, error)

func wireCommandWorker(nc *nats.Conn, js jetstream.JetStream, names contract.Names, cfg Config, r *message.Router, subscribe subscribeFunc, pub *store.Publisher, dlq *deadLetters, met *telemetry.Metrics, log *slog.Logger) (func(), error) {
	events, err := store.NewEventStore(nc, js, names, cfg.CacheSize)
	if err != nil {
		return nil, err
	}
	h, err := NewCommandHandler(names, events, pub, log, CommandOptions{Progress: cfg.Progress, Metrics: met})
	if err != nil {
		return nil, err
	}
	dlq.onPark = h.failParked
	sub, err := subscribe(store.ConsumerCommandWorker)
	if err != nil {
		return nil, err
	}
	r.AddConsumerHandler("commands", names.Commands(), sub, h.Handle)
	return func() {}, nil
}

func wirePolicyWorker(names contract.Names, cfg Config, r *message.Router, subscribe subscribeFunc, pub *store.Publisher, met *telemetry.Metrics, log *slog.Logger) (func(), error) {
	pcfg := policy.Config{InactivityPeriod: cfg.InactivityPeriod}
	if err := pcfg.Validate(); err != nil {
		return nil, err
	}
	h, err := NewPolicyHandler(names, policy.Defaults(pcfg), pub, log, met)
	if err != nil {
		return nil, err
	}
	events, err := subscribe(store.ConsumerPolicyWorker)
	if err != nil {
		return nil, err
	}
	timers, err := subscribe(store.ConsumerTimers)
	if err != nil {
		return nil, err
	}
	r.AddConsumerHandler("policies", names.Events(), events, h.Handle)
	r.AddConsumerHandler("timers", names.TimersFired(), timers, h.HandleTimer)
	return func() {}, nil
}

func wireProjector(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, names contract.Names, cfg Config, r *message.Router, subscribe subscribeFunc, log *slog.Logger) (func(), error) {
	events, err := store.NewEventStore(nc, js, names, 0)
	if err != nil {
		return nil, err
	}
	sums, err := store.OpenReadModel[projection.Summary](ctx, js, names.SummaryBucket(), cfg.CacheSize)
	if err != nil {
		return nil, err
	}
	onb, err := store.OpenReadModel[projection.Onboarding](ctx, js, names.OnboardingBucket(), cfg.CacheSize)
	if err != nil {
		return nil, err
	}
	h, err := NewProjectorHandler(events, sums, onb, log)
	if err != nil {
		return nil, err
	}
	sub, err := subscribe(store.ConsumerProjector)
	if err != nil {
		return nil, err
	}
	r.AddConsumerHandler("projections", names.Events(), sub, h.Handle)
	q, err := StartQueryService(nc, names, sums, onb)
	if err != nil {
		return nil, err
	}
	return func() { _ = q.Stop() }, nil
}

// drainSubscriptions stops the deliveries to this process and lets every
// message it has already received finish — handled, acked or nacked —
// before the router closes: watermill-nats' Subscriber.Close stops waiting
// for in-flight messages at once, cancels their contexts and drops their
// acks. Draining a subscription's connection unsubscribes (the server
// sends the consumer's next messages to the other replicas), runs the
// callbacks of the messages already received to completion, then closes
// the connection. What is not done within timeout is left to the router's
// close: those messages are not acked, and the server redelivers them.
func drainSubscriptions(conns []*nats.Conn, timeout time.Duration, log *slog.Logger) {
	start := time.Now()
	for _, sc := range conns {
		if err := sc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			log.Warn("drain subscription", "error", err)
		}
	}
	for _, sc := range conns {
		for !sc.IsClosed() {
			if time.Since(start) > timeout {
				log.Warn("in-flight messages not finished in time; they will be redelivered", "timeout", timeout)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	log.Info("subscriptions drained", "took", time.Since(start).Round(time.Millisecond))
}

// drainedLogger is the Watermill logger of a worker. Once the subscriptions
// are drained (their connections closed), it demotes to debug the errors
// watermill-nats logs when the router then closes those subscribers
// ("Cannot unsubscribe", "Failed to close subscriber": connection closed),
// so a clean shutdown logs no error.
type drainedLogger struct {
	watermill.LoggerAdapter
	drained *atomic.Bool
}

func (l drainedLogger) Error(msg string, err error, fields watermill.LogFields) {
	if l.drained.Load() && errors.Is(err, nats.ErrConnectionClosed) {
		l.Debug(msg, fields.Add(watermill.LogFields{"error": err.Error()}))
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

func (l drainedLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return drainedLogger{LoggerAdapter: l.LoggerAdapter.With(fields), drained: l.drained}
}
