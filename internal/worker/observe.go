package worker

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/attribute"

	"github.com/personfleet/personfleet/internal/telemetry"
)

// observe is the outermost middleware: it continues the producer's trace
// (W3C trace context from the message headers) with a consumer span
// "process <topic>" that covers retries and parking, counts the message by
// outcome, and logs it at debug level with its trace id.
func observe(kind Kind, met *telemetry.Metrics, log *slog.Logger) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			md := msg.Metadata
			handler := message.HandlerNameFromCtx(msg.Context())
			topic := strings.TrimSuffix(message.SubscribeTopicFromCtx(msg.Context()), ".>")
			attrs := []attribute.KeyValue{attribute.String(telemetry.AttrMessageID, msg.UUID)}
			if n, err := strconv.Atoi(md.Get(MetaDelivered)); err == nil {
				attrs = append(attrs, attribute.Int(telemetry.AttrDeliveryCount, n))
			}
			if n, err := strconv.ParseInt(md.Get(MetaStreamSeq), 10, 64); err == nil {
				attrs = append(attrs, attribute.Int64(telemetry.AttrStreamSequence, n))
			}
			ctx, span := telemetry.StartProcess(telemetry.Extract(msg.Context(), md), topic, md.Get(MetaSubject), string(kind), attrs...)
			msg.SetContext(ctx)
			start := time.Now()
			out, err := h(msg)
			outcome := telemetry.OutcomeOK
			switch {
			case md.Get(metaParked) != "":
				outcome = telemetry.OutcomeParked
				met.Parked.WithLabelValues(handler).Inc()
			case errors.Is(err, errInterrupted):
				outcome = telemetry.OutcomeInterrupted
			case err != nil:
				outcome = telemetry.OutcomeError
			}
			met.Handled.WithLabelValues(handler, outcome).Inc()
			span.SetAttributes(attribute.String("personfleet.outcome", outcome))
			telemetry.End(span, err)
			log.DebugContext(ctx, "message handled", "handler", handler, "subject", md.Get(MetaSubject),
				"message_id", msg.UUID, "person_id", personOf(md.Get(MetaSubject)), "outcome", outcome, "duration", time.Since(start))
			return out, err
		}
	}
}

// personOf is the person id token of <prefix>.<kind>.<person_id>.<type>.
func personOf(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) == 4 {
		return parts[2]
	}
	return ""
}
