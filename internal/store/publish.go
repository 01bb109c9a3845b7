package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
)

// Publisher writes results, dead letters, commands and timers with
// JetStream publishes (each acknowledged by the server, with a Nats-Msg-Id
// so a repeat inside the duplicate window is dropped).
type Publisher struct {
	js    jetstream.JetStream
	names contract.Names
}

// NewPublisher returns a publisher.
func NewPublisher(js jetstream.JetStream, names contract.Names) *Publisher {
	return &Publisher{js: js, names: names}
}

// Result publishes one result message on <prefix>.results.<command_id>.
// Its Nats-Msg-Id is "<command_id>:<status>", so a command handled twice
// (a redelivery) does not stream the same status twice.
func (p *Publisher) Result(ctx context.Context, r contract.Result, trace map[string]string) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("result: %w", err)
	}
	m := nats.NewMsg(p.names.Result(r.CommandID))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, r.CommandID+":"+string(r.Status))
	m.Header.Set(contract.HeaderResultStatus, string(r.Status))
	setAll(m.Header, trace)
	if _, err := p.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("result %s: %w", r.CommandID, err)
	}
	return nil
}

// DeadLetter parks a message on <prefix>.dlq.<worker>. Its Nats-Msg-Id is
// derived from the original stream and sequence, so parking the same
// delivery twice keeps one copy.
func (p *Publisher) DeadLetter(ctx context.Context, dl contract.DeadLetter, trace map[string]string) error {
	data, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	m := nats.NewMsg(p.names.DLQ(dl.Worker))
	m.Data = data
	if dl.StreamSequence > 0 {
		m.Header.Set(jetstream.MsgIDHeader, "dlq:"+dl.Worker+":"+dl.Stream+":"+strconv.FormatUint(dl.StreamSequence, 10)+":"+strconv.FormatUint(dl.Deliveries, 10))
	}
	setAll(m.Header, trace)
	if _, err := p.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("dead letter to %s: %w", m.Subject, err)
	}
	return nil
}

// Command publishes a command envelope on its subject with Nats-Msg-Id =
// command id: resubmitting it inside the commands stream's duplicate
// window is a no-op. It reports whether the server saw a duplicate.
func (p *Publisher) Command(ctx context.Context, env contract.CommandEnvelope, headers map[string]string) (duplicate bool, err error) {
	m, err := p.commandMsg(env, headers)
	if err != nil {
		return false, err
	}
	ack, err := p.js.PublishMsg(ctx, m)
	if err != nil {
		return false, fmt.Errorf("command %s: %w", env.CommandID, err)
	}
	return ack.Duplicate, nil
}

func (p *Publisher) commandMsg(env contract.CommandEnvelope, headers map[string]string) (*nats.Msg, error) {
	data, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	m := nats.NewMsg(p.names.Command(env.PersonID, person.CommandType(env.Type)))
	m.Data = data
	setAll(m.Header, headers)
	m.Header.Set(jetstream.MsgIDHeader, env.CommandID)
	return m, nil
}

// Timer arms a durable timer held by the server (message scheduling,
// nats-server >= 2.12): at `at`, the server publishes the command envelope
// to <prefix>.timers.fired.<person_id>.<name>, where the timer dispatcher
// turns it into the command. One timer per (person, name): arming again
// replaces the previous schedule.
func (p *Publisher) Timer(ctx context.Context, id person.ID, name string, at time.Time, env contract.CommandEnvelope, headers map[string]string) error {
	m, err := p.commandMsg(env, headers)
	if err != nil {
		return err
	}
	m.Subject = p.names.TimerArmed(id, name)
	// Fractional seconds are kept (nats-server parses "@at" with Go's RFC 3339
	// parser, which accepts them): whole seconds would fire up to 1 s early.
	m.Header.Set(contract.HeaderSchedule, "@at "+at.UTC().Format(time.RFC3339Nano))
	m.Header.Set(contract.HeaderScheduleTgt, p.names.TimerFired(id, name))
	m.Header.Set(jetstream.MsgIDHeader, "timer:"+env.CommandID)
	if _, err := p.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("timer %s for %s: %w", name, id, err)
	}
	return nil
}

func setAll(h nats.Header, kv map[string]string) {
	for k, v := range kv {
		h.Set(k, v)
	}
}
