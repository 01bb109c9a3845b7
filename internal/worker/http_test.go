package worker_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/worker"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The probes and the metrics a Kubernetes operator scrapes.
func TestHealthAndMetrics(t *testing.T) {
	addr := freeAddr(t)
	f := newFleet(t, func(c *worker.Config) {
		if c.Kind == worker.CommandWorker {
			c.HTTPAddr = addr
		}
	})
	stop := f.start(worker.CommandWorker)
	base := "http://" + addr
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}
	eventually(t, "ready", 5*time.Second, func() (bool, string) {
		code, body := get(t, base+"/readyz")
		return code == http.StatusOK, body
	})
	if r := f.do("m1", &person.CreatePerson{Name: person.Name{GivenName: "Ada"}}); r.Status != contract.StatusAccepted {
		t.Fatalf("%+v", r)
	}
	if r := f.do("m1", &person.AddEmail{Email: "bad"}); r.Status != contract.StatusRejected {
		t.Fatalf("%+v", r)
	}
	// The counters move just after the result is published: wait for them.
	wants := []string{
		`personfleet_messages_handled_total{handler="commands",outcome="ok",worker="command-worker"} 2`,
		`personfleet_command_results_total{code="",status="accepted",worker="command-worker"} 1`,
		`personfleet_command_results_total{code="invalid_email",status="rejected",worker="command-worker"} 1`,
		`personfleet_handler_duration_seconds_count{handler="commands",worker="command-worker"} 2`,
		`personfleet_result_publish_duration_seconds_count{worker="command-worker"} 2`,
		`personfleet_consumer_pending_messages{consumer="command-worker",stream="PERSON_COMMANDS"} 0`,
		`personfleet_consumer_ack_pending_messages{consumer="command-worker",stream="PERSON_COMMANDS"}`,
		`personfleet_occ_conflicts_total{worker="command-worker"} 0`,
	}
	eventually(t, "metrics", 5*time.Second, func() (bool, string) {
		_, body := get(t, base+"/metrics")
		for _, want := range wants {
			if !strings.Contains(body, want) {
				return false, "/metrics lacks " + want
			}
		}
		return true, ""
	})
	stop()
	// After shutdown the port is closed.
	if resp, err := http.Get(base + "/healthz"); err == nil {
		_ = resp.Body.Close()
		t.Error("/healthz still answers after shutdown")
	}
}
