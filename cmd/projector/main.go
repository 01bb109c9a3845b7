// Command projector builds the read models (person summary, onboarding
// status) in NATS KV from the events and serves queries on
// <prefix>.query.*.
// Run with -h for its flags (each has a PERSONFLEET_* environment default).
package main

import (
	"os"

	"github.com/personfleet/personfleet/internal/worker"
)

func main() { os.Exit(worker.Main(worker.Projector, os.Args[1:])) }
