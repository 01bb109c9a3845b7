package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/contract"
)

// QueryServiceName is the micro service name the projectors register.
const QueryServiceName = "person-query"

type streamStatus struct {
	Name      string    `json:"name"`
	Subjects  []string  `json:"subjects"`
	Messages  uint64    `json:"messages"`
	Bytes     uint64    `json:"bytes"`
	NumSubj   uint64    `json:"num_subjects"`
	FirstSeq  uint64    `json:"first_seq"`
	LastSeq   uint64    `json:"last_seq"`
	LastTime  time.Time `json:"last_time,omitzero"`
	Consumers int       `json:"consumers"`
	Replicas  int       `json:"replicas"`
	Archived  string    `json:"archived_to,omitempty"`
}

type consumerStatus struct {
	Stream       string    `json:"stream"`
	Name         string    `json:"name"`
	Filter       string    `json:"filter,omitempty"`
	Pending      uint64    `json:"pending"`
	AckPending   int       `json:"ack_pending"`
	Redelivered  int       `json:"redelivered"`
	Waiting      int       `json:"waiting,omitempty"`
	Bound        bool      `json:"bound"`
	Push         bool      `json:"push"`
	AckFloor     uint64    `json:"ack_floor"`
	Delivered    uint64    `json:"delivered"`
	LastDelivery time.Time `json:"last_delivery,omitzero"`
}

type bucketStatus struct {
	Bucket  string `json:"bucket"`
	Values  uint64 `json:"values"`
	Bytes   uint64 `json:"bytes"`
	History int64  `json:"history"`
	Missing bool   `json:"missing,omitempty"`
}

type serviceStatus struct {
	Name      string                 `json:"name"`
	ID        string                 `json:"id"`
	Version   string                 `json:"version"`
	Started   time.Time              `json:"started"`
	Endpoints []*micro.EndpointStats `json:"endpoints"`
}

type fleetStatus struct {
	Server    string           `json:"server"`
	Prefix    string           `json:"prefix"`
	Events    string           `json:"events_stream"`
	Streams   []streamStatus   `json:"streams"`
	Missing   []string         `json:"missing_streams,omitempty"`
	Consumers []consumerStatus `json:"consumers"`
	Buckets   []bucketStatus   `json:"buckets"`
	Services  []serviceStatus  `json:"services"`
}

func (a *app) statusCmd() *cobra.Command {
	var wait time.Duration
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the fleet's streams, consumers, KV buckets and query-service instances",
		Long: `status prints every stream of the fleet (messages, bytes, subjects), every
consumer on them (pending, ack pending, redelivered, whether a worker is
bound: a consumer with a growing pending count and no bound subscriber is
a stopped worker), the read-model buckets (values), and the running
instances of the query service (micro service discovery: $SRV.STATS.` + QueryServiceName + `,
filtered to this prefix's endpoints), with their request counts.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			defer cancel()
			st, err := collectStatus(ctx, cl.Conn(), cl.JetStream(), cl.Names(), wait)
			if err != nil {
				return err
			}
			if a.json {
				return printJSON(a.out, st)
			}
			a.printStatus(st)
			return nil
		},
	}
	c.Flags().DurationVar(&wait, "discovery-wait", 500*time.Millisecond, "how long to collect query-service replies")
	return c
}

func collectStatus(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, names contract.Names, wait time.Duration) (*fleetStatus, error) {
	st := &fleetStatus{Server: nc.ConnectedUrlRedacted(), Prefix: names.Prefix(), Events: names.EventsStream(),
		Streams: []streamStatus{}, Consumers: []consumerStatus{}, Buckets: []bucketStatus{}, Services: []serviceStatus{}}
	upper := strings.ToUpper(names.Prefix()) + "_"
	want := map[string]bool{names.CommandsStream(): true, names.EventsStream(): true, names.ResultsStream(): true,
		names.DLQStream(): true, names.TimersStream(): true}
	seen := map[string]bool{}
	lister := js.ListStreams(ctx)
	for info := range lister.Info() {
		name := info.Config.Name
		if !want[name] && !strings.HasPrefix(name, upper) {
			continue
		}
		seen[name] = true
		st.Streams = append(st.Streams, streamStatus{
			Name: name, Subjects: info.Config.Subjects, Messages: info.State.Msgs, Bytes: info.State.Bytes,
			NumSubj: info.State.NumSubjects, FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq,
			LastTime: info.State.LastTime, Consumers: info.State.Consumers, Replicas: info.Config.Replicas,
			Archived: info.Config.Metadata[metaArchivedTo],
		})
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	sort.Slice(st.Streams, func(i, j int) bool { return st.Streams[i].Name < st.Streams[j].Name })
	for name := range want {
		if !seen[name] {
			st.Missing = append(st.Missing, name)
		}
	}
	sort.Strings(st.Missing)
	for _, s := range st.Streams {
		if s.Consumers == 0 {
			continue
		}
		stream, err := js.Stream(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		cl := stream.ListConsumers(ctx)
		for ci := range cl.Info() {
			cs := consumerStatus{
				Stream: s.Name, Name: ci.Name, Filter: ci.Config.FilterSubject, Pending: ci.NumPending,
				AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered, Waiting: ci.NumWaiting,
				Bound: ci.PushBound, Push: ci.Config.DeliverSubject != "", AckFloor: ci.AckFloor.Stream,
				Delivered: ci.Delivered.Stream,
			}
			if ci.Delivered.Last != nil {
				cs.LastDelivery = ci.Delivered.Last.UTC()
			}
			if !cs.Push {
				cs.Bound = ci.NumWaiting > 0
			}
			st.Consumers = append(st.Consumers, cs)
		}
		if err := cl.Err(); err != nil {
			return nil, err
		}
	}
	for _, b := range []string{names.SummaryBucket(), names.OnboardingBucket()} {
		kv, err := js.KeyValue(ctx, b)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			st.Buckets = append(st.Buckets, bucketStatus{Bucket: b, Missing: true})
			continue
		}
		if err != nil {
			return nil, err
		}
		s, err := kv.Status(ctx)
		if err != nil {
			return nil, err
		}
		st.Buckets = append(st.Buckets, bucketStatus{Bucket: b, Values: s.Values(), Bytes: s.Bytes(), History: s.History()})
	}
	svcs, err := discover(ctx, nc, names, wait)
	if err != nil {
		return nil, err
	}
	st.Services = svcs
	return st, nil
}

// discover asks every instance of the query service for its stats and
// keeps those serving this prefix.
func discover(ctx context.Context, nc *nats.Conn, names contract.Names, wait time.Duration) ([]serviceStatus, error) {
	subj, err := micro.ControlSubject(micro.StatsVerb, QueryServiceName, "")
	if err != nil {
		return nil, err
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(subj, inbox, nil); err != nil {
		return nil, err
	}
	out := []serviceStatus{}
	deadline := time.Now().Add(wait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		m, err := sub.NextMsg(left)
		if errors.Is(err, nats.ErrTimeout) {
			break
		}
		if err != nil {
			return nil, err
		}
		var s micro.Stats
		if json.Unmarshal(m.Data, &s) != nil {
			continue
		}
		mine := false
		for _, e := range s.Endpoints {
			mine = mine || strings.HasPrefix(e.Subject, names.QueryPrefix()+".")
		}
		if !mine {
			continue
		}
		out = append(out, serviceStatus{Name: s.Name, ID: s.ID, Version: s.Version, Started: s.Started, Endpoints: s.Endpoints})
		if ctx.Err() != nil {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (a *app) printStatus(st *fleetStatus) {
	fmt.Fprintf(a.out, "server %s   prefix %s   events stream %s\n\nSTREAMS\n", st.Server, st.Prefix, st.Events)
	t := newTable(a.out, "NAME", "SUBJECTS", "MESSAGES", "BYTES", "DISTINCT_SUBJECTS", "CONSUMERS", "LAST")
	for _, s := range st.Streams {
		subj := strings.Join(s.Subjects, " ")
		if s.Archived != "" {
			subj += " (archive; migrated to " + s.Archived + ")"
		}
		t.row(s.Name, subj, s.Messages, s.Bytes, s.NumSubj, s.Consumers, s.LastTime)
	}
	t.flush()
	for _, m := range st.Missing {
		fmt.Fprintf(a.out, "missing stream %s (personctl provision creates it)\n", m)
	}
	fmt.Fprintln(a.out, "\nCONSUMERS")
	t = newTable(a.out, "STREAM", "NAME", "PENDING", "ACK_PENDING", "REDELIVERED", "BOUND", "ACK_FLOOR", "LAST_DELIVERY")
	for _, c := range st.Consumers {
		bound := "no"
		if c.Bound {
			bound = "yes"
		}
		t.row(c.Stream, c.Name, c.Pending, c.AckPending, c.Redelivered, bound, c.AckFloor, c.LastDelivery)
	}
	t.flush()
	fmt.Fprintln(a.out, "\nBUCKETS")
	t = newTable(a.out, "BUCKET", "VALUES", "BYTES", "HISTORY")
	for _, b := range st.Buckets {
		if b.Missing {
			t.row(b.Bucket, "missing", "-", "-")
			continue
		}
		t.row(b.Bucket, b.Values, b.Bytes, b.History)
	}
	t.flush()
	fmt.Fprintf(a.out, "\nQUERY SERVICE (%s): %d instances\n", QueryServiceName, len(st.Services))
	if len(st.Services) > 0 {
		t = newTable(a.out, "ID", "VERSION", "STARTED", "REQUESTS", "ERRORS", "AVG")
		for _, s := range st.Services {
			var req, errs int
			var total time.Duration
			for _, e := range s.Endpoints {
				req += e.NumRequests
				errs += e.NumErrors
				total += e.ProcessingTime
			}
			avg := time.Duration(0)
			if req > 0 {
				avg = total / time.Duration(req)
			}
			t.row(s.ID, s.Version, s.Started, req, errs, avg)
		}
		t.flush()
	}
}
