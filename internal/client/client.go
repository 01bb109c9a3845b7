// Package client is the producer's side of the contract: send commands,
// stream their results, query the read models. personctl, the demo and
// the end-to-end tests use it; any other Go producer can too.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/store"
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
	return c.pub.Command(ctx, env, headers)
}

// Do sends a command and streams its results to fn (nil: ignore them)
// until the final one, which it returns.
func (c *Client) Do(ctx context.Context, env contract.CommandEnvelope, headers map[string]string, fn func(contract.Result)) (contract.Result, error) {
	ch := make(chan *nats.Msg, 8)
	sub, err := c.nc.ChanSubscribe(c.names.Result(env.CommandID), ch)
	if err != nil {
		return contract.Result{}, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	dup, err := c.Send(ctx, env, headers)
	if err != nil {
		return contract.Result{}, err
	}
	if dup { // resubmitted: its results may be out already
		return c.Watch(ctx, env.CommandID, fn)
	}
	for {
		select {
		case <-ctx.Done():
			return contract.Result{}, fmt.Errorf("waiting for the result of %s: %w", env.CommandID, ctx.Err())
		case m := <-ch:
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

// Watch streams a command's stored results (from the results stream, so
// it works after the fact and across processes) until the final one.
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
		if r.Final {
			return r, nil
		}
	}
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
