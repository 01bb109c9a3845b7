// Package cli is personctl: the producer's and operator's tool. Every
// subcommand talks to the fleet only through the public contract
// (subjects, envelopes, streams, buckets, the query service).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/config"
	"github.com/personfleet/personfleet/internal/contract"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the operation failed (or found problems)
	ExitUsage    = 2 // bad flags or arguments
	ExitRejected = 3 // send: the command was rejected or failed
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// app holds what every subcommand shares.
type app struct {
	nats         config.NATS
	prefix       string
	eventsStream string
	json         bool
	noProgress   bool
	timeout      time.Duration
	out          io.Writer
	errOut       io.Writer
}

// Main runs personctl with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return Run(ctx, args, stdout, stderr, config.OSEnv)
}

// Run runs personctl with args, reading PERSONFLEET_* defaults from env,
// and returns the exit code (Main without the signal handling).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, env config.Env) int {
	root := newRoot(stdout, stderr, env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "personctl: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if strings.HasPrefix(err.Error(), "unknown command") { // cobra's, for a mistyped subcommand
		return ExitUsage
	}
	return ExitFailure
}

// usageArgs wraps a cobra argument check so that its error exits 2.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return withCode(ExitUsage, err)
		}
		return nil
	}
}

func newRoot(stdout, stderr io.Writer, env config.Env) *cobra.Command {
	a := &app{out: stdout, errOut: stderr}
	root := &cobra.Command{
		Use:           "personctl",
		Short:         "Send commands to the person fleet, query it, and operate it",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withCode(ExitUsage, err) })
	// The connection flags are declared once with the shared binder (their
	// defaults come from PERSONFLEET_* variables) and handed to cobra.
	gfs := newGoFlagSet()
	b := &config.Binder{FS: gfs, Env: env}
	a.nats.Bind(b)
	b.String(&a.prefix, "prefix", contract.DefaultPrefix, "subject prefix of the fleet")
	b.String(&a.eventsStream, "events-stream", "", "name of the events stream (default <PREFIX>_EVENTS; the new one after `migrate --apply`)")
	b.Duration(&a.timeout, "timeout", 30*time.Second, "how long to wait for an answer")
	root.PersistentFlags().AddGoFlagSet(gfs)
	root.PersistentFlags().BoolVar(&a.json, "json", false, "print JSON (for scripts)")
	root.PersistentFlags().BoolVar(&a.noProgress, "no-progress", false, "no progress bar (it is drawn on stderr only when stderr is a terminal)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if err := b.Err(); err != nil {
			return withCode(ExitUsage, err)
		}
		return nil
	}
	root.AddCommand(
		a.sendCmd(),
		a.watchCmd(),
		a.getCmd(),
		a.onboardingCmd(),
		a.listCmd(),
		a.searchCmd(),
		a.importCmd(),
		a.dlqCmd(),
		a.migrateCmd(),
		a.verifyCmd(),
		a.statusCmd(),
		a.demoCmd(),
		a.devServerCmd(),
		a.provisionCmd(),
		a.benchCmd(),
	)
	return root
}

// connect opens a connection and a client to the fleet.
func (a *app) connect() (*client.Client, func(), error) {
	names, err := a.names()
	if err != nil {
		return nil, nil, err
	}
	a.nats.Name = "personctl"
	nc, err := a.nats.Connect()
	if err != nil {
		return nil, nil, err
	}
	cl, err := client.New(nc, names)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return cl, func() { _ = nc.Drain() }, nil
}

// names are the fleet's names from --prefix and --events-stream.
func (a *app) names() (contract.Names, error) {
	names, err := contract.NewNames(a.prefix)
	if err == nil {
		names, err = names.WithEventsStream(a.eventsStream)
	}
	if err != nil {
		return names, withCode(ExitUsage, err)
	}
	return names, nil
}
