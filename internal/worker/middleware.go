package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/telemetry"
)

// permanentError marks a failure that no retry can fix (malformed input).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the message goes to the
// dead-letter queue at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err is marked Permanent or is a coded
// rejection of the contract or the domain.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || contract.IsPermanent(err)
}

// RetryConfig is the in-process retry of a failing handler: exponential
// backoff from Initial, times Multiplier, capped at Max, MaxRetries times.
type RetryConfig struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	MaxRetries int
}

// DefaultRetry is 100 ms, ×2, at most 10 s, 5 retries.
func DefaultRetry() RetryConfig {
	return RetryConfig{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2, MaxRetries: 5}
}

// randomization is Watermill's backoff jitter we configure (±jitter).
const randomization = 0.25

// Budget is the longest the retries can wait in total (jitter included).
// It must stay below the consumer's ack wait, or the server redelivers a
// message still being retried.
func (r RetryConfig) Budget() time.Duration {
	var total time.Duration
	d := float64(r.Initial)
	for range r.MaxRetries {
		total += time.Duration(min(d, float64(r.Max)) * (1 + randomization))
		d *= r.Multiplier
	}
	return total
}

// Validate checks the retry settings.
func (r RetryConfig) Validate() error {
	var errs []error
	if r.Initial <= 0 || r.Max < r.Initial {
		errs = append(errs, fmt.Errorf("retry: need 0 < initial (%s) <= max (%s)", r.Initial, r.Max))
	}
	if r.Multiplier < 1 {
		errs = append(errs, fmt.Errorf("retry: multiplier %.2f below 1", r.Multiplier))
	}
	if r.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("retry: max retries %d is negative", r.MaxRetries))
	}
	return errors.Join(errs...)
}

// stack adds the middleware every router runs, outermost first:
//
//  1. CorrelationID: produced messages keep the consumed one's correlation id.
//  2. PoisonQueue: an error that survives the retries (or a permanent one)
//     parks the message in <prefix>.dlq.<worker> with its reason, and the
//     message is acked so the consumer keeps flowing. It must come before
//     Retry, or Retry would never let an error reach it. An interrupted
//     message (see 3) is not parked.
//  3. interrupted: marks the error of a message whose delivery was
//     cancelled (the worker is shutting down): it is neither parked nor
//     acked, and the server redelivers it.
//  4. retry: exponential backoff for transient errors; permanent ones skip it.
//  5. attempts: counts handler attempts and failure times for the dead letter.
//  6. Recoverer: innermost, so a panic becomes an error that is retried and
//     parked like any other instead of crashing the worker.
func stack(r *message.Router, kind Kind, dlq *deadLetters, retry RetryConfig, met *telemetry.Metrics, log *slog.Logger) error {
	poison, err := middleware.PoisonQueueWithFilter(dlq, dlq.subject, func(err error) bool {
		return !errors.Is(err, errInterrupted)
	})
	if err != nil {
		return err
	}
	r.AddMiddleware(
		observe(kind, met, log),
		middleware.CorrelationID,
		poison,
		interrupted,
		retry.middleware(met, log),
		attempts(met),
		middleware.Recoverer,
	)
	return nil
}

// middleware retries a failing handler in process: after the first
// failure it waits Initial, then Multiplier times longer each time (at most
// Max), each wait jittered by ±randomization, MaxRetries times; a permanent
// error, or the message's context ending, stops it. The last error is
// returned (for the PoisonQueue). The waits add up to at most Budget.
//
// It replaces Watermill's middleware.Retry (1.5.1), which, once ShouldRetry
// is set, calls NextBackOff to fill RetryParams.Delay and so advances the
// backoff twice per attempt: its waits grew by Multiplier² per retry (the
// defaults waited about 24 s instead of 3.1 s, up to the consumer's ack
// wait, and the server redelivered messages still being retried).
func (r RetryConfig) middleware(met *telemetry.Metrics, log *slog.Logger) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			ctx := msg.Context()
			interval := float64(r.Initial)
			for retry := 1; ; retry++ {
				msg.SetContext(ctx) // an attempt may have replaced (and cancelled) it
				out, err := h(msg)
				if err == nil || retry > r.MaxRetries || IsPermanent(err) || ctx.Err() != nil {
					return out, err
				}
				wait := time.Duration(min(interval, float64(r.Max)) * (1 + randomization*(2*rand.Float64()-1)))
				interval *= r.Multiplier
				met.Retries.WithLabelValues(message.HandlerNameFromCtx(ctx)).Inc()
				log.WarnContext(ctx, "handler failed; retrying", "error", err, "retry", retry, "max_retries", r.MaxRetries,
					"wait", wait, "subject", msg.Metadata.Get(MetaSubject), "stream_seq", msg.Metadata.Get(MetaStreamSeq))
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return out, err
				case <-t.C:
				}
			}
		}
	}
}

// errInterrupted marks the failure of a message whose delivery context was
// cancelled while it was handled.
var errInterrupted = errors.New("interrupted by shutdown")

// interrupted marks a failure that happened because the message's context
// was cancelled (watermill-nats cancels it when the subscriber closes): the
// failure says nothing about the message, so it must not be parked.
func interrupted(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil && msg.Context().Err() != nil {
			return out, fmt.Errorf("%w: %w", errInterrupted, err)
		}
		return out, err
	}
}

// attempts records, in the message's metadata, how many times the handler
// ran for this delivery and when it first and last failed, plus the error
// code of a coded rejection; the dead-letter publisher reads them. It also
// times each attempt.
func attempts(met *telemetry.Metrics) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			return attempt(h, msg, met)
		}
	}
}

func attempt(h message.HandlerFunc, msg *message.Message, met *telemetry.Metrics) ([]*message.Message, error) {
	n, _ := strconv.Atoi(msg.Metadata.Get(MetaAttempts))
	msg.Metadata.Set(MetaAttempts, strconv.Itoa(n+1))
	start := time.Now()
	out, err := h(msg)
	met.HandlerTime.WithLabelValues(message.HandlerNameFromCtx(msg.Context())).Observe(time.Since(start).Seconds())
	if err != nil {
		now := time.Now().UTC().Format(time.RFC3339Nano)
		if msg.Metadata.Get(MetaFirstError) == "" {
			msg.Metadata.Set(MetaFirstError, now)
		}
		msg.Metadata.Set(MetaLastError, now)
		if code := contract.Code(err); code != "" {
			msg.Metadata.Set(metaCode, code)
		}
	}
	return out, err
}

const (
	metaCode   = "rejection_code"
	metaParked = "parked"
)

// internalMeta are metadata keys that are not original NATS headers.
var internalMeta = map[string]bool{
	MetaSubject: true, MetaStream: true, MetaStreamSeq: true, MetaDelivered: true, MetaConsumer: true,
	MetaAttempts: true, MetaFirstError: true, MetaLastError: true, metaCode: true, metaParked: true,
	middleware.ReasonForPoisonedKey: true, middleware.PoisonedTopicKey: true, middleware.PoisonedHandlerKey: true,
	middleware.PoisonedSubscriberKey: true, middleware.CorrelationIDMetadataKey: true,
}

// deadLetters is the Publisher behind the PoisonQueue middleware: it turns
// a poisoned message into a contract.DeadLetter on <prefix>.dlq.<worker>.
type deadLetters struct {
	worker  string
	subject string
	pub     *store.Publisher
	log     *slog.Logger
	// onPark, optional, runs after a message was parked (the command-worker
	// streams a failed result for it).
	onPark func(ctx context.Context, msg *message.Message, dl contract.DeadLetter)
}

// Publish parks each message; an error makes the router nack, so the
// message is redelivered rather than lost.
func (d *deadLetters) Publish(_ string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		dl := deadLetterOf(d.worker, msg)
		// Keep the message's span (and so its trace) but not its cancellation.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), 10*time.Second)
		err := d.pub.DeadLetter(ctx, dl, telemetry.TraceMap(ctx))
		if err == nil && d.onPark != nil {
			d.onPark(ctx, msg, dl)
		}
		cancel()
		if err != nil {
			return err
		}
		msg.Metadata.Set(metaParked, "true")
		d.log.WarnContext(ctx, "message parked in the dead-letter queue",
			"worker", d.worker, "subject", dl.Subject, "stream_seq", dl.StreamSequence,
			"error", dl.Error, "code", dl.Code, "attempts", dl.Attempts, "deliveries", dl.Deliveries)
	}
	return nil
}

// Close has nothing to release: the connection belongs to the worker.
func (d *deadLetters) Close() error { return nil }

func deadLetterOf(worker string, msg *message.Message) contract.DeadLetter {
	md := msg.Metadata
	headers := map[string][]string{}
	for k, v := range md {
		if !internalMeta[k] {
			headers[k] = []string{v}
		}
	}
	seq, _ := strconv.ParseUint(md.Get(MetaStreamSeq), 10, 64)
	delivered, _ := strconv.ParseUint(md.Get(MetaDelivered), 10, 64)
	n, _ := strconv.Atoi(md.Get(MetaAttempts))
	first, _ := time.Parse(time.RFC3339Nano, md.Get(MetaFirstError))
	last, _ := time.Parse(time.RFC3339Nano, md.Get(MetaLastError))
	return contract.DeadLetter{
		Worker: worker, Subject: md.Get(MetaSubject), Stream: md.Get(MetaStream), StreamSequence: seq,
		Headers: headers, Payload: msg.Payload, Error: md.Get(middleware.ReasonForPoisonedKey),
		Code: md.Get(metaCode), Attempts: n, Deliveries: delivered, FirstFailure: first, LastFailure: last,
	}
}
