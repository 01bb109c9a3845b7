// Command personctl is the producer's and operator's tool for the person
// fleet: send commands and watch their results, query, import, inspect and
// redrive dead letters, migrate and verify the event stream, run the demo.
// Run `personctl --help`.
package main

import (
	"os"

	"github.com/personfleet/personfleet/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
