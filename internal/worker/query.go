package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/store"
)

// Query requests and replies (JSON), served under <prefix>.query.:
//
//	get        {"person_id":"…"}                       → projection.Summary
//	onboarding {"person_id":"…"}                       → projection.Onboarding
//	list       {"lifecycle":"active","limit":100}      → {"persons":[Summary…],"total":N}
//	search     {"email":"ada@example.org","limit":100} → {"persons":[Summary…],"total":N}
//
// Errors come back as micro errors: headers Nats-Service-Error-Code (400,
// 404, 500) and Nats-Service-Error.
type (
	// PersonQuery asks for one person.
	PersonQuery struct {
		PersonID person.ID `json:"person_id"`
	}
	// ListQuery filters persons; empty fields match everything.
	ListQuery struct {
		Lifecycle string `json:"lifecycle,omitempty"`
		Email     string `json:"email,omitempty"`
		Limit     int    `json:"limit,omitempty"` // default 100, at most 10,000
	}
	// ListReply is the answer to list and search.
	ListReply struct {
		Persons []projection.Summary `json:"persons"`
		Total   int                  `json:"total"` // matches, before the limit
	}
)

// QueryService is the read side's request/reply service (nats micro), run
// by every projector replica in one queue group.
type QueryService struct {
	summaries  *store.ReadModel[projection.Summary]
	onboarding *store.ReadModel[projection.Onboarding]
	svc        micro.Service
}

// StartQueryService registers the endpoints on nc.
func StartQueryService(nc *nats.Conn, names contract.Names, s *store.ReadModel[projection.Summary], o *store.ReadModel[projection.Onboarding]) (*QueryService, error) {
	q := &QueryService{summaries: s, onboarding: o}
	svc, err := micro.AddService(nc, micro.Config{
		Name: "person-query", Version: "1.0.0", Description: "person read models", QueueGroup: "projector",
	})
	if err != nil {
		return nil, fmt.Errorf("query service: %w", err)
	}
	g := svc.AddGroup(names.QueryPrefix())
	for name, h := range map[string]micro.HandlerFunc{
		"get": q.get, "onboarding": q.getOnboarding, "list": q.list, "search": q.list,
	} {
		if err := g.AddEndpoint(name, h); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("query service endpoint %s: %w", name, err)
		}
	}
	q.svc = svc
	return q, nil
}

// Stop drains the service's subscriptions.
func (q *QueryService) Stop() error { return q.svc.Stop() }

func queryCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func (q *QueryService) get(r micro.Request) { answerOne(r, q.summaries) }

func (q *QueryService) getOnboarding(r micro.Request) { answerOne(r, q.onboarding) }

func answerOne[T any](r micro.Request, rm *store.ReadModel[T]) {
	var pq PersonQuery
	if err := json.Unmarshal(r.Data(), &pq); err != nil {
		_ = r.Error("400", "request must be {\"person_id\":\"…\"}", nil)
		return
	}
	if _, err := person.ParseID(string(pq.PersonID)); err != nil {
		_ = r.Error("400", err.Error(), nil)
		return
	}
	ctx, cancel := queryCtx()
	defer cancel()
	doc, ok, err := rm.Get(ctx, string(pq.PersonID))
	switch {
	case err != nil:
		_ = r.Error("500", err.Error(), nil)
	case !ok:
		_ = r.Error("404", "person not found", nil)
	default:
		_ = r.RespondJSON(doc)
	}
}

func (q *QueryService) list(r micro.Request) {
	var lq ListQuery
	if len(r.Data()) > 0 {
		if err := json.Unmarshal(r.Data(), &lq); err != nil {
			_ = r.Error("400", "malformed query: "+err.Error(), nil)
			return
		}
	}
	if lq.Limit <= 0 {
		lq.Limit = 100
	}
	lq.Limit = min(lq.Limit, 10000)
	ctx, cancel := queryCtx()
	defer cancel()
	reply, err := ListSummaries(ctx, q.summaries.Bucket(), lq)
	if err != nil {
		_ = r.Error("500", err.Error(), nil)
		return
	}
	_ = r.RespondJSON(reply)
}

// ListSummaries scans the summary bucket (one watch over every key: the
// cost grows with the number of persons; fine for operator queries, not
// for a hot path) and returns the matches, sorted by nothing but bucket
// order.
func ListSummaries(ctx context.Context, kv jetstream.KeyValue, lq ListQuery) (ListReply, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return ListReply{}, err
	}
	defer func() { _ = w.Stop() }()
	email := strings.ToLower(strings.TrimSpace(lq.Email))
	reply := ListReply{Persons: []projection.Summary{}}
	for {
		select {
		case <-ctx.Done():
			return ListReply{}, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return ListReply{}, errors.New("list: watcher closed")
			}
			if e == nil { // every current value was delivered
				return reply, nil
			}
			var s projection.Summary
			if json.Unmarshal(e.Value(), &s) != nil {
				continue
			}
			if lq.Lifecycle != "" && s.Lifecycle != lq.Lifecycle {
				continue
			}
			if email != "" && !hasEmail(s, email) {
				continue
			}
			reply.Total++
			if len(reply.Persons) < lq.Limit {
				reply.Persons = append(reply.Persons, s)
			}
		}
	}
}

func hasEmail(s projection.Summary, email string) bool {
	for _, e := range s.Emails {
		if strings.ToLower(e) == email {
			return true
		}
	}
	return false
}
