// Package natstest starts a real embedded nats-server for tests and
// connects to it: no mock broker anywhere.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/natsdev"
	"github.com/personfleet/personfleet/internal/store"
)

// Server starts an embedded server on a free port with JetStream in a
// temporary directory, stopped when the test ends.
func Server(tb testing.TB) *natsdev.Server {
	tb.Helper()
	s, err := natsdev.Start(natsdev.Config{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("embedded nats-server: %v", err)
	}
	tb.Cleanup(s.Shutdown)
	return s
}

// Connect opens a connection and a JetStream context, closed at the end.
func Connect(tb testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(url, nats.Name(tb.Name()))
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Provisioned starts a server, connects, and provisions the fleet's
// resources with settings (zero value: defaults).
func Provisioned(tb testing.TB, settings store.Settings) (*natsdev.Server, *nats.Conn, jetstream.JetStream) {
	tb.Helper()
	s := Server(tb)
	nc, js := Connect(tb, s.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.Provision(ctx, js, settings); err != nil {
		tb.Fatalf("provision: %v", err)
	}
	return s, nc, js
}
