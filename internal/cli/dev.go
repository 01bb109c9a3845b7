package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/demo"
	"github.com/personfleet/personfleet/internal/natsdev"
	"github.com/personfleet/personfleet/internal/store"
)

func (a *app) demoCmd() *cobra.Command {
	var o demo.Options
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the fleet on an embedded NATS server under a realistic load and print a summary",
		Long: `demo starts an embedded nats-server, two command-worker replicas, one
policy-worker and one projector as separate processes (the real binaries
from --bin-dir), drives persons through creation and onboarding (some with
bad data, one poison message), waits for policies, durable timers and
projections, verifies the read models against the events, and stops the
workers with SIGTERM. Exit code 1 when anything checked is wrong.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = a.out
			if o.BinDir == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				o.BinDir = filepath.Dir(exe)
			}
			return demo.Run(cmd.Context(), o)
		},
	}
	c.Flags().IntVar(&o.Persons, "persons", 2000, "persons to create and onboard")
	c.Flags().IntVar(&o.Producers, "producers", 64, "concurrent producers")
	c.Flags().IntVar(&o.CommandWorkers, "command-workers", 2, "command-worker replicas")
	c.Flags().DurationVar(&o.Inactivity, "inactivity", 5*time.Second, "auto-archive delay (short, so the timers fire during the demo)")
	c.Flags().StringVar(&o.BinDir, "bin-dir", "", "directory of the worker binaries (default: personctl's own)")
	c.Flags().BoolVar(&o.KeepDir, "keep", false, "keep the JetStream data and worker logs")
	c.Flags().StringVar(&o.Dir, "dir", "", "parent directory of the demo's data (default: /dev/shm when present: see docs/performance.md on R1 atomic batches)")
	return c
}

func (a *app) devServerCmd() *cobra.Command {
	var cfg natsdev.Config
	c := &cobra.Command{
		Use:   "dev-server",
		Short: "Run an embedded nats-server with JetStream until interrupted",
		Long: `dev-server runs the real nats-server (Go module, in-process) with JetStream
on --dir, prints its URL, provisions the fleet's streams, consumers and
buckets, and serves until SIGINT or SIGTERM. --sync-interval sets how often
JetStream fsyncs (nats-server's default: 2 minutes; a killed process loses
nothing, a power loss can lose up to that much acknowledged data);
--sync-always fsyncs every write.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv, err := natsdev.Start(cfg)
			if err != nil {
				return err
			}
			defer srv.Shutdown()
			a.nats.URL = srv.URL()
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			err = store.Provision(ctx, cl.JetStream(), store.Settings{Names: cl.Names()})
			cancel()
			done()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "nats-server with JetStream at %s (store %s); provisioned; Ctrl-C stops\nexport PERSONFLEET_SERVER=%s\n", srv.URL(), srv.StoreDir(), srv.URL())
			<-cmd.Context().Done()
			return nil
		},
	}
	c.Flags().StringVar(&cfg.Dir, "dir", "", "JetStream directory (default: a temporary one, removed at exit)")
	c.Flags().StringVar(&cfg.Host, "host", "127.0.0.1", "listen address")
	c.Flags().IntVar(&cfg.Port, "port", 4222, "listen port (-1: any free port)")
	c.Flags().DurationVar(&cfg.SyncInterval, "sync-interval", 0, "JetStream fsync interval (0: nats-server's default, 2m)")
	c.Flags().BoolVar(&cfg.SyncAlways, "sync-always", false, "fsync every write")
	return c
}

func (a *app) provisionCmd() *cobra.Command {
	var s store.Settings
	c := &cobra.Command{
		Use:   "provision",
		Short: "Create or update the fleet's streams, consumers and KV buckets (idempotent)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			defer done()
			s.Names = cl.Names()
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			defer cancel()
			if err := store.Provision(ctx, cl.JetStream(), s); err != nil {
				return err
			}
			s.SetDefaults()
			for _, st := range s.Streams() {
				fmt.Fprintf(a.out, "stream %-16s %v\n", st.Name, st.Subjects)
			}
			for _, b := range s.Buckets() {
				fmt.Fprintf(a.out, "bucket %s\n", b.Bucket)
			}
			return nil
		},
	}
	c.Flags().IntVar(&s.Replicas, "replicas", 1, "replicas of streams and buckets (3 on a cluster)")
	c.Flags().DurationVar(&s.CommandsDedupWindow, "commands-dedup-window", 10*time.Minute, "duplicate window of the commands stream")
	c.Flags().DurationVar(&s.ResultsMaxAge, "results-max-age", time.Hour, "how long results are kept")
	c.Flags().DurationVar(&s.DLQMaxAge, "dlq-max-age", 30*24*time.Hour, "how long dead letters are kept")
	return c
}
