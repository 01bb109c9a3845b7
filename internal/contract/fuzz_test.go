package contract_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
)

// FuzzDecodeCommand feeds the command-worker's first decoder: any subject
// and body give a decoded command or a coded, permanent rejection, never a
// panic; a decoded command survives a round trip through its JSON. Seeds:
// below and testdata/fuzz/FuzzDecodeCommand.
func FuzzDecodeCommand(f *testing.F) {
	n := contract.DefaultNames()
	f.Add(n.Command("p-1", person.CmdCreatePerson), []byte(`{"command_id":"c-1","type":"create_person","person_id":"p-1","data":{"name":{"given_name":"Ada","family_name":"Lovelace"}}}`))
	f.Add(n.Command("p-1", person.CmdAddEmail), []byte(`{"command_id":"c-2","type":"add_email","person_id":"p-1","data":{"email":"ada@mail.test"},"expected_version":3,"correlation_id":"x"}`))
	f.Add(n.Command("p-1", person.CmdAddEmail), []byte(`{"command_id":"c-3","type":"add_email","person_id":"p-2","data":{"email":"ada@mail.test"}}`))
	f.Add("person.commands.p-1", []byte(`{"command_id":"c-4"}`))
	f.Add("", []byte(`{"command_id":"c.5","type":"archive_person","person_id":"p-1"}`))
	f.Add(n.Command("p-1", person.CmdSetAttribute), []byte("{\"command_id\":\"c-6\",\"type\":\"set_attribute\",\"person_id\":\"p-1\",\"data\":{\"key\":\"k\",\"value\":\"\xff\"}}"))
	f.Add(n.Command("p-1", person.CmdSetAttribute), []byte(`[[[[[[[[[[]]]]]]]]]]`))
	f.Fuzz(func(t *testing.T, subject string, body []byte) {
		c, err := n.DecodeCommand(subject, body)
		if err != nil {
			if !contract.IsPermanent(err) {
				t.Fatalf("an error without a code: %v", err)
			}
			return
		}
		if !contract.IsValidToken(c.Envelope.CommandID) || c.Command == nil || string(c.Command.CommandType()) != c.Envelope.Type {
			t.Fatalf("decoded %+v", c)
		}
		again, err := json.Marshal(c.Envelope)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := n.DecodeCommand(subject, again)
		if err != nil {
			t.Fatalf("re-encoded envelope refused: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(c2.Command, c.Command) {
			t.Fatalf("round trip: %+v, then %+v", c.Command, c2.Command)
		}
	})
}

// FuzzDecodeDeadLetter feeds personctl dlq's decoder: no panic, and a
// decoded dead letter survives a round trip.
func FuzzDecodeDeadLetter(f *testing.F) {
	f.Add([]byte(`{"worker":"command-worker","subject":"person.commands.p-1.add_email","stream":"PERSON_COMMANDS","stream_sequence":7,"headers":{"Nats-Msg-Id":["c-1"]},"payload":"eyJ4IjoxfQ==","error":"boom","code":"malformed_json","attempts":1,"deliveries":1,"first_failure":"2026-01-02T03:04:05Z","last_failure":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"payload":"not base64"}`))
	f.Add([]byte(`{"first_failure":"yesterday"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		dl, err := contract.DecodeDeadLetter(body)
		if err != nil {
			if contract.Code(err) != "malformed_json" {
				t.Fatalf("error without malformed_json: %v", err)
			}
			return
		}
		again, err := json.Marshal(dl)
		if err != nil {
			return // a time outside JSON's range: nothing to compare
		}
		dl2, err := contract.DecodeDeadLetter(again)
		if err != nil {
			t.Fatalf("re-encoded dead letter refused: %v", err)
		}
		if !reflect.DeepEqual(normalise(dl), normalise(dl2)) {
			t.Fatalf("round trip: %+v, then %+v", dl, dl2)
		}
	})
}

// normalise drops what a round trip may legitimately change: empty versus
// nil collections, and time zones of equal instants.
func normalise(d contract.DeadLetter) contract.DeadLetter {
	if len(d.Headers) == 0 {
		d.Headers = nil
	}
	if len(d.Payload) == 0 {
		d.Payload = nil
	}
	d.FirstFailure, d.LastFailure = d.FirstFailure.UTC(), d.LastFailure.UTC()
	return d
}
