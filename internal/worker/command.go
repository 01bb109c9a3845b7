package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/telemetry"
)

// CommandHandler decides commands and appends their events. For every
// command it streams results on <prefix>.results.<command_id>: optionally
// "received" first, always one final "accepted", "rejected" or "failed".
type CommandHandler struct {
	names  contract.Names
	events *store.EventStore
	pub    *store.Publisher
	log    *slog.Logger
	met    *telemetry.Metrics
	now    func() time.Time
	// MaxConflicts bounds reload-and-decide rounds after optimistic
	// concurrency conflicts; then the command fails (code concurrency_conflict).
	maxConflicts int
	progress     bool
	// persons serialises the commands of one person within this process:
	// only replicas race each other, and the cache serves the next command.
	persons keyedMutex
}

// CommandOptions tune a CommandHandler.
type CommandOptions struct {
	MaxConflicts int                // default 8
	Progress     bool               // also stream a non-final "received" result
	Metrics      *telemetry.Metrics // default: a private registry
}

// NewCommandHandler returns the handler; every dependency is required.
func NewCommandHandler(names contract.Names, events *store.EventStore, pub *store.Publisher, log *slog.Logger, opt CommandOptions) (*CommandHandler, error) {
	if events == nil || pub == nil || log == nil {
		return nil, errors.New("command handler: nil dependency")
	}
	if opt.MaxConflicts <= 0 {
		opt.MaxConflicts = 8
	}
	if opt.Metrics == nil {
		opt.Metrics = telemetry.NewMetrics(string(CommandWorker))
	}
	return &CommandHandler{names: names, events: events, pub: pub, log: log, met: opt.Metrics, now: time.Now,
		maxConflicts: opt.MaxConflicts, progress: opt.Progress, persons: keyedMutex{m: map[person.ID]*keyedEntry{}}}, nil
}

// logAppendRace is logged (debug) when an append loses an optimistic-
// concurrency race and the command is decided again.
const logAppendRace = "append lost a race; reloading"

// codeConflict is the code of a command that kept losing races.
const codeConflict = "concurrency_conflict"

// Handle is the Watermill handler. It returns nil once the final result is
// published (the message is then acked), a Permanent error for a message
// that cannot even be answered (no command id), or a transient error.
func (h *CommandHandler) Handle(msg *message.Message) error {
	ctx := msg.Context()
	subject := msg.Metadata.Get(MetaSubject)
	cmd, err := h.names.DecodeCommand(subject, msg.Payload)
	if err != nil {
		return h.rejectUndecodable(ctx, subject, msg, err)
	}
	env := cmd.Envelope
	trace.SpanFromContext(ctx).SetAttributes(
		attribute.String(telemetry.AttrCommandID, env.CommandID),
		attribute.String(telemetry.AttrCommandType, env.Type),
		attribute.String(telemetry.AttrPersonID, string(env.PersonID)))
	if h.progress {
		if err := h.publishResult(ctx, contract.Result{CommandID: env.CommandID, PersonID: env.PersonID, Type: env.Type,
			Status: contract.StatusReceived, At: h.now().UTC()}); err != nil {
			return err
		}
	}
	res, err := h.decideAndAppend(ctx, cmd)
	if err != nil {
		return err
	}
	h.log.DebugContext(ctx, "command handled", "command_id", env.CommandID, "person_id", env.PersonID, "command", env.Type,
		"status", res.Status, "version", res.Version)
	return h.publishResult(ctx, res)
}

// publishResult streams one result message, in a producer span whose
// context travels in the message's headers.
func (h *CommandHandler) publishResult(ctx context.Context, res contract.Result) error {
	ctx, span := telemetry.StartSend(ctx, h.names.Prefix()+".results", h.names.Result(res.CommandID),
		attribute.String(telemetry.AttrMessageID, res.CommandID+":"+string(res.Status)),
		attribute.String(telemetry.AttrResultStatus, string(res.Status)))
	start := time.Now()
	err := h.pub.Result(ctx, res, telemetry.TraceMap(ctx))
	h.met.ResultPublish.Observe(time.Since(start).Seconds())
	telemetry.End(span, err)
	if err == nil && res.Final {
		code := ""
		if res.Error != nil {
			code = res.Error.Code
		}
		h.met.Results.WithLabelValues(string(res.Status), code).Inc()
	}
	return err
}

func (h *CommandHandler) decideAndAppend(ctx context.Context, cmd contract.Command) (contract.Result, error) {
	env := cmd.Envelope
	defer h.persons.lock(env.PersonID)()
	res := contract.Result{CommandID: env.CommandID, PersonID: env.PersonID, Type: env.Type, Final: true}
	exists := func(id person.ID) (bool, error) { return h.events.Exists(ctx, id) }
	// stale is a person found out of date (a lost race, a rejection to
	// confirm): the next round brings it up to date with the events
	// appended since, rather than reading its whole history again.
	var stale *store.Loaded
	for conflicts := 0; conflicts < h.maxConflicts; {
		var l store.Loaded
		var err error
		if stale != nil {
			l, err = h.events.Refresh(ctx, *stale)
		} else {
			l, err = h.events.Load(ctx, env.PersonID)
		}
		if err != nil {
			return res, err
		}
		p := l.Person
		res.At = h.now().UTC()
		if p.Processed(env.CommandID) {
			h.events.Keep(l)
			res.Status, res.Version, res.Duplicate = contract.StatusAccepted, p.Version(), true
			return res, nil
		}
		var payloads []person.Payload
		if env.ExpectedVersion != nil && *env.ExpectedVersion != p.Version() {
			err = fmt.Errorf("%w: at %d, expected %d", contract.ErrVersionConflict, p.Version(), *env.ExpectedVersion)
		} else {
			_, span := telemetry.Tracer().Start(ctx, "decide "+env.Type, trace.WithAttributes(
				attribute.String(telemetry.AttrPersonID, string(env.PersonID)), attribute.Int64(telemetry.AttrAggregateVersion, int64(p.Version()))))
			payloads, err = p.Decide(cmd.Command, person.Env{Now: res.At, PersonExists: exists})
			telemetry.End(span, err)
		}
		if err != nil {
			if !contract.IsPermanent(err) {
				h.events.Keep(l)
				return res, err
			}
			if !l.Current {
				// Only a person the stream's leader confirmed current may
				// reject: one from the cache, or read from a replica that
				// lags (a node just restarted), may be stale.
				if stale != nil { // brought up to date already, yet behind the leader
					conflicts++
					h.log.Debug("stale history read, loading again", "person_id", env.PersonID, "loaded_seq", l.LastSeq)
					select { // give the replica time to catch up
					case <-ctx.Done():
						return res, ctx.Err()
					case <-time.After(time.Duration(conflicts) * 50 * time.Millisecond):
					}
				}
				stale = &l
				continue
			}
			h.events.Keep(l)
			return rejected(res, err), nil
		}
		// The events carry the append span's context: a policy or a
		// projection handling them later, even much later, continues the trace.
		actx, span := telemetry.StartSend(ctx, h.names.Prefix()+".events", h.names.EventsOf(env.PersonID),
			attribute.String(telemetry.AttrPersonID, string(env.PersonID)), attribute.Int("messaging.batch.message_count", len(payloads)))
		events := person.NewEvents(env.PersonID, p.Version(), person.Meta{
			CommandID: env.CommandID, CorrelationID: env.CorrelationID, Actor: env.Actor, At: res.At, Trace: telemetry.TraceMap(actx),
		}, payloads)
		seq, err := h.events.Append(actx, env.PersonID, l.LastSeq, events)
		if err == nil {
			span.SetAttributes(attribute.Int64(telemetry.AttrAggregateVersion, int64(events[len(events)-1].Version)))
		}
		telemetry.End(span, err)
		if errors.Is(err, store.ErrDuplicate) {
			// The stream holds this command's events already (their ids derive
			// from the command id): it was processed, longer ago than the
			// aggregate remembers. Deciding again would only hit the dedup again.
			fl, err := h.events.LoadFresh(ctx, env.PersonID)
			if err != nil {
				return res, err
			}
			h.events.Keep(fl)
			res.At = h.now().UTC()
			res.Status, res.Version, res.Duplicate = contract.StatusAccepted, fl.Person.Version(), true
			return res, nil
		}
		if errors.Is(err, store.ErrConflict) {
			h.met.Conflicts.Inc()
			h.log.DebugContext(ctx, logAppendRace, "command_id", env.CommandID, "person_id", env.PersonID, "round", conflicts+1, "error", err)
			conflicts++
			stale = &l // catch up and decide again
			continue
		}
		if err != nil {
			return res, err
		}
		for i := range events {
			if err := p.Apply(&events[i]); err != nil {
				return res, fmt.Errorf("apply own event: %w", err)
			}
			res.Events = append(res.Events, contract.EventRef{EventID: events[i].ID, Type: events[i].Type(), Version: events[i].Version})
		}
		h.events.Keep(store.Loaded{Person: p, LastSeq: seq})
		res.Status, res.Version = contract.StatusAccepted, p.Version()
		return res, nil
	}
	res.At = h.now().UTC()
	res.Status = contract.StatusFailed
	res.Error = &contract.ResultError{Code: codeConflict, Message: fmt.Sprintf("lost %d optimistic-concurrency races in a row", h.maxConflicts)}
	return res, nil
}

func rejected(res contract.Result, err error) contract.Result {
	res.Status = contract.StatusRejected
	res.Error = &contract.ResultError{Code: contract.Code(err), Message: err.Error()}
	return res
}

// rejectUndecodable answers a command that failed to decode with a
// rejected result when it has a usable command id (from the body or the
// Nats-Msg-Id header); without one there is nobody to answer, so the
// message is parked in the dead-letter queue.
func (h *CommandHandler) rejectUndecodable(ctx context.Context, subject string, msg *message.Message, err error) error {
	id := contract.CommandIDOf(msg.Payload)
	if id == "" {
		if hdr := msg.Metadata.Get("Nats-Msg-Id"); contract.IsValidToken(hdr) {
			id = hdr
		}
	}
	if id == "" {
		return Permanent(fmt.Errorf("command on %s has no usable command id: %w", subject, err))
	}
	pid, typ, _ := h.names.ParseCommandSubject(subject)
	res := rejected(contract.Result{CommandID: id, PersonID: pid, Type: typ, Final: true, At: h.now().UTC()}, err)
	h.log.InfoContext(ctx, "command rejected before decide", "command_id", id, "subject", subject, "code", res.Error.Code, "error", err)
	return h.publishResult(ctx, res)
}

// failParked streams a final "failed" result for a command parked in the
// dead-letter queue, so its producer is not left waiting.
func (h *CommandHandler) failParked(ctx context.Context, msg *message.Message, dl contract.DeadLetter) {
	id := contract.CommandIDOf(msg.Payload)
	if id == "" {
		return
	}
	pid, typ, _ := h.names.ParseCommandSubject(dl.Subject)
	res := contract.Result{CommandID: id, PersonID: pid, Type: typ, Status: contract.StatusFailed, Final: true, At: h.now().UTC(),
		Error: &contract.ResultError{Code: "dead_lettered", Message: dl.Error}}
	if err := h.publishResult(ctx, res); err != nil {
		h.log.ErrorContext(ctx, "failed result for a parked command not published", "command_id", id, "error", err)
	}
}

// keyedMutex is one mutex per person, alive while someone holds or waits
// for it.
type keyedMutex struct {
	mu sync.Mutex
	m  map[person.ID]*keyedEntry
}

type keyedEntry struct {
	mu      sync.Mutex
	holders int
}

// lock locks id's mutex and returns its unlock.
func (k *keyedMutex) lock(id person.ID) (unlock func()) {
	k.mu.Lock()
	e := k.m[id]
	if e == nil {
		e = &keyedEntry{}
		k.m[id] = e
	}
	e.holders++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.holders--; e.holders == 0 {
			delete(k.m, id)
		}
		k.mu.Unlock()
	}
}
