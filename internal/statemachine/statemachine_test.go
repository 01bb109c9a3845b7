package statemachine_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/personfleet/personfleet/internal/statemachine"
)

type (
	state string
	cmd   string
)

const (
	idle    state = "idle"
	running state = "running"
	paused  state = "paused"
	done    state = "done"
	unknown state = "unknown"

	start  cmd = "start"
	pause  cmd = "pause"
	resume cmd = "resume"
	finish cmd = "finish"
	tick   cmd = "tick"
	bogus  cmd = "bogus"
)

// ctx records what ran, and lets a case make a guard, action or hook fail.
type ctx struct {
	log      []string
	failAt   string // "guard", "action", "exit:<state>", "entry:<state>"
	guardErr error
}

var (
	errNotReady = errors.New("not ready")
	errBoom     = errors.New("boom")
)

func step(name string) func(*ctx) error {
	return func(x *ctx) error {
		x.log = append(x.log, name)
		if x.failAt == name {
			if name == "guard" && x.guardErr != nil {
				return x.guardErr
			}
			return errBoom
		}
		return nil
	}
}

func hooks(s state) statemachine.Hooks[*ctx] {
	return statemachine.Hooks[*ctx]{
		OnEntry: step("entry:" + string(s)),
		OnExit:  step("exit:" + string(s)),
	}
}

func newMachine(t testing.TB) *statemachine.Machine[state, cmd, *ctx] {
	t.Helper()
	m, err := statemachine.New(statemachine.Definition[state, cmd, *ctx]{
		Name: "test",
		Transitions: []statemachine.Transition[state, cmd, *ctx]{
			{From: idle, Command: start, To: running, Guard: step("guard"), Action: step("action")},
			{From: running, Command: pause, To: paused, Action: step("action")},
			{From: running, Command: tick, To: running, Guard: step("guard"), Action: step("action")},
			{From: running, Command: finish, To: done},
			{From: paused, Command: resume, To: running},
			{From: paused, Command: finish, To: done},
		},
		Hooks: map[state]statemachine.Hooks[*ctx]{
			idle: hooks(idle), running: hooks(running), paused: hooks(paused), done: hooks(done),
		},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func TestFire(t *testing.T) {
	m := newMachine(t)
	tests := []struct {
		name     string
		from     state
		cmd      cmd
		failAt   string
		guardErr error
		want     state
		wantLog  []string
		wantIs   []error // every one must match with errors.Is
		wantNot  []error // none may match
		invalid  bool    // *InvalidTransitionError expected
		guard    bool    // *GuardError expected
	}{
		{
			name: "valid transition runs guard, exit, action, entry in order",
			from: idle, cmd: start, want: running,
			wantLog: []string{"guard", "exit:idle", "action", "entry:running"},
		},
		{
			name: "transition without guard or action runs only the hooks",
			from: paused, cmd: resume, want: running,
			wantLog: []string{"exit:paused", "entry:running"},
		},
		{
			name: "self-loop runs guard and action but no hooks",
			from: running, cmd: tick, want: running,
			wantLog: []string{"guard", "action"},
		},
		{
			name: "command not defined from state",
			from: idle, cmd: pause, want: idle, invalid: true,
			wantIs:  []error{statemachine.ErrInvalidTransition},
			wantNot: []error{statemachine.ErrGuardRejected},
		},
		{
			name: "unknown command",
			from: running, cmd: bogus, want: running, invalid: true,
			wantIs: []error{statemachine.ErrInvalidTransition},
		},
		{
			name: "unknown state",
			from: unknown, cmd: start, want: unknown, invalid: true,
			wantIs: []error{statemachine.ErrInvalidTransition},
		},
		{
			name: "terminal state has no transitions",
			from: done, cmd: resume, want: done, invalid: true,
			wantIs: []error{statemachine.ErrInvalidTransition},
		},
		{
			name: "guard rejection wraps the guard's sentinel and runs nothing else",
			from: idle, cmd: start, failAt: "guard", guardErr: errNotReady, want: idle, guard: true,
			wantLog: []string{"guard"},
			wantIs:  []error{statemachine.ErrGuardRejected, errNotReady},
			wantNot: []error{statemachine.ErrInvalidTransition},
		},
		{
			name: "guard rejection on a self-loop",
			from: running, cmd: tick, failAt: "guard", guardErr: errNotReady, want: running, guard: true,
			wantLog: []string{"guard"},
			wantIs:  []error{statemachine.ErrGuardRejected, errNotReady},
		},
		{
			name: "exit hook error aborts before the action",
			from: idle, cmd: start, failAt: "exit:idle", want: idle,
			wantLog: []string{"guard", "exit:idle"},
			wantIs:  []error{errBoom},
			wantNot: []error{statemachine.ErrGuardRejected, statemachine.ErrInvalidTransition},
		},
		{
			name: "action error aborts before the entry hook",
			from: idle, cmd: start, failAt: "action", want: idle,
			wantLog: []string{"guard", "exit:idle", "action"},
			wantIs:  []error{errBoom},
			wantNot: []error{statemachine.ErrGuardRejected, statemachine.ErrInvalidTransition},
		},
		{
			name: "action error on a self-loop",
			from: running, cmd: tick, failAt: "action", want: running,
			wantLog: []string{"guard", "action"},
			wantIs:  []error{errBoom},
		},
		{
			name: "entry hook error keeps the old state",
			from: running, cmd: pause, failAt: "entry:paused", want: running,
			wantLog: []string{"exit:running", "action", "entry:paused"},
			wantIs:  []error{errBoom},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := &ctx{failAt: tc.failAt, guardErr: tc.guardErr}
			got, err := m.Fire(tc.from, tc.cmd, x)
			if got != tc.want {
				t.Errorf("state = %q, want %q", got, tc.want)
			}
			if !slices.Equal(x.log, tc.wantLog) {
				t.Errorf("ran %q, want %q", x.log, tc.wantLog)
			}
			wantErr := len(tc.wantIs) > 0
			if (err != nil) != wantErr {
				t.Fatalf("err = %v, want error %v", err, wantErr)
			}
			for _, target := range tc.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			for _, target := range tc.wantNot {
				if errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = true", err, target)
				}
			}
			var ite *statemachine.InvalidTransitionError[state, cmd]
			if errors.As(err, &ite) != tc.invalid {
				t.Errorf("*InvalidTransitionError: got %v, want %v", !tc.invalid, tc.invalid)
			} else if tc.invalid {
				if ite.Machine != "test" || ite.From != tc.from || ite.Command != tc.cmd {
					t.Errorf("InvalidTransitionError = %+v", *ite)
				}
				if msg := ite.Error(); !strings.Contains(msg, string(tc.cmd)) || !strings.Contains(msg, string(tc.from)) {
					t.Errorf("message %q names neither command nor state", msg)
				}
			}
			var ge *statemachine.GuardError[state, cmd]
			if errors.As(err, &ge) != tc.guard {
				t.Errorf("*GuardError: got %v, want %v", !tc.guard, tc.guard)
			} else if tc.guard {
				if ge.Machine != "test" || ge.From != tc.from || ge.Command != tc.cmd || ge.Err != tc.guardErr {
					t.Errorf("GuardError = %+v", *ge)
				}
				if !strings.Contains(ge.Error(), tc.guardErr.Error()) {
					t.Errorf("message %q lacks the guard's reason", ge.Error())
				}
			}
		})
	}
}

func TestFireNilContextWithoutFuncs(t *testing.T) {
	m := statemachine.MustNew(statemachine.Definition[int, int, any]{
		Name:        "bare",
		Transitions: []statemachine.Transition[int, int, any]{{From: 0, Command: 1, To: 2}},
	})
	if got, err := m.Fire(0, 1, nil); err != nil || got != 2 {
		t.Fatalf("Fire = %v, %v", got, err)
	}
	if got, err := m.Fire(2, 1, nil); !errors.Is(err, statemachine.ErrInvalidTransition) || got != 2 {
		t.Fatalf("Fire = %v, %v", got, err)
	}
}

func TestQueries(t *testing.T) {
	m := newMachine(t)
	if m.Name() != "test" {
		t.Errorf("Name = %q", m.Name())
	}
	tests := []struct {
		name    string
		from    state
		valid   []cmd
		targets map[cmd]state
	}{
		{"idle", idle, []cmd{start}, map[cmd]state{start: running}},
		{"running in definition order", running, []cmd{pause, tick, finish}, map[cmd]state{pause: paused, tick: running, finish: done}},
		{"paused", paused, []cmd{resume, finish}, map[cmd]state{resume: running, finish: done}},
		{"terminal", done, nil, nil},
		{"unknown state", unknown, nil, nil},
	}
	all := []cmd{start, pause, resume, finish, tick, bogus}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := m.Valid(tc.from)
			if !slices.Equal(got, tc.valid) {
				t.Errorf("Valid = %v, want %v", got, tc.valid)
			}
			for _, c := range all {
				want, ok := tc.targets[c]
				if m.Can(tc.from, c) != ok {
					t.Errorf("Can(%s) = %v, want %v", c, !ok, ok)
				}
				to, found := m.Target(tc.from, c)
				if found != ok || to != want {
					t.Errorf("Target(%s) = %q, %v; want %q, %v", c, to, found, want, ok)
				}
			}
		})
	}
	// Valid returns a copy: changing it does not change the machine.
	v := m.Valid(running)
	v[0] = bogus
	if m.Valid(running)[0] != pause {
		t.Error("Valid returned the machine's own slice")
	}
	_ = append(m.Valid(paused)[:1], bogus)
	if got := m.Valid(paused); !slices.Equal(got, []cmd{resume, finish}) {
		t.Errorf("Valid after append on a copy = %v", got)
	}
}

func TestNew(t *testing.T) {
	type T = statemachine.Transition[state, cmd, *ctx]
	tests := []struct {
		name    string
		def     statemachine.Definition[state, cmd, *ctx]
		wantErr string
	}{
		{"valid", statemachine.Definition[state, cmd, *ctx]{Name: "ok", Transitions: []T{{From: idle, Command: start, To: running}}}, ""},
		{"no transitions", statemachine.Definition[state, cmd, *ctx]{Name: "empty"}, ""},
		{"empty name", statemachine.Definition[state, cmd, *ctx]{Transitions: []T{{From: idle, Command: start, To: running}}}, "name"},
		{"duplicate pair", statemachine.Definition[state, cmd, *ctx]{Name: "dup", Transitions: []T{
			{From: idle, Command: start, To: running},
			{From: idle, Command: start, To: done},
		}}, "defined twice"},
		{"duplicate self-loop", statemachine.Definition[state, cmd, *ctx]{Name: "dup", Transitions: []T{
			{From: running, Command: tick, To: running},
			{From: running, Command: pause, To: paused},
			{From: running, Command: tick, To: running},
		}}, "defined twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := statemachine.New(tc.def)
			if tc.wantErr == "" {
				if err != nil || m == nil {
					t.Fatalf("New = %v, %v", m, err)
				}
				return
			}
			if err == nil || m != nil {
				t.Fatalf("New = %v, %v; want error", m, err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q lacks %q", err, tc.wantErr)
			}
			func() {
				defer func() {
					if recover() == nil {
						t.Error("MustNew did not panic")
					}
				}()
				statemachine.MustNew(tc.def)
			}()
		})
	}
}

func TestNewCopiesDefinition(t *testing.T) {
	def := statemachine.Definition[state, cmd, *ctx]{
		Name:        "copy",
		Transitions: []statemachine.Transition[state, cmd, *ctx]{{From: idle, Command: start, To: running}},
		Hooks:       map[state]statemachine.Hooks[*ctx]{},
	}
	m := statemachine.MustNew(def)
	def.Transitions[0].To = done
	def.Hooks[running] = statemachine.Hooks[*ctx]{OnEntry: func(*ctx) error { return errBoom }}
	if got, err := m.Fire(idle, start, &ctx{}); err != nil || got != running {
		t.Fatalf("machine changed with its definition: %v, %v", got, err)
	}
}

// TestConcurrentFire: a built machine is read-only, so any number of
// goroutines may fire it at once (run with -race).
func TestConcurrentFire(t *testing.T) {
	m := newMachine(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				x := &ctx{}
				s, err := m.Fire(idle, start, x)
				if err == nil {
					s, err = m.Fire(s, pause, x)
				}
				if err != nil || s != paused || len(x.log) != 7 {
					t.Errorf("Fire = %v, %v, ran %v", s, err, x.log)
					return
				}
				_ = m.Valid(running)
			}
		})
	}
	wg.Wait()
}

func BenchmarkFire(b *testing.B) {
	type X struct{ n int }
	m := statemachine.MustNew(statemachine.Definition[state, cmd, *X]{
		Name: "bench",
		Transitions: []statemachine.Transition[state, cmd, *X]{
			{From: idle, Command: start, To: running,
				Guard:  func(x *X) error { return nil },
				Action: func(x *X) error { x.n++; return nil }},
			{From: running, Command: tick, To: running},
		},
		Hooks: map[state]statemachine.Hooks[*X]{
			running: {OnEntry: func(x *X) error { x.n++; return nil }},
		},
	})
	x := &X{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Fire(idle, start, x); err != nil {
			b.Fatal(err)
		}
	}
}
