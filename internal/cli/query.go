package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/projection"
)

// The query service's requests and replies (README, "Read models and
// queries"), as they travel.
type (
	personQuery struct {
		PersonID person.ID `json:"person_id"`
	}
	listQuery struct {
		Lifecycle string `json:"lifecycle,omitempty"`
		Email     string `json:"email,omitempty"`
		Limit     int    `json:"limit,omitempty"`
	}
	listReply struct {
		Persons []projection.Summary `json:"persons"`
		Total   int                  `json:"total"`
	}
)

// query asks the query service and maps a 404 to exit code 1 with a
// plain message.
func (a *app) query(ctx context.Context, name string, req, out any) error {
	cl, done, err := a.connect()
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	err = cl.Query(ctx, name, req, out)
	if errors.Is(err, client.ErrNotFound) {
		return withCode(ExitFailure, err)
	}
	return err
}

func personArg(args []string) (person.ID, error) {
	id, err := person.ParseID(args[0])
	if err != nil {
		return "", withCode(ExitUsage, err)
	}
	return id, nil
}

func (a *app) getCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get <person-id>",
		Short: "Show a person's summary (query service: <prefix>.query.get)",
		Long: `get asks the query service for the person's summary read model and prints
it as a table (--json: the reply as it came). Exit code 1 when the person is
not found.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := personArg(args)
			if err != nil {
				return err
			}
			var s projection.Summary
			if err := a.query(cmd.Context(), "get", personQuery{PersonID: id}, &s); err != nil {
				return err
			}
			if a.json {
				return printJSON(a.out, s)
			}
			t := newTable(a.out)
			t.row("person_id", s.PersonID)
			t.row("version", s.Version)
			t.row("display_name", s.DisplayName)
			t.row("full_name", s.FullName)
			t.row("lifecycle", s.Lifecycle)
			if s.MergedInto != "" {
				t.row("merged_into", s.MergedInto)
			}
			t.row("onboarding", s.Onboarding)
			t.row("primary_email", s.PrimaryEmail)
			t.row("emails", s.Emails)
			t.row("primary_phone", s.PrimaryPhone)
			t.row("employer", s.Employer)
			t.row("role", s.Role)
			t.row("skills", s.SkillsCount)
			t.row("quality_flags", s.QualityFlags)
			t.row("created_at", s.CreatedAt)
			t.row("updated_at", s.UpdatedAt)
			t.flush()
			return nil
		},
	}
}

func (a *app) onboardingCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "onboarding <person-id>",
		Short: "Show a person's onboarding status (query service: <prefix>.query.onboarding)",
		Long: `onboarding prints the onboarding status read model: the workflow's state,
the linked identity, the location, and every step entered with its time.
Exit code 1 when the person is not found.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := personArg(args)
			if err != nil {
				return err
			}
			var o projection.Onboarding
			if err := a.query(cmd.Context(), "onboarding", personQuery{PersonID: id}, &o); err != nil {
				return err
			}
			if a.json {
				return printJSON(a.out, o)
			}
			t := newTable(a.out)
			t.row("person_id", o.PersonID)
			t.row("version", o.Version)
			t.row("state", o.State)
			if o.FailureReason != "" {
				t.row("failure_reason", o.FailureReason)
			}
			t.row("identity_linked", o.IdentityLinked)
			t.row("location", o.Location)
			t.row("started_at", o.StartedAt)
			t.row("completed_at", o.CompletedAt)
			t.flush()
			if len(o.Steps) > 0 {
				fmt.Fprintln(a.out)
				st := newTable(a.out, "STEP", "AT", "REASON")
				for _, s := range o.Steps {
					st.row(s.State, s.At, s.Reason)
				}
				st.flush()
			}
			return nil
		},
	}
}

func (a *app) listCmd() *cobra.Command {
	var q listQuery
	c := &cobra.Command{
		Use:   "list [--lifecycle active] [--limit N]",
		Short: "List persons (query service: <prefix>.query.list)",
		Long: `list asks the query service for person summaries, optionally only those in
one lifecycle state, and prints them as a table with the total number of
matches (the service scans the summary bucket: fine for operators, not a
hot path).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Lifecycle != "" {
				if _, err := person.ParseLifecycle(q.Lifecycle); err != nil {
					return withCode(ExitUsage, err)
				}
			}
			return a.listLike(cmd.Context(), "list", q)
		},
	}
	c.Flags().StringVar(&q.Lifecycle, "lifecycle", "", "only persons in this state: active, suspended, deactivated, archived, deceased, merged")
	c.Flags().IntVar(&q.Limit, "limit", 100, "at most this many persons (the service caps it at 10,000)")
	return c
}

func (a *app) searchCmd() *cobra.Command {
	var q listQuery
	c := &cobra.Command{
		Use:   "search --email <address>",
		Short: "Find persons by email (query service: <prefix>.query.search)",
		Long: `search asks the query service for the persons that have an email address
(case-insensitive) and prints them as a table.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(q.Email) == "" {
				return withCode(ExitUsage, errors.New("search needs --email"))
			}
			return a.listLike(cmd.Context(), "search", q)
		},
	}
	c.Flags().StringVar(&q.Email, "email", "", "email address to look for")
	c.Flags().StringVar(&q.Lifecycle, "lifecycle", "", "only persons in this lifecycle state")
	c.Flags().IntVar(&q.Limit, "limit", 100, "at most this many persons")
	return c
}

func (a *app) listLike(ctx context.Context, name string, q listQuery) error {
	var r listReply
	if err := a.query(ctx, name, q, &r); err != nil {
		return err
	}
	if a.json {
		return printJSON(a.out, r)
	}
	t := newTable(a.out, "PERSON_ID", "NAME", "LIFECYCLE", "ONBOARDING", "EMAIL", "VERSION", "UPDATED")
	for _, s := range r.Persons {
		t.row(s.PersonID, truncate(s.DisplayName, 40), s.Lifecycle, s.Onboarding, s.PrimaryEmail, s.Version, s.UpdatedAt)
	}
	t.flush()
	fmt.Fprintf(a.out, "%d of %d\n", len(r.Persons), r.Total)
	return nil
}
