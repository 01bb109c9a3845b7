package cli

import "flag"

func newGoFlagSet() *flag.FlagSet { return flag.NewFlagSet("personctl", flag.ContinueOnError) }
