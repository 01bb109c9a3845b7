package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/policy"
	"github.com/personfleet/personfleet/internal/schema"
	"github.com/personfleet/personfleet/internal/store"
)

// PolicyHandler runs the policies over each event and sends the commands
// they emit: at once on <prefix>.commands…, or, for a command that must
// wait, as a durable timer the server holds (message scheduling).
type PolicyHandler struct {
	policies []policy.Policy
	pub      *store.Publisher
	log      *slog.Logger
	now      func() time.Time
}

// NewPolicyHandler returns the handler.
func NewPolicyHandler(policies []policy.Policy, pub *store.Publisher, log *slog.Logger) (*PolicyHandler, error) {
	if pub == nil || log == nil {
		return nil, errors.New("policy handler: nil dependency")
	}
	return &PolicyHandler{policies: policies, pub: pub, log: log, now: time.Now}, nil
}

// Handle is the Watermill handler of <prefix>.events.>.
func (h *PolicyHandler) Handle(msg *message.Message) error {
	ctx := msg.Context()
	e, err := schema.Decode(msg.Payload)
	if err != nil {
		return Permanent(fmt.Errorf("event on %s: %w", msg.Metadata.Get(MetaSubject), err))
	}
	trace := traceHeaders(msg.Metadata)
	if len(trace) == 0 {
		trace = copyTrace(e.Trace)
	}
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
		log := h.log.With("event_id", e.ID, "person_id", e.PersonID, "policy", req.Policy, "command_id", req.ID, "command", env.Type)
		if !req.NotBefore.IsZero() && req.NotBefore.After(h.now()) {
			if err := h.pub.Timer(ctx, req.PersonID, req.Policy, req.NotBefore, env, trace); err != nil {
				return err
			}
			log.Debug("timer armed", "at", req.NotBefore)
			continue
		}
		if _, err := h.pub.Command(ctx, env, trace); err != nil {
			return err
		}
		log.Debug("policy command sent")
	}
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
	if _, err := h.pub.Command(msg.Context(), env, traceHeaders(msg.Metadata)); err != nil {
		return err
	}
	h.log.Info("timer fired", "command_id", env.CommandID, "person_id", env.PersonID, "command", env.Type)
	return nil
}
