package cli

import (
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/bench"
)

func (a *app) benchCmd() *cobra.Command {
	var o bench.Options
	var cpuProfile string
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the fleet end to end against a plain nats.go baseline, in one run",
		Long: `bench starts an embedded nats-server and the real worker binaries (from
--bin-dir) as processes, creates --persons persons, then drives --commands
single-event commands from --producers concurrent producers, each waiting
for its final result:

  1. the command path alone (command-workers only), and the same JetStream
     operations per command done by a baseline with plain nats.go (consume,
     append one event with the expected-sequence check, publish one result,
     ack): the report prints the fleet's throughput as a ratio of it;
  2. the policy-worker and projector catching up on those events;
  3. the whole fleet at once, with CPU seconds per 1,000 commands and peak
     RSS per process;
  4. a paced run at half the measured peak rate, for latency;
  5. the projector catching up on a pre-filled stream of --catch-up events
     against plain consumption (pull, decode, ack) of the same stream.

Figures depend on the machine and on what else runs on it: compare runs
made on the same machine, take medians of several (see docs/performance.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = a.out
			if o.BinDir == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				o.BinDir = filepath.Dir(exe)
			}
			if a.json {
				o.Out = a.errOut
			}
			if cpuProfile != "" { // the embedded nats-server runs in this process
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer func() { _ = f.Close() }()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			rep, err := bench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if a.json {
				b, err := rep.JSON()
				if err != nil {
					return err
				}
				_, err = a.out.Write(append(b, '\n'))
				return err
			}
			return nil
		},
	}
	c.Flags().IntVar(&o.Commands, "commands", 30000, "commands in each timed phase")
	c.Flags().IntVar(&o.Persons, "persons", 2000, "persons the commands are spread over")
	c.Flags().IntVar(&o.Producers, "producers", 64, "concurrent producers")
	c.Flags().IntVar(&o.CommandWorkers, "command-workers", 1, "command-worker replicas (and baseline instances)")
	c.Flags().IntVar(&o.Concurrency, "concurrency", 64, "messages in flight per worker process (fleet and baseline)")
	c.Flags().IntVar(&o.CatchUpEvents, "catch-up", 100000, "events pre-filled for the projector catch-up (0: skip)")
	c.Flags().DurationVar(&o.LatencyRun, "latency-run", 10*time.Second, "length of the half-rate latency run (0: skip)")
	c.Flags().BoolVar(&o.Baseline, "baseline", true, "run the plain nats.go baseline")
	c.Flags().StringVar(&o.BinDir, "bin-dir", "", "directory of the worker binaries (default: personctl's own)")
	c.Flags().BoolVar(&o.SyncAlways, "sync-always", false, "the embedded server fsyncs every write (nats-server's sync_interval: always)")
	c.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of personctl (the embedded nats-server, the producers, the baseline) to this file; the workers serve theirs with --pprof")
	c.Flags().StringVar(&o.Dir, "dir", "", "parent directory of the benchmark's data (default: the temp dir, on disk)")
	return c
}
