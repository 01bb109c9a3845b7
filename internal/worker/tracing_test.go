package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/telemetry"
	"github.com/personfleet/personfleet/internal/worker"
)

// attr returns a span's string attribute.
func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// One trace follows a command through the whole fleet: the producer's
// publish → command-worker consume, decide, append, result → policy-worker
// evaluate and reactive command → command-worker again → projector.
func TestOneTraceAcrossTheFleet(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(telemetry.Propagator)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	f := newFleet(t, nil)
	f.start(worker.CommandWorker)
	f.start(worker.PolicyWorker)
	f.start(worker.Projector)

	id := person.ID("traced")
	f.do(id, &person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}})

	ctx, root := tp.Tracer("test").Start(context.Background(), "producer")
	env, err := client.NewCommand(id, &person.AddEmail{Email: "ada@lovelace.dev"})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := f.cl.Do(cctx, env, nil, nil); err != nil {
		t.Fatal(err)
	}
	root.End()
	traceID := root.SpanContext().TraceID()

	// The welcome notification is decided, appended and projected
	// asynchronously: wait until the projector has handled its event.
	var spans []sdktrace.ReadOnlySpan
	eventually(t, "the whole chain in one trace", 20*time.Second, func() (bool, string) {
		spans = spans[:0]
		for _, s := range sr.Ended() {
			if s.SpanContext().TraceID() == traceID {
				spans = append(spans, s)
			}
		}
		for _, s := range spans {
			if attr(s, telemetry.AttrFleetWorker) == "projector" && attr(s, telemetry.AttrEventType) == string(person.EventNotificationRecorded) {
				return true, ""
			}
		}
		var names []string
		for _, s := range spans {
			names = append(names, s.Name()+"/"+attr(s, telemetry.AttrFleetWorker))
		}
		return false, strings.Join(names, ", ")
	})

	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	parentOf := func(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan { return byID[s.Parent().SpanID()] }
	find := func(what string, pred func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
		t.Helper()
		for _, s := range spans {
			if pred(s) {
				return s
			}
		}
		t.Fatalf("no span for %s in the trace", what)
		return nil
	}
	kindIs := func(k trace.SpanKind) func(sdktrace.ReadOnlySpan) bool {
		return func(s sdktrace.ReadOnlySpan) bool { return s.SpanKind() == k }
	}
	and := func(ps ...func(sdktrace.ReadOnlySpan) bool) func(sdktrace.ReadOnlySpan) bool {
		return func(s sdktrace.ReadOnlySpan) bool {
			for _, p := range ps {
				if !p(s) {
					return false
				}
			}
			return true
		}
	}
	is := func(key, v string) func(sdktrace.ReadOnlySpan) bool {
		return func(s sdktrace.ReadOnlySpan) bool { return attr(s, key) == v }
	}
	named := func(prefix string) func(sdktrace.ReadOnlySpan) bool {
		return func(s sdktrace.ReadOnlySpan) bool { return strings.HasPrefix(s.Name(), prefix) }
	}
	expectParent := func(child, parent sdktrace.ReadOnlySpan) {
		t.Helper()
		if got := parentOf(child); got == nil || got.SpanContext().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %q (%s): parent is not %q (%s)", child.Name(), attr(child, telemetry.AttrFleetWorker), parent.Name(), attr(parent, telemetry.AttrFleetWorker))
		}
	}

	publish := find("the producer's publish", and(kindIs(trace.SpanKindProducer), is(telemetry.AttrMessageID, env.CommandID)))
	consume := find("command-worker consume", and(kindIs(trace.SpanKindConsumer), is(telemetry.AttrFleetWorker, "command-worker"), is(telemetry.AttrCommandID, env.CommandID)))
	decide := find("decide", named("decide add_email"))
	appendSpan := find("append", and(named("send person.events"), func(s sdktrace.ReadOnlySpan) bool { return parentOf(s) == consume }))
	result := find("result", and(named("send person.results"), func(s sdktrace.ReadOnlySpan) bool { return parentOf(s) == consume }))
	policy := find("policy-worker on email_added", and(is(telemetry.AttrFleetWorker, "policy-worker"), is(telemetry.AttrEventType, string(person.EventEmailAdded))))
	reactive := find("reactive command", and(kindIs(trace.SpanKindProducer), is(telemetry.AttrPolicy, "welcome_notification")))
	again := find("command-worker on the reactive command", and(is(telemetry.AttrFleetWorker, "command-worker"), is(telemetry.AttrCommandType, string(person.CmdRecordNotification))))
	project := find("projector on notification_recorded", and(is(telemetry.AttrFleetWorker, "projector"), is(telemetry.AttrEventType, string(person.EventNotificationRecorded))))

	expectParent(publish, byID[root.SpanContext().SpanID()])
	expectParent(consume, publish)
	expectParent(decide, consume)
	expectParent(policy, appendSpan)
	expectParent(reactive, policy)
	expectParent(again, reactive)
	expectParent(result, consume)
	if p := parentOf(project); p == nil || !strings.HasPrefix(p.Name(), "send person.events") || parentOf(p) != again {
		t.Errorf("projector span is not under the reactive command's append")
	}
	for _, s := range []sdktrace.ReadOnlySpan{consume, policy, again, project} {
		if got := attr(s, telemetry.AttrMessagingSystem); got != "nats" {
			t.Errorf("%s: messaging.system %q", s.Name(), got)
		}
		if attr(s, telemetry.AttrConsumerGroup) == "" || attr(s, telemetry.AttrDestination) == "" {
			t.Errorf("%s: consumer group or destination missing", s.Name())
		}
	}
	if got := attr(consume, telemetry.AttrPersonID); got != string(id) {
		t.Errorf("person id attribute %q", got)
	}
	t.Logf("%d spans in one trace", len(spans))
}
