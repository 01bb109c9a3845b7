// Command policy-worker turns events into reactive commands with the
// default policies (welcome notification, data quality, skill
// recommendation, auto-archive on a durable timer).
// Run with -h for its flags (each has a PERSONFLEET_* environment default).
package main

import (
	"os"

	"github.com/personfleet/personfleet/internal/worker"
)

func main() { os.Exit(worker.Main(worker.PolicyWorker, os.Args[1:])) }
