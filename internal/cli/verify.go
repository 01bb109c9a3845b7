package cli

import (
	"context"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/verify"
)

func (a *app) verifyCmd() *cobra.Command {
	var readModels bool
	var stream string
	var maxProblems int
	c := &cobra.Command{
		Use:   "verify [--read-models] [--stream NAME]",
		Short: "Replay the whole event stream and check it (and the read models)",
		Long: `verify reads every event of the events stream (--stream, default the
fleet's) and checks that:
  - every event decodes (at any schema version, upcast to the current one);
  - each person's versions are contiguous from 1;
  - no command was appended twice (an event id twice, or one command id
    causing two separate decisions);
  - every decision was a valid transition: the person's history replays
    through the aggregate, each decision's events have a command that emits
    them together and that the lifecycle state (and, for onboarding
    commands, the onboarding state) allowed at that point, and onboarding
    events record the state the workflow was really in;
  - with --read-models: every summary and onboarding status in KV equals a
    sequential replay of the person's events (the differences are listed).
Each problem list is capped at --max-problems. Exit code 1 when anything
is wrong.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			defer cancel()
			return a.runVerify(ctx, cl.JetStream(), cl.Names(), verify.Options{Stream: stream, ReadModels: readModels, MaxProblems: maxProblems})
		},
	}
	c.Flags().BoolVar(&readModels, "read-models", false, "also compare the KV read models with the replay")
	c.Flags().StringVar(&stream, "stream", "", "events stream to read (default: the fleet's, see --events-stream)")
	c.Flags().IntVar(&maxProblems, "max-problems", verify.DefaultMaxProblems, "list at most this many problems of each kind")
	return c
}

func (a *app) runVerify(ctx context.Context, js jetstream.JetStream, names contract.Names, opt verify.Options) error {
	bar := a.newProgress(0, "verify", "events")
	opt.Progress = func(done, total uint64) {
		bar.setTotal(int64(total))
		bar.set(int64(done))
	}
	rep, err := verify.Run(ctx, js, names, opt)
	bar.finish()
	if err != nil {
		return err
	}
	if a.json {
		_ = printJSON(a.out, rep)
	} else {
		a.printVerify(rep)
	}
	if !rep.OK() {
		return withCode(ExitFailure, fmt.Errorf("verification found %d problems", rep.Problems()))
	}
	return nil
}

func (a *app) printVerify(r verify.Report) {
	fmt.Fprintf(a.out, "stream %s: %d events of %d persons (%d stored at an older schema version, read upcast)\n", r.Stream, r.Events, r.Persons, r.Upcast)
	if len(r.ByStatus) > 0 {
		keys := make([]string, 0, len(r.ByStatus))
		for k := range r.ByStatus {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(a.out, "lifecycle:")
		for _, k := range keys {
			fmt.Fprintf(a.out, " %s %d", k, r.ByStatus[k])
		}
		fmt.Fprintln(a.out)
	}
	sections := []struct {
		name string
		list []string
	}{
		{"events that do not decode", r.Undecodable},
		{"version problems", r.VersionProblems},
		{"commands appended twice", r.DuplicateCmds},
		{"histories that do not replay", r.ReplayProblems},
		{"invalid transitions", r.TransitionProblems},
		{"read-model differences", r.ReadModelDiffs},
	}
	for _, s := range sections {
		if len(s.list) == 0 {
			continue
		}
		fmt.Fprintf(a.out, "\n%s (%d):\n", s.name, len(s.list))
		for _, p := range s.list {
			fmt.Fprintf(a.out, "  %s\n", p)
		}
	}
	if r.Truncated {
		fmt.Fprintln(a.out, "\n(lists capped: raise --max-problems to see more)")
	}
	checked := "every event decodes, versions contiguous, no command appended twice, every transition valid"
	if r.ReadModelsRead {
		checked += ", read models equal the replay"
	}
	if r.OK() {
		fmt.Fprintf(a.out, "OK: %s\n", checked)
		return
	}
	fmt.Fprintf(a.out, "\nFAILED: %d problems\n", r.Problems())
}
