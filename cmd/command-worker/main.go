// Command command-worker takes person commands from the shared durable
// consumer, decides them with the Person aggregate, appends the events with
// server-enforced optimistic concurrency and streams the results back.
// Run with -h for its flags (each has a PERSONFLEET_* environment default).
package main

import (
	"os"

	"github.com/personfleet/personfleet/internal/worker"
)

func main() { os.Exit(worker.Main(worker.CommandWorker, os.Args[1:])) }
