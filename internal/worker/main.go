package worker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/personfleet/personfleet/internal/config"
)

// Main is the whole body of a worker binary's main: flags (with
// PERSONFLEET_* defaults), logger, SIGTERM/SIGINT for a graceful stop, Run.
// It returns the process exit code: 0 after a clean stop, 2 for bad
// configuration, 1 for a failure.
func Main(kind Kind, args []string) int {
	fs := flag.NewFlagSet(string(kind), flag.ContinueOnError)
	cfg := Config{Kind: kind}
	b := &config.Binder{FS: fs, Env: config.OSEnv}
	cfg.Bind(b)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := errors.Join(b.Err(), cfg.Validate()); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", kind, err)
		return 2
	}
	log, err := cfg.Log.Logger()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", kind, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := Run(ctx, cfg, log); err != nil {
		log.Error("worker failed", "error", err)
		return 1
	}
	return 0
}
