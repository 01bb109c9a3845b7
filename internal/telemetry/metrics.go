package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are one worker process's Prometheus metrics, on its own registry
// (served on /metrics).
type Metrics struct {
	Registry *prometheus.Registry

	Handled       *prometheus.CounterVec   // personfleet_messages_handled_total{handler,outcome}
	HandlerTime   *prometheus.HistogramVec // personfleet_handler_duration_seconds{handler}
	Retries       *prometheus.CounterVec   // personfleet_handler_retries_total{handler}
	Parked        *prometheus.CounterVec   // personfleet_dlq_parked_total{handler}
	Conflicts     prometheus.Counter       // personfleet_occ_conflicts_total
	Results       *prometheus.CounterVec   // personfleet_command_results_total{status,code}
	ResultPublish prometheus.Histogram     // personfleet_result_publish_duration_seconds
	Policies      *prometheus.CounterVec   // personfleet_policy_commands_total{policy,kind}
}

// Outcomes of a handled message.
const (
	OutcomeOK          = "ok"
	OutcomeError       = "error"       // failed this attempt (retried, or redelivered)
	OutcomeParked      = "parked"      // parked in the dead-letter queue
	OutcomeInterrupted = "interrupted" // stopped by shutdown: redelivered
)

// NewMetrics registers the fleet's metrics and the Go and process
// collectors for one worker.
func NewMetrics(worker string) *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	constLabels := prometheus.Labels{"worker": worker}
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{
		Registry: r,
		Handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "personfleet_messages_handled_total", Help: "Messages handled, by handler and outcome (ok, error, parked, interrupted).", ConstLabels: constLabels,
		}, []string{"handler", "outcome"}),
		HandlerTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "personfleet_handler_duration_seconds", Help: "Time in the handler per attempt.", ConstLabels: constLabels,
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}, []string{"handler"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "personfleet_handler_retries_total", Help: "In-process retries of failed handler attempts.", ConstLabels: constLabels,
		}, []string{"handler"}),
		Parked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "personfleet_dlq_parked_total", Help: "Messages parked in the dead-letter queue.", ConstLabels: constLabels,
		}, []string{"handler"}),
		Conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "personfleet_occ_conflicts_total", Help: "Appends refused by optimistic concurrency (wrong last subject sequence); the command is decided again.", ConstLabels: constLabels,
		}),
		Results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "personfleet_command_results_total", Help: "Final command results, by status and rejection code.", ConstLabels: constLabels,
		}, []string{"status", "code"}),
		ResultPublish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "personfleet_result_publish_duration_seconds", Help: "Time to publish a result and get its ack.", ConstLabels: constLabels,
			Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 12),
		}),
		Policies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "personfleet_policy_commands_total", Help: "Commands emitted by policies, sent now or armed as timers.", ConstLabels: constLabels,
		}, []string{"policy", "kind"}),
	}
	f(m.Handled)
	f(m.HandlerTime)
	f(m.Retries)
	f(m.Parked)
	f(m.Conflicts)
	f(m.Results)
	f(m.ResultPublish)
	f(m.Policies)
	return m
}

// ConsumerState is what a consumer gauge reports.
type ConsumerState struct {
	Pending     uint64
	AckPending  int
	Redelivered int
}

// ConsumerInfo fetches a consumer's state (a JetStream API call).
type ConsumerInfo func(ctx context.Context) (ConsumerState, error)

// WatchConsumer adds gauges of a consumer's pending and ack-pending
// messages, read from the server at scrape time (bounded by a timeout).
func (m *Metrics) WatchConsumer(stream, consumer string, info ConsumerInfo) {
	m.Registry.MustRegister(&consumerCollector{
		info: info,
		pending: prometheus.NewDesc("personfleet_consumer_pending_messages", "Messages of the stream not yet delivered to the consumer.",
			nil, prometheus.Labels{"stream": stream, "consumer": consumer}),
		ackPending: prometheus.NewDesc("personfleet_consumer_ack_pending_messages", "Messages delivered and not yet acknowledged.",
			nil, prometheus.Labels{"stream": stream, "consumer": consumer}),
		redelivered: prometheus.NewDesc("personfleet_consumer_redelivered_messages", "Messages being redelivered.",
			nil, prometheus.Labels{"stream": stream, "consumer": consumer}),
	})
}

type consumerCollector struct {
	info                             ConsumerInfo
	pending, ackPending, redelivered *prometheus.Desc
}

func (c *consumerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.ackPending
	ch <- c.redelivered
}

func (c *consumerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.info(ctx)
	if err != nil {
		return // no sample rather than a wrong one
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(s.AckPending))
	ch <- prometheus.MustNewConstMetric(c.redelivered, prometheus.GaugeValue, float64(s.Redelivered))
}
