// Package worker runs the fleet's three workers — command-worker,
// policy-worker, projector — as Watermill routers over JetStream durable
// consumers shared by every replica, with the middleware stack, dead
// letters, graceful shutdown and the query service.
package worker

import (
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// Metadata keys the unmarshaler adds to every Watermill message, on top of
// the NATS headers (Nats-* headers included, which watermill-nats' own
// marshaler drops).
const (
	MetaSubject    = "nats_subject"
	MetaStream     = "nats_stream"
	MetaStreamSeq  = "nats_stream_seq"
	MetaDelivered  = "nats_delivered"
	MetaConsumer   = "nats_consumer"
	MetaAttempts   = "handler_attempts"
	MetaFirstError = "first_failure"
	MetaLastError  = "last_failure"
)

// unmarshaler turns a JetStream message into a Watermill message without
// ever failing (watermill-nats drops a message it cannot unmarshal without
// acking it, which would stall it until MaxDeliver): every header is kept
// (the first value of a repeated one), and the stream metadata — subject,
// stream sequence, delivery count — is added. The message UUID is the
// Nats-Msg-Id when present, else "<stream>:<sequence>", so it is stable
// across redeliveries.
type unmarshaler struct{}

func (unmarshaler) Unmarshal(m *nats.Msg) (*message.Message, error) {
	md := make(message.Metadata, len(m.Header)+5)
	for k, v := range m.Header {
		if len(v) > 0 {
			md.Set(k, v[0])
		}
	}
	md.Set(MetaSubject, m.Subject)
	id := m.Header.Get(nats.MsgIdHdr)
	if meta, err := m.Metadata(); err == nil {
		md.Set(MetaStream, meta.Stream)
		md.Set(MetaConsumer, meta.Consumer)
		md.Set(MetaStreamSeq, strconv.FormatUint(meta.Sequence.Stream, 10))
		md.Set(MetaDelivered, strconv.FormatUint(meta.NumDelivered, 10))
		if id == "" {
			id = meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
		}
	}
	if id == "" {
		id = watermill.NewUUID()
	}
	msg := message.NewMessage(id, m.Data)
	msg.Metadata = md
	return msg, nil
}

// subscriberConfig binds replicas to a provisioned push consumer: the
// consumer's deliver group is its name, and watermill-nats must neither
// create streams nor consumers (it would ignore our settings).
func subscriberConfig(stream, consumer string, concurrency int, ackWait, closeTimeout time.Duration) wmnats.SubscriberSubscriptionConfig {
	return wmnats.SubscriberSubscriptionConfig{
		Unmarshaler:      unmarshaler{},
		SubscribersCount: concurrency,
		AckWaitTimeout:   ackWait,
		CloseTimeout:     closeTimeout,
		SubscribeTimeout: 30 * time.Second,
		QueueGroupPrefix: consumer,
		SubjectCalculator: func(queueGroup, topic string) *wmnats.SubjectDetail {
			return &wmnats.SubjectDetail{Primary: topic, QueueGroup: queueGroup}
		},
		JetStream: wmnats.JetStreamConfig{
			AutoProvision: false,
			AckAsync:      true,
			// The durable name must be set and equal the bound consumer:
			// without it watermill-nats adds BindStream(""), which clashes
			// with Bind.
			DurablePrefix: consumer,
			SubscribeOptions: []nats.SubOpt{
				nats.Bind(stream, consumer),
				nats.ManualAck(),
			},
		},
	}
}
