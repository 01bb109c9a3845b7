package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
)

type sendOptions struct {
	person          string
	data            string
	sets            []string
	file            string
	commandID       string
	expectedVersion uint64
	correlationID   string
	causationID     string
	actor           string
	headers         []string
	async           bool
}

func (a *app) sendCmd() *cobra.Command {
	var o sendOptions
	c := &cobra.Command{
		Use:   "send <command_type> --person <id> [--data JSON | --data @file | --set key=value …]",
		Short: "Send a command and stream its results until the final one",
		Long: `send builds a command envelope, publishes it on
<prefix>.commands.<person_id>.<command_type> with Nats-Msg-Id = its command
id (a fresh UUID unless --command-id: resubmitting the same id is
idempotent), and prints each result streamed on <prefix>.results.<command_id>
until the final one (accepted, rejected or failed).

The command's data comes from --data (a JSON object, @file, or @- for
stdin) and/or --set flags: --set key=value sets a string, --set key:=JSON
sets any JSON value (true, 3, ["a","b"], {…}); dotted keys nest (--set
name.given_name=Ada). --file reads a whole envelope
({"command_id","type","person_id","data",…}) instead; "-" reads stdin.

--async publishes and prints the command id without waiting; "personctl
watch <command-id>" streams the results later.

Exit codes: 0 accepted, 3 rejected or failed, 2 bad usage, 1 anything else
(no connection, no final result within --timeout).`,
		Example: `  personctl send create_person --person ada --data '{"name":{"given_name":"Ada","family_name":"Lovelace"}}'
  personctl send add_email --person ada --set email=ada@example.org --set primary:=true
  personctl send update_name --person ada --data @name.json --expected-version 2
  personctl send --file envelope.json --json
  id=$(personctl send suspend_person --person ada --async) && personctl watch "$id"`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := o.envelope(cmd, args)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			headers, err := parseHeaders(o.headers)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			defer cancel()
			if o.async {
				dup, err := cl.Send(ctx, env, headers)
				if err != nil {
					return err
				}
				if a.json {
					return printJSONLine(a.out, map[string]any{
						"command_id": env.CommandID, "person_id": env.PersonID, "type": env.Type,
						"subject": cl.Names().Command(env.PersonID, person.CommandType(env.Type)), "duplicate": dup,
					})
				}
				fmt.Fprintln(a.out, env.CommandID)
				if dup {
					fmt.Fprintf(a.errOut, "personctl: %s was sent before (inside the duplicate window): not sent again\n", env.CommandID)
				}
				return nil
			}
			final, _, err := cl.Submit(ctx, env, headers, a.printResult)
			if err != nil {
				return err
			}
			return resultCode(final)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.person, "person", "p", "", "person id (one subject token; a UUID is best)")
	f.StringVarP(&o.data, "data", "d", "", "command data: a JSON object, @file or @- (stdin)")
	f.StringArrayVar(&o.sets, "set", nil, "set one data field: key=value (a string) or key:=JSON (dotted keys nest)")
	f.StringVarP(&o.file, "file", "f", "", "read the whole command envelope from a JSON file (- for stdin)")
	f.StringVar(&o.commandID, "command-id", "", "command id (default: a fresh UUID)")
	f.Uint64Var(&o.expectedVersion, "expected-version", 0, "reject the command unless the person is at exactly this version (0 = not created)")
	f.StringVar(&o.correlationID, "correlation-id", "", "correlation id (default: the command id)")
	f.StringVar(&o.causationID, "causation-id", "", "causation id")
	f.StringVar(&o.actor, "actor", "personctl", "who sends the command")
	f.StringArrayVar(&o.headers, "header", nil, "extra NATS header Name:value (e.g. traceparent:00-…)")
	f.BoolVar(&o.async, "async", false, "print the command id and return without waiting for the results")
	return c
}

// envelope builds the command envelope from the flags.
func (o *sendOptions) envelope(cmd *cobra.Command, args []string) (contract.CommandEnvelope, error) {
	var env contract.CommandEnvelope
	if o.file != "" {
		b, err := readSource(o.file)
		if err != nil {
			return env, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil {
			return env, fmt.Errorf("envelope %s: %w", o.file, err)
		}
		if len(args) == 1 && args[0] != env.Type {
			return env, fmt.Errorf("the envelope's type is %q, the argument says %q", env.Type, args[0])
		}
	} else {
		if len(args) != 1 {
			return env, errors.New("send needs a command type (or --file)")
		}
		env.Type = args[0]
	}
	if o.person != "" {
		if env.PersonID != "" && string(env.PersonID) != o.person {
			return env, fmt.Errorf("the envelope's person is %q, --person says %q", env.PersonID, o.person)
		}
		env.PersonID = person.ID(o.person)
	}
	if env.PersonID == "" {
		return env, errors.New("--person is required")
	}
	if _, err := person.ParseID(string(env.PersonID)); err != nil {
		return env, err
	}
	if _, err := person.ParseCommandType(env.Type); err != nil {
		return env, fmt.Errorf("%w (known: %s)", err, joinTypes(person.CommandTypes()))
	}
	data, err := o.buildData(env.Data)
	if err != nil {
		return env, err
	}
	env.Data = data
	if o.commandID != "" {
		env.CommandID = o.commandID
	}
	if env.CommandID == "" {
		env.CommandID = uuid.NewString()
	}
	if !contract.IsValidToken(env.CommandID) {
		return env, fmt.Errorf("command id %q must be one subject token", env.CommandID)
	}
	if cmd.Flags().Changed("expected-version") {
		v := o.expectedVersion
		env.ExpectedVersion = &v
	}
	if o.correlationID != "" {
		env.CorrelationID = o.correlationID
	}
	if o.causationID != "" {
		env.CausationID = o.causationID
	}
	if env.Actor == "" || cmd.Flags().Changed("actor") {
		env.Actor = o.actor
	}
	return env, nil
}

// buildData merges --data and the --set flags into one JSON object.
func (o *sendOptions) buildData(base json.RawMessage) (json.RawMessage, error) {
	obj := map[string]any{}
	if len(base) > 0 && string(base) != "null" {
		if err := json.Unmarshal(base, &obj); err != nil {
			return nil, fmt.Errorf("envelope data: %w", err)
		}
	}
	if o.data != "" {
		raw := []byte(o.data)
		if strings.HasPrefix(o.data, "@") {
			b, err := readSource(o.data[1:])
			if err != nil {
				return nil, err
			}
			raw = b
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("--data must be a JSON object: %w", err)
		}
		for k, v := range m {
			obj[k] = v
		}
	}
	for _, s := range o.sets {
		key, val, ok := strings.Cut(s, "=")
		if !ok || key == "" || key == ":" {
			return nil, fmt.Errorf("--set %q: want key=value (a string) or key:=JSON", s)
		}
		var v any = val
		if k, raw := strings.CutSuffix(key, ":"); raw {
			key = k
			if err := json.Unmarshal([]byte(val), &v); err != nil {
				return nil, fmt.Errorf("--set %q: the value after := must be JSON: %w", s, err)
			}
		}
		if err := setPath(obj, strings.Split(key, "."), v); err != nil {
			return nil, fmt.Errorf("--set %q: %w", s, err)
		}
	}
	if len(obj) == 0 {
		return nil, nil
	}
	return json.Marshal(obj)
}

func setPath(obj map[string]any, path []string, v any) error {
	for i, k := range path {
		if k == "" {
			return errors.New("empty key")
		}
		if i == len(path)-1 {
			obj[k] = v
			return nil
		}
		next, ok := obj[k].(map[string]any)
		if !ok {
			if _, exists := obj[k]; exists {
				return fmt.Errorf("%s is not an object", k)
			}
			next = map[string]any{}
			obj[k] = next
		}
		obj = next
	}
	return nil
}

// readSource reads a file, or stdin for "-".
func readSource(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

func parseHeaders(hs []string) (map[string]string, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, h := range hs {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--header %q: want Name:value", h)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

func joinTypes(ts []person.CommandType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// printResult prints one result: a JSON line with --json, else one line
// of text.
func (a *app) printResult(r contract.Result) {
	if a.json {
		_ = printJSONLine(a.out, r)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s %s", r.Status, r.CommandID)
	if r.PersonID != "" {
		fmt.Fprintf(&b, "  person %s", r.PersonID)
	}
	if r.Type != "" {
		fmt.Fprintf(&b, "  %s", r.Type)
	}
	if r.Status == contract.StatusAccepted {
		fmt.Fprintf(&b, "  version %d", r.Version)
	}
	if len(r.Events) > 0 {
		evs := make([]string, len(r.Events))
		for i, e := range r.Events {
			evs[i] = fmt.Sprintf("%s@%d", e.Type, e.Version)
		}
		fmt.Fprintf(&b, "  events %s", strings.Join(evs, " "))
	}
	if r.Duplicate {
		b.WriteString("  (duplicate: processed before, nothing appended)")
	}
	if r.Error != nil {
		fmt.Fprintf(&b, "  %s: %s", r.Error.Code, r.Error.Message)
	}
	fmt.Fprintln(a.out, b.String())
}

// resultCode maps a final result to the exit code: 0 accepted, 3 rejected
// or failed.
func resultCode(r contract.Result) error {
	switch r.Status {
	case contract.StatusAccepted:
		return nil
	case contract.StatusRejected, contract.StatusFailed:
		code := ""
		if r.Error != nil {
			code = r.Error.Code
		}
		return withCode(ExitRejected, fmt.Errorf("command %s %s (%s)", r.CommandID, r.Status, code))
	case contract.StatusReceived:
	}
	return fmt.Errorf("command %s: unexpected final status %q", r.CommandID, r.Status)
}

func (a *app) watchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "watch <command-id>",
		Short: "Stream a command's stored results until the final one",
		Long: `watch reads <prefix>.results.<command_id> from the results stream (kept
for an hour), from its first message, and prints each result until the
final one — also for a command sent earlier or by another process
(send --async). It waits up to --timeout for results still to come.
Exit codes as for send: 0 accepted, 3 rejected or failed.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !contract.IsValidToken(args[0]) {
				return withCode(ExitUsage, fmt.Errorf("command id %q must be one subject token", args[0]))
			}
			cl, done, err := a.connect()
			if err != nil {
				return err
			}
			defer done()
			ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
			defer cancel()
			final, err := cl.Watch(ctx, args[0], a.printResult)
			if err != nil {
				return err
			}
			return resultCode(final)
		},
	}
}
