package contract_test

import (
	"testing"

	"github.com/personfleet/personfleet/internal/contract"
)

func TestWithEventsStream(t *testing.T) {
	n, err := contract.NewNames("crm")
	if err != nil {
		t.Fatal(err)
	}
	if n.EventsStream() != "CRM_EVENTS" {
		t.Fatalf("default: %s", n.EventsStream())
	}
	m, err := n.WithEventsStream("CRM_EVENTS_V2")
	if err != nil || m.EventsStream() != "CRM_EVENTS_V2" || m.Events() != "crm.events.>" || m.CommandsStream() != "CRM_COMMANDS" {
		t.Fatalf("override: %v %s %s", err, m.EventsStream(), m.Events())
	}
	if back, _ := m.WithEventsStream(""); back != n {
		t.Fatalf("empty restores the default: %s", back.EventsStream())
	}
	for _, bad := range []string{"a.b", "a b", "a*", "a>", "a/b"} {
		if _, err := n.WithEventsStream(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
