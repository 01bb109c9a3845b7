// Package telemetry is the fleet's observability: OpenTelemetry tracing with
// W3C trace context carried in NATS headers and in the event envelope,
// Prometheus metrics, health endpoints, and trace-aware structured logs.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/personfleet/personfleet/internal/config"
)

// TracerName is the instrumentation scope of every span the fleet makes.
const TracerName = "github.com/personfleet/personfleet"

// Propagator is W3C trace context plus baggage.
var Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Setup installs the global tracer provider and propagator for a process.
//
// Export is by OTLP, configured with the standard variables:
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
// OTEL_EXPORTER_OTLP_PROTOCOL (grpc, or http/protobuf, the default),
// OTEL_SERVICE_NAME (default: service), OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (read by the SDK). With
// no endpoint set, no spans are recorded or exported, but incoming trace
// context still flows through to everything the process publishes.
//
// The returned shutdown flushes the batch span processor; call it on exit.
func Setup(ctx context.Context, service string, env config.Env) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(Propagator)
	get := func(k string) string {
		if env == nil {
			return ""
		}
		v, _ := env(k)
		return v
	}
	endpoint := get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		endpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	if endpoint == "" || get("OTEL_SDK_DISABLED") == "true" || get("OTEL_TRACES_EXPORTER") == "none" {
		return func(context.Context) error { return nil }, nil
	}
	protocol := get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = get("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var exp sdktrace.SpanExporter
	switch protocol {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(traceURL(endpoint, get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "")))
	default:
		return nil, fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_PROTOCOL %q: use grpc or http/protobuf", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", serviceName(get, service))))
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// traceURL is the OTLP/HTTP traces URL: a signal-specific endpoint is used
// as it is; the generic one gets /v1/traces appended (as the spec says).
func traceURL(endpoint string, specific bool) string {
	if specific {
		return endpoint
	}
	return strings.TrimSuffix(endpoint, "/") + "/v1/traces"
}

func serviceName(get func(string) string, def string) string {
	if s := get("OTEL_SERVICE_NAME"); s != "" {
		return s
	}
	return def
}

// Tracer is the fleet's tracer from the global provider.
func Tracer() trace.Tracer { return otel.Tracer(TracerName) }

// Inject writes ctx's trace context into a string map (message metadata, an
// event's Trace, a header map). Keys are lowercase: traceparent, tracestate,
// baggage.
func Inject(ctx context.Context, m map[string]string) {
	Propagator.Inject(ctx, propagation.MapCarrier(m))
}

// TraceMap returns ctx's trace context as a new map (nil when there is none).
func TraceMap(ctx context.Context) map[string]string {
	m := map[string]string{}
	Inject(ctx, m)
	if len(m) == 0 {
		return nil
	}
	return m
}

// Extract reads trace context from a string map whose keys may be in any
// case (NATS headers keep the producer's spelling).
func Extract(ctx context.Context, m map[string]string) context.Context {
	return Propagator.Extract(ctx, lowerCarrier(m))
}

// InjectHeader writes ctx's trace context into NATS headers.
func InjectHeader(ctx context.Context, h nats.Header) {
	for k, v := range TraceMap(ctx) {
		h.Set(k, v)
	}
}

// lowerCarrier reads keys case-insensitively.
type lowerCarrier map[string]string

func (c lowerCarrier) Get(key string) string {
	if v, ok := c[key]; ok {
		return v
	}
	for k, v := range c {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}
func (c lowerCarrier) Set(key, value string) { c[key] = value }
func (c lowerCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

// Messaging attributes (OpenTelemetry semantic conventions for messaging)
// and the domain's own.
const (
	AttrMessagingSystem  = "messaging.system"
	AttrDestination      = "messaging.destination.name"
	AttrOperationType    = "messaging.operation.type"
	AttrOperationName    = "messaging.operation.name"
	AttrMessageID        = "messaging.message.id"
	AttrConsumerGroup    = "messaging.consumer.group.name"
	AttrDeliveryCount    = "messaging.nats.delivery_count"
	AttrStreamSequence   = "messaging.nats.stream_sequence"
	AttrPersonID         = "person.id"
	AttrCommandType      = "person.command.type"
	AttrCommandID        = "person.command.id"
	AttrEventType        = "person.event.type"
	AttrEventID          = "person.event.id"
	AttrAggregateVersion = "person.aggregate.version"
	AttrPolicy           = "person.policy"
	AttrResultStatus     = "person.result.status"
	AttrFleetWorker      = "personfleet.worker"
	messagingSystemNATS  = "nats"
	operationSend        = "send"
	operationProcess     = "process"
	operationNameSend    = "publish"
	operationNameProcess = "process"
)

// StartSend starts a producer span for a publish to subject (its name:
// "send <destination template>").
func StartSend(ctx context.Context, destination, subject string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs = append(attrs,
		attribute.String(AttrMessagingSystem, messagingSystemNATS),
		attribute.String(AttrDestination, subject),
		attribute.String(AttrOperationType, operationSend),
		attribute.String(AttrOperationName, operationNameSend),
	)
	return Tracer().Start(ctx, "send "+destination, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
}

// StartProcess starts a consumer span for a message received on subject
// by consumer group, as the child of the producer's context in ctx.
func StartProcess(ctx context.Context, destination, subject, group string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs = append(attrs,
		attribute.String(AttrMessagingSystem, messagingSystemNATS),
		attribute.String(AttrDestination, subject),
		attribute.String(AttrOperationType, operationProcess),
		attribute.String(AttrOperationName, operationNameProcess),
		attribute.String(AttrConsumerGroup, group),
		attribute.String(AttrFleetWorker, group),
	)
	return Tracer().Start(ctx, "process "+destination, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// End ends a span, recording err (if any) as its status.
func End(span trace.Span, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
