package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Assumed lists settings the chart renders for flags that other work is
// adding to the binaries. A binary that lacks one is reported with t.Log
// (and the setting is left out of the run), not failed; once the binary
// has the flag, it is checked like any other.
var assumed = map[string]string{
	"workers PERSONFLEET_EVENTS_STREAM":     "the workers take --events-stream after `personctl migrate --apply` (internal/contract.WithEventsStream)",
	"personctl provision --ack-wait":        "provisioning.consumerFlags: personctl provision sets the consumers' ack wait",
	"personctl provision --max-deliver":     "provisioning.consumerFlags: personctl provision sets the consumers' max deliver",
	"personctl provision --max-ack-pending": "provisioning.consumerFlags: personctl provision sets the consumers' max ack pending",
}

// binaries are the fleet's binaries built from the repository, with the
// flags each declares: env variable → value type for the env-bound ones,
// and `personctl provision`'s own flags by name.
type binaries struct {
	dir       string
	env       map[string]map[string]string // binary → PERSONFLEET_* → type
	provision map[string]string            // flag → type
}

var binOnce struct {
	sync.Once
	b   binaries
	err error
}

// buildBinaries builds ./cmd/... of the main module once and reads each
// binary's -h.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	binOnce.Do(func() { binOnce.b, binOnce.err = build() })
	if binOnce.err != nil {
		t.Fatal(binOnce.err)
	}
	return binOnce.b
}

func build() (binaries, error) {
	dir, err := filepath.Abs(filepath.Join(repoRoot, "bin", "chart-check"))
	if err != nil {
		return binaries{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
		"./cmd/command-worker", "./cmd/policy-worker", "./cmd/projector", "./cmd/personctl")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return binaries{}, fmt.Errorf("go build ./cmd/...: %w\n%s", err, out)
	}
	b := binaries{dir: dir, env: map[string]map[string]string{}}
	for name := range workers {
		help, err := helpOf(filepath.Join(dir, name), "-h")
		if err != nil {
			return b, err
		}
		b.env[name] = envFlags(parseFlags(help, goFlagLine), help)
	}
	help, err := helpOf(filepath.Join(dir, "personctl"), "provision", "-h")
	if err != nil {
		return b, err
	}
	b.provision = parseFlags(help, cobraFlagLine)
	b.env["personctl"] = envFlags(b.provision, help)
	return b, nil
}

func helpOf(bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %v: %w\n%s", bin, args, err, out)
	}
	return string(out), nil
}

var (
	goFlagLine    = regexp.MustCompile(`^  -([a-z0-9][a-z0-9-]*)(?: (\S+))?`)
	cobraFlagLine = regexp.MustCompile(`^\s+(?:-[a-zA-Z], )?--([a-z0-9][a-z0-9-]*)(?: (\S+))?\s{2,}`)
	envMention    = regexp.MustCompile(`\$(PERSONFLEET_[A-Z0-9_]+)`)
)

// parseFlags reads a usage text, line by line with line (goFlagLine for
// the flag package's, cobraFlagLine for cobra's: a command's own and the
// global flags): flag name → type word ("" for bool flags).
func parseFlags(help string, line *regexp.Regexp) map[string]string {
	flags := map[string]string{}
	for _, l := range strings.Split(help, "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			flags[m[1]] = m[2]
		}
	}
	return flags
}

// envFlags maps the environment variables the help mentions to their
// flag's type (PERSONFLEET_ACK_WAIT → the type of --ack-wait; an alias
// such as PERSONFLEET_NATS_URL → string).
func envFlags(flags map[string]string, help string) map[string]string {
	env := map[string]string{}
	for _, m := range envMention.FindAllStringSubmatch(help, -1) {
		env[m[1]] = "string"
	}
	for name, typ := range flags {
		k := "PERSONFLEET_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if _, ok := env[k]; ok {
			env[k] = typ
		}
	}
	return env
}

// checkValue parses a value as the flag package would.
func checkValue(typ, value string) error {
	var err error
	switch typ {
	case "duration":
		_, err = time.ParseDuration(value)
	case "int":
		_, err = strconv.Atoi(value)
	case "float":
		_, err = strconv.ParseFloat(value, 64)
	case "", "bool":
		_, err = strconv.ParseBool(value)
	}
	return err
}

// resolveEnv computes a container's environment as the kubelet would:
// envFrom ConfigMaps first, then env in order with $(VAR) expansion;
// downward-API values get stand-ins.
func resolveEnv(t *testing.T, c corev1.Container, cms map[string]*corev1.ConfigMap) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			t.Errorf("container %s: envFrom other than a ConfigMap", c.Name)
			continue
		}
		cm, ok := cms[ef.ConfigMapRef.Name]
		if !ok {
			t.Errorf("container %s: envFrom ConfigMap %q is not rendered", c.Name, ef.ConfigMapRef.Name)
			continue
		}
		maps.Copy(env, cm.Data)
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = ref.ReplaceAllStringFunc(e.Value, func(s string) string {
				if v, ok := env[s[2:len(s)-1]]; ok {
					return v
				}
				return s
			})
		case e.ValueFrom.FieldRef != nil:
			env[e.Name] = "stand-in-" + strings.ReplaceAll(e.ValueFrom.FieldRef.FieldPath, ".", "-")
		case e.ValueFrom.ResourceFieldRef != nil:
			env[e.Name] = "536870912"
		default:
			env[e.Name] = "stand-in"
		}
	}
	return env
}

// checkBinaries: every PERSONFLEET_* variable the chart sets for a binary
// is one that binary reads, with a value of the flag's type; the Job's
// arguments are flags of `personctl provision`; and each rendered
// container, run with its environment and arguments against a closed
// port, gets past its configuration (flags, environment, validation such
// as the retry budget against the ack wait) and fails only at connecting.
func checkBinaries(t *testing.T, b binaries, objs []Object) {
	t.Helper()
	cms := map[string]*corev1.ConfigMap{}
	for _, cm := range byKind[*corev1.ConfigMap](objs, "ConfigMap") {
		cms[cm.Name] = cm
	}
	for _, d := range byKind[*appsv1.Deployment](objs, "Deployment") {
		c := d.Spec.Template.Spec.Containers[0]
		bin := filepath.Base(c.Command[0])
		env := checkEnv(t, "deployment "+d.Name, bin, "workers", b, resolveEnv(t, c, cms))
		if len(c.Args) > 0 {
			t.Errorf("deployment %s: args %v; the workers are configured by environment only", d.Name, c.Args)
		}
		run(t, "deployment "+d.Name, filepath.Join(b.dir, bin), nil, env)
	}
	for _, j := range byKind[*batchv1.Job](objs, "Job") {
		c := j.Spec.Template.Spec.Containers[0]
		env := checkEnv(t, "job "+j.Name, "personctl", "personctl", b, resolveEnv(t, c, cms))
		var args []string
		for i, a := range c.Args {
			if i == 0 {
				args = append(args, a) // the subcommand
				continue
			}
			name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if !strings.HasPrefix(a, "--") || !ok {
				t.Errorf("job %s: argument %q: want --flag=value", j.Name, a)
				continue
			}
			typ, known := b.provision[name]
			if !known {
				if why, ok := assumed["personctl provision --"+name]; ok {
					t.Logf("ASSUMED: job %s passes --%s, which this personctl lacks (%s); left out of the run", j.Name, name, why)
					continue
				}
				t.Errorf("job %s: personctl provision has no flag --%s", j.Name, name)
				continue
			}
			if err := checkValue(typ, value); err != nil {
				t.Errorf("job %s: --%s=%s is not a %s: %v", j.Name, name, value, typ, err)
			}
			args = append(args, a)
		}
		run(t, "job "+j.Name, filepath.Join(b.dir, "personctl"), args, env)
	}
}

// checkEnv reports PERSONFLEET_* variables the binary does not read or
// whose value does not parse, and returns the environment to run it with.
func checkEnv(t *testing.T, ctx, bin, group string, b binaries, env map[string]string) map[string]string {
	t.Helper()
	known := b.env[bin]
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v := env[k]
		if !strings.HasPrefix(k, "PERSONFLEET_") {
			if strings.HasPrefix(k, "OTEL_") && !slices.Contains(otelVars, k) {
				t.Errorf("%s: %s is not a standard OpenTelemetry SDK variable", ctx, k)
			}
			out[k] = v
			continue
		}
		typ, ok := known[k]
		if !ok {
			if why, ok := assumed[group+" "+k]; ok {
				t.Logf("ASSUMED: %s sets %s, which %s does not read yet (%s)", ctx, k, bin, why)
				continue
			}
			t.Errorf("%s: %s is not a variable %s reads (see %s -h)", ctx, k, bin, bin)
			continue
		}
		if err := checkValue(typ, v); err != nil {
			t.Errorf("%s: %s=%q is not a %s: %v", ctx, k, v, typ, err)
		}
		out[k] = v
	}
	return out
}

// The OpenTelemetry SDK variables the chart may set.
var otelVars = []string{
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_RESOURCE_ATTRIBUTES",
}

// run starts a binary with the rendered environment, NATS pointed at a
// closed port and the HTTP listener on a free one. Exit code 1 with a
// connection (or credential file) error means every flag, variable and
// validation passed; 2 means the configuration was refused.
func run(t *testing.T, ctx, bin string, args []string, env map[string]string) {
	t.Helper()
	env = maps.Clone(env)
	env["PERSONFLEET_SERVER"] = "nats://127.0.0.1:1"
	if _, ok := env["PERSONFLEET_HTTP_ADDR"]; ok {
		env["PERSONFLEET_HTTP_ADDR"] = "127.0.0.1:0"
	}
	delete(env, "PERSONFLEET_NATS_URL")
	if _, ok := env["OTEL_EXPORTER_OTLP_ENDPOINT"]; ok {
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:1"
	}
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Dir(bin)}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 1 && connectFailure.MatchString(stderr.String()):
		// Configured; failed at connecting, as it should here.
	default:
		t.Errorf("%s: %s %v with the rendered environment: %v (want exit 1 at connecting)\n%s\nenv: %v",
			ctx, filepath.Base(bin), args, err, stderr.String(), cmd.Env)
	}
}

var connectFailure = regexp.MustCompile(`connect to nats://127\.0\.0\.1:1|no servers available|no such file or directory`)
