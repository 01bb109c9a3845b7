package schema

import (
	"fmt"
	"time"

	"github.com/personfleet/personfleet/internal/person"
)

// upcasters is the registry of every schema change, one small function per
// (event type, from-version) step. The current version of a type is one
// past its last step; a type without steps is at v1.
//
// To add a version (say person_created v4) when a payload of package person
// changes shape:
//  1. freeze the shape being replaced here, as personCreatedV3, copying the
//     old struct and its json tags (stored v3 events are read into it);
//  2. add upcaster(person.EventPersonCreated, 3, personCreatedV3toV4) below,
//     and retarget the v2→v3 step to produce *personCreatedV3;
//  3. add testdata/golden/person_created_v4.json (go test -update writes
//     current versions) and keep person_created_v3.json as it is: the golden
//     tests then prove that v1, v2 and v3 events still read correctly.
//
// Start-up checks (buildRegistry) refuse a registry with gaps or mismatched
// shapes.
var upcasters = []step{
	upcaster(person.EventPersonCreated, 1, personCreatedV1toV2),
	upcaster(person.EventPersonCreated, 2, personCreatedV2toV3),
	upcaster(person.EventNameUpdated, 1, nameUpdatedV1toV2),
}

// personCreatedV1 is person_created at schema v1: one full-name string and
// the creation time in the payload (v1 envelopes may lack occurred_at).
type personCreatedV1 struct {
	FullName  string    `json:"full_name"`
	CreatedAt time.Time `json:"created_at"`
}

// personCreatedV2 is person_created at schema v2: the structured name, and
// the free-form "source" the creating command carried (v3 renamed it).
type personCreatedV2 struct {
	Name   person.Name `json:"name"`
	Source string      `json:"source,omitempty"`
}

// personCreatedV1toV2 splits the full name (person.ParseFullName: first
// word given name, last word family name, the words between middle names)
// and moves created_at into the envelope when the envelope has no
// occurred_at (when it has one, that one wins and created_at is dropped).
func personCreatedV1toV2(e *person.Event, in *personCreatedV1) (*personCreatedV2, error) {
	if e.OccurredAt.IsZero() && !in.CreatedAt.IsZero() {
		t, err := normalizeTime(in.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("created_at %w", err)
		}
		e.OccurredAt = t
	}
	return &personCreatedV2{Name: person.ParseFullName(in.FullName)}, nil
}

// personCreatedV2toV3 adds source_system and import_id: the v2 source
// becomes source_system, import_id stays empty (v2 had none).
func personCreatedV2toV3(_ *person.Event, in *personCreatedV2) (*person.PersonCreated, error) {
	return &person.PersonCreated{Name: in.Name, SourceSystem: in.Source}, nil
}

// nameUpdatedV1 is name_updated at schema v1: "reason" and the update time
// in the payload.
type nameUpdatedV1 struct {
	Name      person.Name `json:"name"`
	Previous  person.Name `json:"previous"`
	Reason    string      `json:"reason,omitempty"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// nameUpdatedV1toV2 renames reason to change_reason and moves updated_at
// into the envelope when the envelope has no occurred_at.
func nameUpdatedV1toV2(e *person.Event, in *nameUpdatedV1) (*person.NameUpdated, error) {
	if e.OccurredAt.IsZero() && !in.UpdatedAt.IsZero() {
		t, err := normalizeTime(in.UpdatedAt)
		if err != nil {
			return nil, fmt.Errorf("updated_at %w", err)
		}
		e.OccurredAt = t
	}
	return &person.NameUpdated{Name: in.Name, Previous: in.Previous, ChangeReason: in.Reason}, nil
}
