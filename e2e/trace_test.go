//go:build e2e

// Package e2e runs the fleet as separate processes against a real Jaeger
// and checks that one trace spans the producer and the three workers.
// Run with `make e2e` (it builds Jaeger from the Go module proxy through
// tools/jaeger/go.mod; the first build is slow, later ones are cached).
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/natsdev"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/proc"
	"github.com/personfleet/personfleet/internal/telemetry"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func build(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{
		{"build", "-o", dir + "/", "./cmd/command-worker", "./cmd/policy-worker", "./cmd/projector"},
		{"build", "-modfile=tools/jaeger/go.mod", "-o", dir + "/jaeger", "github.com/jaegertracing/jaeger/cmd/jaeger"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func waitHTTP(t *testing.T, url string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not up within %s", url, d)
}

type jaegerTraces struct {
	Data []struct {
		TraceID   string                                      `json:"traceID"`
		Spans     []struct{ OperationName, ProcessID string } `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

func TestOneTraceInJaeger(t *testing.T) {
	bin := t.TempDir()
	build(t, bin)
	ports := map[string]string{}
	for _, k := range []string{"HEALTH", "QUERY", "QUERY_GRPC", "OTLP_GRPC", "OTLP_HTTP"} {
		ports[k] = freePort(t)
	}
	tmpl, err := os.ReadFile("jaeger.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := os.Expand(string(tmpl), func(k string) string { return ports[k] })
	cfgPath := filepath.Join(bin, "jaeger.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	jaeger, err := proc.Start(bin, "jaeger", "jaeger", logs, map[string]string{"OTEL_TRACES_EXPORTER": "none"}, "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jaeger.Stop(10 * time.Second) })
	waitHTTP(t, "http://127.0.0.1:"+ports["HEALTH"]+"/status", 30*time.Second)

	srv, err := natsdev.Start(natsdev.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	// Two workers export over OTLP/HTTP, one over OTLP/gRPC.
	otlp := map[string]map[string]string{
		"command-worker": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:" + ports["OTLP_HTTP"], "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
		"policy-worker":  {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:" + ports["OTLP_HTTP"], "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
		"projector":      {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:" + ports["OTLP_GRPC"], "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
	}
	var workers []*proc.Proc
	for _, w := range []string{"command-worker", "policy-worker", "projector"} {
		env := map[string]string{
			"PERSONFLEET_SERVER": srv.URL(), "PERSONFLEET_HTTP_ADDR": "127.0.0.1:0", "PERSONFLEET_LOG_LEVEL": "debug",
			"OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_TRACES_SAMPLER": "always_on",
		}
		for k, v := range otlp[w] {
			env[k] = v
		}
		p, err := proc.Start(bin, w, w, logs, env)
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, p)
	}
	t.Cleanup(func() {
		if err := proc.StopAll(context.Background(), workers, 20*time.Second); err != nil {
			t.Errorf("workers: %v", err)
		}
		if t.Failed() {
			for _, p := range workers {
				b, _ := os.ReadFile(p.Log())
				t.Logf("== %s\n%s", p.Name(), b)
			}
		}
	})

	// The producer: this test, exporting its own spans as e2e-producer.
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:" + ports["OTLP_HTTP"], "OTEL_SERVICE_NAME": "e2e-producer",
	}
	shutdown, err := telemetry.Setup(context.Background(), "e2e-producer", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cl, err := client.New(nc, contract.DefaultNames())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := person.ID("jaeger-1")
	for _, c := range []person.Command{
		&person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}},
		&person.AddEmail{Email: "ada@lovelace.dev"},
	} {
		envl, _ := client.NewCommand(id, c)
		var r contract.Result
		for { // until the command-worker is attached and answers
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			r, err = cl.Do(rctx, envl, nil, nil)
			rcancel()
			if err == nil || ctx.Err() != nil {
				break
			}
		}
		if err != nil || r.Status != contract.StatusAccepted {
			t.Fatalf("%s: %+v %v", c.CommandType(), r, err)
		}
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("flush producer spans: %v", err)
	}

	// Jaeger's HTTP API: a trace of the producer that also holds the spans
	// of the three workers (the welcome notification crosses all of them).
	want := []string{"e2e-producer", "command-worker", "policy-worker", "projector"}
	var last string
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://127.0.0.1:" + ports["QUERY"] + "/api/traces?service=e2e-producer&limit=50&lookback=1h")
		if err == nil {
			var tr jaegerTraces
			if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
				last = "undecodable answer: " + err.Error()
			}
			_ = resp.Body.Close()
			for _, trace := range tr.Data {
				services := map[string]int{}
				for _, s := range trace.Spans {
					services[trace.Processes[s.ProcessID].ServiceName]++
				}
				ok := true
				for _, w := range want {
					ok = ok && services[w] > 0
				}
				if ok {
					t.Logf("trace %s: spans by service %v", trace.TraceID, services)
					return
				}
				last = fmt.Sprintf("trace %s: %v", trace.TraceID, services)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	services := ""
	if resp, err := http.Get("http://127.0.0.1:" + ports["QUERY"] + "/api/services"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		services = string(b)
	}
	jl, _ := os.ReadFile(jaeger.Log())
	t.Fatalf("no trace with spans of %v in Jaeger; last seen: %s; services: %s\njaeger log:\n%s", want, last, services, jl)
}
