// Package client is the producer's side of the contract: send commands,
// stream their results, query the read models. personctl, the demo and
// the end-to-end tests use it; any other Go producer can too.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/telemetry"
)

// Client talks to a fleet. It is safe for concurrent use.
type Client struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	names contract.Names
	pub   *store.Publisher
}

// New returns a client on an open connection.
func New(nc *nats.Conn, names contract.Names) (*Client, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return &Client{nc: nc, js: js, names: names, pub: store.NewPublisher(js, names)}, nil
}

// Names are the fleet's subjects and streams.
func (c *Client) Names() contract.Names { return c.names }

// JetStream is the client's JetStream context.
func (c *Client) JetStream() jetstream.JetStream { return c.js }

// Conn is the client's connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// NewCommand builds an envelope with a fresh command id (a random UUID).
func NewCommand(id person.ID, cmd person.Command) (contract.CommandEnvelope, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return contract.CommandEnvelope{}, err
	}
	return contract.CommandEnvelope{CommandID: uuid.NewString(), Type: string(cmd.CommandType()), PersonID: id, Data: data}, nil
}

// Send publishes a command (Nats-Msg-Id = command id; duplicate reports a
// resubmission inside the dedup window) without waiting for its result.
func (c *Client) Send(ctx context.Context, env contract.CommandEnvelope, headers map[string]string) (duplicate bool, err error) {
	if env.IssuedAt.IsZero() {
		env.IssuedAt = time.Now().UTC()
	}
	// A producer span whose W3C context travels in the headers: the fleet's
	// spans for this command, and for everything it causes, join its trace.
	ctx, span := telemetry.StartSend(ctx, c.names.Prefix()+".commands", c.names.Command(env.PersonID, person.CommandType(env.Type)),
		attribute.String(telemetry.AttrMessageID, env.CommandID), attribute.String(telemetry.AttrCommandType, env.Type),
		attribute.String(telemetry.AttrPersonID, string(env.PersonID)))
	h := maps.Clone(headers)
	if h == nil {
		h = map[string]string{}
	}
	telemetry.Inject(ctx, h)
	dup, err := c.pub.Command(ctx, env, h)
	telemetry.End(span, err)
	return dup, err
}

// Do sends a command and streams its results to fn (nil: ignore them)
// until the final one, which it returns.
func (c *Client) Do(ctx context.Context, env contract.CommandEnvelope, headers map[string]string, fn func(contract.Result)) (contract.Result, error) {
	r, _, err := c.Submit(ctx, env, headers, fn)
	return r, err
}

// Submit is Do that also reports whether the server took the command for
// a resubmission (same command id inside the commands stream's duplicate
// window): its results are then read from the results stream, where the
// first submission's are kept.
func (c *Client) Submit(ctx context.Context, env contract.CommandEnvelope, headers map[string]string, fn func(contract.Result)) (contract.Result, bool, error) {
	w, err := c.AwaitResult(env.CommandID)
	if err != nil {
		return contract.Result{}, false, err
	}
	defer w.Stop()
	dup, err := c.Send(ctx, env, headers)
	if err != nil {
		return contract.Result{}, false, err
	}
	if dup { // resubmitted: its results may be out already
		if r, ok, err := c.LastResult(ctx, env.CommandID); err == nil && ok && r.Final {
			if fn != nil {
				fn(r)
			}
			return r, true, nil
		}
		r, err := c.Watch(ctx, env.CommandID, fn)
		return r, true, err
	}
	r, err := w.Final(ctx, fn)
	return r, false, err
}

// ResultWaiter receives a command's results live. Subscribe (AwaitResult)
// before the command is published, or the results may pass unseen.
type ResultWaiter struct {
	commandID string
	sub       *nats.Subscription
	ch        chan *nats.Msg
}

// AwaitResult subscribes to the live results of a command.
func (c *Client) AwaitResult(commandID string) (*ResultWaiter, error) {
	ch := make(chan *nats.Msg, 8)
	sub, err := c.nc.ChanSubscribe(c.names.Result(commandID), ch)
	if err != nil {
		return nil, err
	}
	return &ResultWaiter{commandID: commandID, sub: sub, ch: ch}, nil
}

// Final streams the results to fn (nil: ignore them) until the final one,
// which it returns.
func (w *ResultWaiter) Final(ctx context.Context, fn func(contract.Result)) (contract.Result, error) {
	for {
		select {
		case <-ctx.Done():
			return contract.Result{}, fmt.Errorf("waiting for the result of %s: %w", w.commandID, ctx.Err())
		case m := <-w.ch:
			r, err := decodeResult(m.Data)
			if err != nil {
				return contract.Result{}, err
			}
			if fn != nil {
				fn(r)
			}
			if r.Final {
				return r, nil
			}
		}
	}
}

// Stop ends the subscription.
func (w *ResultWaiter) Stop() { _ = w.sub.Unsubscribe() }

// LastResult reads the last stored result of a command with one direct
// get (the results stream allows direct gets); ok is false when there is
// none (not processed yet, or expired).
func (c *Client) LastResult(ctx context.Context, commandID string) (r contract.Result, ok bool, err error) {
	subj := "$JS.API.DIRECT.GET." + c.names.ResultsStream() + "." + c.names.Result(commandID)
	msg, err := c.nc.RequestWithContext(ctx, subj, nil)
	if err != nil {
		return r, false, fmt.Errorf("last result of %s: %w", commandID, err)
	}
	switch st := msg.Header.Get("Status"); st {
	case "":
	case "404":
		return r, false, nil
	default:
		return r, false, fmt.Errorf("last result of %s: status %s %s", commandID, st, msg.Header.Get("Description"))
	}
	r, err = decodeResult(msg.Data)
	return r, err == nil, err
}

// Watch streams a command's stored results (from the results stream, so
// it works after the fact and across processes) until the final one (the
// last stored final one, when there are several: a command redriven from
// the dead-letter queue), waiting for it when it is still to come.
func (c *Client) Watch(ctx context.Context, commandID string, fn func(contract.Result)) (contract.Result, error) {
	cons, err := c.js.OrderedConsumer(ctx, c.names.ResultsStream(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{c.names.Result(commandID)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return contract.Result{}, err
	}
	for {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			return contract.Result{}, fmt.Errorf("watching %s: %w", commandID, err)
		}
		r, err := decodeResult(msg.Data())
		if err != nil {
			return contract.Result{}, err
		}
		if fn != nil {
			fn(r)
		}
		// A command redriven from the dead-letter queue has a second final
		// result after its "failed" one: go on to the last stored one.
		if r.Final && pending(msg) == 0 {
			return r, nil
		}
	}
}

// pending is how many messages the consumer had left after msg (0 when
// unknown).
func pending(msg jetstream.Msg) uint64 {
	meta, err := msg.Metadata()
	if err != nil {
		return 0
	}
	return meta.NumPending
}

func decodeResult(b []byte) (contract.Result, error) {
	var r contract.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("malformed result: %w", err)
	}
	return r, nil
}

// ErrNotFound is a query's 404.
var ErrNotFound = errors.New("not found")

// Query sends a request to <prefix>.query.<name> and decodes the reply
// into out.
func (c *Client) Query(ctx context.Context, name string, req, out any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	msg, err := c.nc.RequestWithContext(ctx, c.names.Query(name), data)
	if err != nil {
		return fmt.Errorf("query %s: %w", name, err)
	}
	if code := msg.Header.Get("Nats-Service-Error-Code"); code != "" {
		if code == "404" {
			return fmt.Errorf("query %s: %w", name, ErrNotFound)
		}
		return fmt.Errorf("query %s: %s %s", name, code, msg.Header.Get("Nats-Service-Error"))
	}
	return json.Unmarshal(msg.Data, out)
}
