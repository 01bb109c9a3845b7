package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/config"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/natstest"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/schema"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/worker"
)

// fleet is an embedded nats-server with the fleet's resources provisioned
// and workers run in-process on demand.
type fleet struct {
	t   *testing.T
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
	cl  *client.Client

	mu    sync.Mutex
	stops []func()
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	srv, nc, js := natstest.Provisioned(t, store.Settings{})
	cl, err := client.New(nc, contract.DefaultNames())
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, url: srv.URL(), nc: nc, js: js, cl: cl}
	t.Cleanup(f.stopAll)
	return f
}

func workerConfig(kind worker.Kind, url string) worker.Config {
	return worker.Config{
		Kind: kind, NATS: config.NATS{URL: url}, Prefix: "person", Provision: true, StreamReplicas: 1,
		CommandsDedupWindow: 10 * time.Minute, ResultsMaxAge: time.Hour,
		AckWait: 10 * time.Second, MaxDeliver: 10, MaxAckPending: 4096, Concurrency: 32,
		Retry:        worker.RetryConfig{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2, MaxRetries: 3},
		CloseTimeout: 5 * time.Second, CacheSize: 20000, InactivityPeriod: time.Hour,
	}
}

func testLog() *slog.Logger {
	w := io.Discard
	if testing.Verbose() && os.Getenv("PERSONFLEET_TEST_LOGS") != "" {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// start runs one replica of a worker until the returned stop (or the end
// of the test) and waits until it is bound to its consumer.
func (f *fleet) start(kind worker.Kind, tweak func(*worker.Config)) (stop func()) {
	f.t.Helper()
	cfg := workerConfig(kind, f.url)
	if tweak != nil {
		tweak(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, testLog()) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				f.t.Errorf("%s stopped with %v", kind, err)
			}
		})
	}
	f.mu.Lock()
	f.stops = append(f.stops, stop)
	f.mu.Unlock()
	stream := f.cl.Names().EventsStream()
	if kind == worker.CommandWorker {
		stream = f.cl.Names().CommandsStream()
	}
	if cfg.EventsStream != "" && kind != worker.CommandWorker {
		stream = cfg.EventsStream
	}
	f.waitBound(stream, string(kind), done)
	return stop
}

func (f *fleet) waitBound(stream, consumer string, done chan error) {
	f.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			f.t.Fatalf("%s exited: %v", consumer, err)
		default:
		}
		if c, err := f.js.PushConsumer(context.Background(), stream, consumer); err == nil {
			if info, err := c.Info(context.Background()); err == nil && info.PushBound {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("%s never bound to its consumer on %s", consumer, stream)
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	stops := f.stops
	f.stops = nil
	f.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}

// startCommandWorkerOn runs a command-worker that reads and appends the
// events of stream (--events-stream).
func (f *fleet) startCommandWorkerOn(stream string) (stop func()) {
	f.t.Helper()
	return f.start(worker.CommandWorker, func(c *worker.Config) { c.EventsStream = stream })
}

// ctl runs personctl against the fleet and returns its exit code and output.
func (f *fleet) ctl(args ...string) (int, string, string) {
	f.t.Helper()
	return runCtl(f.t, append([]string{"--server", f.url}, args...)...)
}

func runCtl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := Run(ctx, args, &out, &errOut, func(string) (string, bool) { return "", false })
	return code, out.String(), errOut.String()
}

// mustCtl runs personctl and fails the test unless it exits with want.
func (f *fleet) mustCtl(want int, args ...string) string {
	f.t.Helper()
	code, out, errOut := f.ctl(args...)
	if code != want {
		f.t.Fatalf("personctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

func mustJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// streamEvents reads every event of a stream, decoded, with its subject.
func (f *fleet) streamEvents(stream string) ([]person.Event, []string) {
	f.t.Helper()
	var evs []person.Event
	var subjects []string
	err := readStream(context.Background(), f.js, stream, 1, nil, func(m jetstream.Msg, _ uint64) error {
		e, err := schema.Decode(m.Data())
		if err != nil {
			return err
		}
		evs = append(evs, e)
		subjects = append(subjects, m.Subject())
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return evs, subjects
}

func (f *fleet) streamInfo(name string) *jetstream.StreamInfo {
	f.t.Helper()
	st, err := f.js.Stream(context.Background(), name)
	if err != nil {
		f.t.Fatalf("stream %s: %v", name, err)
	}
	return st.CachedInfo()
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not reached in %s: %s", what, d, last)
}
