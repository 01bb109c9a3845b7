package worker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/personfleet/personfleet/internal/config"
	"github.com/personfleet/personfleet/internal/telemetry"
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
	log = slog.New(telemetry.WithTraceIDs(log.Handler()))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	shutdown, err := telemetry.Setup(ctx, string(kind), config.OSEnv)
	if err != nil {
		log.Error("tracing", "error", err)
		return 2
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			log.Warn("flushing spans", "error", err)
		}
	}()
	if err := Run(ctx, cfg, log); err != nil {
		log.Error("worker failed", "error", err)
		return 1
	}
	return 0
}
