package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/policy"
	"github.com/personfleet/personfleet/internal/schema"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/telemetry"
)

// PolicyHandler runs the policies over each event and sends the commands
// they emit: at once on <prefix>.commands…, or, for a command that must
// wait, as a durable timer the server holds (message scheduling).
type PolicyHandler struct {
	policies []policy.Policy
	names    contract.Names
	pub      *store.Publisher
	log      *slog.Logger
	met      *telemetry.Metrics
	now      func() time.Time
}

// NewPolicyHandler returns the handler.
func NewPolicyHandler(names contract.Names, policies []policy.Policy, pub *store.Publisher, log *slog.Logger, met *telemetry.Metrics) (*PolicyHandler, error) {
	if pub == nil || log == nil {
		return nil, errors.New("policy handler: nil dependency")
	}
	if met == nil {
		met = telemetry.NewMetrics(string(PolicyWorker))
	}
	return &PolicyHandler{names: names, policies: policies, pub: pub, log: log, met: met, now: time.Now}, nil
}

// Handle is the Watermill handler of <prefix>.events.>.
func (h *PolicyHandler) Handle(msg *message.Message) error {
	ctx := msg.Context()
	e, err := schema.Decode(msg.Payload)
	if err != nil {
		return Permanent(fmt.Errorf("event on %s: %w", msg.Metadata.Get(MetaSubject), err))
	}
	trace.SpanFromContext(ctx).SetAttributes(
		attribute.String(telemetry.AttrEventID, e.ID), attribute.String(telemetry.AttrEventType, string(e.Type())),
		attribute.String(telemetry.AttrPersonID, string(e.PersonID)), attribute.Int64(telemetry.AttrAggregateVersion, int64(e.Version)))
	for _, req := range policy.Evaluate(h.policies, &e) {
		data, err := json.Marshal(req.Command)
		if err != nil {
			return Permanent(fmt.Errorf("policy %s: encode command: %w", req.Policy, err))
		}
		env := contract.CommandEnvelope{
			CommandID: req.ID, Type: string(req.Command.CommandType()), PersonID: req.PersonID, Data: data,
			CorrelationID: req.CorrelationID, CausationID: req.CausationID, Actor: "policy:" + req.Policy,
			IssuedAt: e.OccurredAt,
		}
		if err := h.send(ctx, req, env); err != nil {
			return err
		}
	}
	return nil
}

// send publishes a policy's command now, or arms its timer, in a producer
// span whose context travels with the command.
func (h *PolicyHandler) send(ctx context.Context, req policy.Request, env contract.CommandEnvelope) error {
	timer := !req.NotBefore.IsZero() && req.NotBefore.After(h.now())
	subject := h.names.Command(req.PersonID, req.Command.CommandType())
	if timer {
		subject = h.names.TimerArmed(req.PersonID, req.Policy)
	}
	ctx, span := telemetry.StartSend(ctx, h.names.Prefix()+".commands", subject,
		attribute.String(telemetry.AttrPolicy, req.Policy), attribute.String(telemetry.AttrMessageID, req.ID),
		attribute.String(telemetry.AttrCommandType, env.Type), attribute.String(telemetry.AttrPersonID, string(req.PersonID)))
	var err error
	kind := "now"
	if timer {
		kind = "timer"
		err = h.pub.Timer(ctx, req.PersonID, req.Policy, req.NotBefore, env, telemetry.TraceMap(ctx))
	} else {
		_, err = h.pub.Command(ctx, env, telemetry.TraceMap(ctx))
	}
	telemetry.End(span, err)
	if err != nil {
		return err
	}
	h.met.Policies.WithLabelValues(req.Policy, kind).Inc()
	h.log.DebugContext(ctx, "policy command sent", "policy", req.Policy, "command_id", req.ID, "command", env.Type,
		"person_id", req.PersonID, "event_id", env.CausationID, "timer", timer, "at", req.NotBefore)
	return nil
}

// HandleTimer is the Watermill handler of fired timers
// (<prefix>.timers.fired.>): the server published the command envelope
// there at the timer's time; it goes to its command subject with its
// Nats-Msg-Id, so a timer delivered twice sends the command once.
func (h *PolicyHandler) HandleTimer(msg *message.Message) error {
	var env contract.CommandEnvelope
	if err := json.Unmarshal(msg.Payload, &env); err != nil {
		return Permanent(fmt.Errorf("fired timer on %s is not a command envelope: %w", msg.Metadata.Get(MetaSubject), err))
	}
	if !contract.IsValidToken(env.CommandID) {
		return Permanent(fmt.Errorf("fired timer on %s has no usable command id", msg.Metadata.Get(MetaSubject)))
	}
	ctx, span := telemetry.StartSend(msg.Context(), h.names.Prefix()+".commands", h.names.Command(env.PersonID, person.CommandType(env.Type)),
		attribute.String(telemetry.AttrMessageID, env.CommandID), attribute.String(telemetry.AttrCommandType, env.Type),
		attribute.String(telemetry.AttrPersonID, string(env.PersonID)))
	_, err := h.pub.Command(ctx, env, telemetry.TraceMap(ctx))
	telemetry.End(span, err)
	if err != nil {
		return err
	}
	h.log.InfoContext(ctx, "timer fired", "command_id", env.CommandID, "person_id", env.PersonID, "command", env.Type)
	return nil
}
