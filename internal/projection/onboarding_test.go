package projection

import (
	"fmt"
	"testing"

	"github.com/personfleet/personfleet/internal/person"
)

func TestOnboardingReplay(t *testing.T) {
	evs := realisticHistory(t)
	var o Onboarding
	if err := Replay(&o, evs); err != nil {
		t.Fatal(err)
	}
	want := Onboarding{
		PersonID:       "ada",
		Version:        uint64(len(evs)),
		State:          "completed",
		IdentityLinked: true,
		Location:       "home",
		Steps: []Step{
			{State: "started", At: minute(17)},
			{State: "awaiting_identity_verification", At: minute(18)},
			{State: "collecting_basic_info", At: minute(19)},
			{State: "setting_up_components", At: minute(20)},
			{State: "assigning_location", At: minute(21)},
			{State: "finalizing", At: minute(22)},
			{State: "completed", At: minute(23)},
		},
		StartedAt:   minute(17),
		CompletedAt: minute(23),
	}
	if got, w := mustJSON(t, o), mustJSON(t, want); got != w {
		t.Fatalf("onboarding\n got %s\nwant %s", got, w)
	}
}

func TestOnboardingFailRestart(t *testing.T) {
	b := newBuilder(t, "p")
	var o Onboarding
	do := func(c person.Command) { t.Helper(); step(t, &o, b.do(c)) }
	do(&person.CreatePerson{Name: person.Name{GivenName: "Ann"}})
	if o.State != "none" || o.Steps != nil || !o.StartedAt.IsZero() {
		t.Fatalf("before onboarding: %+v", o)
	}
	do(&person.AddAddress{AddressID: "home", Address: person.Address{City: "Leeds", Country: "GB"}})
	do(&person.StartOnboarding{})
	started := o.StartedAt
	do(&person.RequestIdentityVerification{})
	do(&person.VerifyIdentity{IdentityID: "id-7"})
	do(&person.FailOnboarding{Reason: "documents missing"})
	if o.State != "failed" || o.FailureReason != "documents missing" || !o.IdentityLinked {
		t.Fatalf("after failure: %+v", o)
	}
	if last := o.Steps[len(o.Steps)-1]; last.State != "failed" || last.Reason != "documents missing" {
		t.Fatalf("last step %+v", last)
	}
	do(&person.RestartOnboarding{})
	if o.State != "started" || o.FailureReason != "" || !o.IdentityLinked || !o.StartedAt.Equal(started) {
		t.Fatalf("after restart: %+v", o)
	}
	do(&person.RequestIdentityVerification{})
	do(&person.VerifyIdentity{IdentityID: "id-8"})
	do(&person.SubmitBasicInfo{Email: "ann@leeds.uk", Phone: "0113 496 0000", CountryCode: "44"})
	do(&person.SetUpComponents{})
	do(&person.AssignLocation{AddressID: "home"})
	if o.Location != "home" {
		t.Fatalf("location %q", o.Location)
	}
	do(&person.CompleteOnboarding{})
	if o.State != "completed" || o.CompletedAt.IsZero() || !o.CompletedAt.After(o.StartedAt) {
		t.Fatalf("after completion: %+v", o)
	}
	var states []string
	for _, s := range o.Steps {
		states = append(states, s.State)
	}
	if got := fmt.Sprint(states); got != "[started awaiting_identity_verification collecting_basic_info failed started "+
		"awaiting_identity_verification collecting_basic_info setting_up_components assigning_location finalizing completed]" {
		t.Fatalf("steps %s", got)
	}
	do(&person.RemoveAddress{AddressID: "home"})
	if o.Location != "" || b.p.LocationID() != "" {
		t.Fatalf("location %q after its address was removed (aggregate: %q)", o.Location, b.p.LocationID())
	}
}

func TestOnboardingStepsBounded(t *testing.T) {
	b := newBuilder(t, "p")
	var o Onboarding
	do := func(c person.Command) { t.Helper(); step(t, &o, b.do(c)) }
	do(&person.CreatePerson{Name: person.Name{GivenName: "Ann"}})
	do(&person.StartOnboarding{})
	for range 40 {
		do(&person.RequestIdentityVerification{})
		do(&person.FailOnboarding{Reason: "again"})
		do(&person.RestartOnboarding{})
	}
	if len(o.Steps) != MaxOnboardingSteps {
		t.Fatalf("%d steps, want %d", len(o.Steps), MaxOnboardingSteps)
	}
	if last := o.Steps[len(o.Steps)-1]; last.State != "started" || !last.At.Equal(b.now) {
		t.Fatalf("last step %+v, want the latest restart", last)
	}
}
