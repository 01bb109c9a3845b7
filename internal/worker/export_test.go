package worker

import (
	"context"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/personfleet/personfleet/internal/contract"
)

// LogAppendRace is the debug message of an append that lost a race.
const LogAppendRace = logAppendRace

// DecideAndAppend is the first half of Handle: decide and append, without
// publishing the result — what a replica did before it crashed right
// after its append (no result, no ack).
func (h *CommandHandler) DecideAndAppend(ctx context.Context, cmd contract.Command) (contract.Result, error) {
	return h.decideAndAppend(ctx, cmd)
}

// RunHandler runs a worker exactly as Run does — connection, provisioning,
// the production middleware stack (stack), the dead-letter publisher on
// <prefix>.dlq.<cfg.Kind>, the subscriber bound to the durable consumer of
// cfg.Kind, graceful shutdown — but with h as its only handler, over the
// stream that kind consumes (commands for the command-worker, events
// otherwise), until ctx is done.
func RunHandler(ctx context.Context, cfg Config, log *slog.Logger, h message.NoPublishHandlerFunc) error {
	return run(ctx, cfg, log, func(names contract.Names, r *message.Router, subscribe subscribeFunc) error {
		consumer, topic := string(cfg.Kind), names.Events()
		if cfg.Kind == CommandWorker {
			topic = names.Commands()
		}
		sub, err := subscribe(consumer)
		if err != nil {
			return err
		}
		r.AddConsumerHandler("test", topic, sub, h)
		return nil
	})
}
