// Package statemachine is a small generic finite-state machine: states,
// commands (triggers), transitions with guards and actions, entry and exit
// hooks, and the list of transitions valid from a state.
//
// A Machine is built once (usually at package init) and is then read-only, so
// one Machine is safe for concurrent use by any number of goroutines. The
// per-call context X carries whatever the guards and actions need (the
// aggregate being decided, the command's data, a slice collecting emitted
// events); the machine itself holds no per-instance state.
//
// Firing never panics: an unknown state or a command not valid from the
// current state returns an *InvalidTransitionError (errors.Is
// ErrInvalidTransition), and a failing guard returns a *GuardError
// (errors.Is ErrGuardRejected) that wraps the guard's own error.
package statemachine

import (
	"errors"
	"fmt"
	"slices"
)

// ErrInvalidTransition is matched by every *InvalidTransitionError.
var ErrInvalidTransition = errors.New("invalid transition")

// ErrGuardRejected is matched by every *GuardError.
var ErrGuardRejected = errors.New("guard rejected transition")

// InvalidTransitionError reports a command that has no transition from the
// current state.
type InvalidTransitionError[S, C comparable] struct {
	Machine string
	From    S
	Command C
}

func (e *InvalidTransitionError[S, C]) Error() string {
	return fmt.Sprintf("%s: %v is not valid in state %v", e.Machine, e.Command, e.From)
}

// Is makes errors.Is(err, ErrInvalidTransition) true.
func (e *InvalidTransitionError[S, C]) Is(target error) bool { return target == ErrInvalidTransition }

// GuardError reports a transition whose guard refused it. Err is the guard's
// error, so callers can match the domain's own sentinels through it.
type GuardError[S, C comparable] struct {
	Machine string
	From    S
	Command C
	Err     error
}

func (e *GuardError[S, C]) Error() string {
	return fmt.Sprintf("%s: %v from %v: %v", e.Machine, e.Command, e.From, e.Err)
}

// Unwrap returns the guard's error.
func (e *GuardError[S, C]) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrGuardRejected) true.
func (e *GuardError[S, C]) Is(target error) bool { return target == ErrGuardRejected }

// Transition moves the machine from From to To when Command fires, if Guard
// (optional) returns nil. Action (optional) runs after the exit hook of From
// and before the entry hook of To; an action error aborts the transition.
type Transition[S, C comparable, X any] struct {
	From    S
	Command C
	To      S
	Guard   func(X) error
	Action  func(X) error
}

// Hooks are optional entry and exit functions of one state. They run only on
// a real change of state (From != To).
type Hooks[X any] struct {
	OnEntry func(X) error
	OnExit  func(X) error
}

// Machine is an immutable table of transitions.
type Machine[S, C comparable, X any] struct {
	name  string
	table map[S]map[C]*Transition[S, C, X]
	valid map[S][]C
	hooks map[S]Hooks[X]
}

// Definition is what New builds a Machine from.
type Definition[S, C comparable, X any] struct {
	// Name appears in errors, e.g. "lifecycle" or "onboarding".
	Name        string
	Transitions []Transition[S, C, X]
	Hooks       map[S]Hooks[X]
}

// New validates the definition and returns the machine. A (From, Command)
// pair defined twice is an error: the table must be deterministic.
func New[S, C comparable, X any](def Definition[S, C, X]) (*Machine[S, C, X], error) {
	if def.Name == "" {
		return nil, errors.New("statemachine: a machine needs a name")
	}
	m := &Machine[S, C, X]{
		name:  def.Name,
		table: make(map[S]map[C]*Transition[S, C, X]),
		valid: make(map[S][]C),
		hooks: make(map[S]Hooks[X], len(def.Hooks)),
	}
	var errs []error
	for i := range def.Transitions {
		t := def.Transitions[i]
		row := m.table[t.From]
		if row == nil {
			row = make(map[C]*Transition[S, C, X])
			m.table[t.From] = row
		}
		if _, dup := row[t.Command]; dup {
			errs = append(errs, fmt.Errorf("statemachine %s: transition %v on %v defined twice", def.Name, t.From, t.Command))
			continue
		}
		row[t.Command] = &t
		m.valid[t.From] = append(m.valid[t.From], t.Command)
	}
	for s, h := range def.Hooks {
		m.hooks[s] = h
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// MustNew is New for package-level tables that are fixed at compile time; it
// panics on a malformed definition, which a unit test catches at once.
func MustNew[S, C comparable, X any](def Definition[S, C, X]) *Machine[S, C, X] {
	m, err := New(def)
	if err != nil {
		panic(err)
	}
	return m
}

// Name returns the machine's name.
func (m *Machine[S, C, X]) Name() string { return m.name }

// Can reports whether cmd has a transition from state (guards not evaluated).
func (m *Machine[S, C, X]) Can(from S, cmd C) bool {
	_, ok := m.table[from][cmd]
	return ok
}

// Valid returns the commands that have a transition from state, in the order
// they were defined. The slice is a copy.
func (m *Machine[S, C, X]) Valid(from S) []C { return slices.Clone(m.valid[from]) }

// Target returns the state cmd leads to from state, without running anything.
func (m *Machine[S, C, X]) Target(from S, cmd C) (S, bool) {
	t, ok := m.table[from][cmd]
	if !ok {
		var zero S
		return zero, false
	}
	return t.To, true
}

// Fire runs the transition for cmd from state: guard, exit hook of from,
// action, entry hook of the target. It returns the new state, or from and an
// error; on error nothing after the failing step ran.
func (m *Machine[S, C, X]) Fire(from S, cmd C, x X) (S, error) {
	t, ok := m.table[from][cmd]
	if !ok {
		return from, &InvalidTransitionError[S, C]{Machine: m.name, From: from, Command: cmd}
	}
	if t.Guard != nil {
		if err := t.Guard(x); err != nil {
			return from, &GuardError[S, C]{Machine: m.name, From: from, Command: cmd, Err: err}
		}
	}
	change := t.From != t.To
	if change {
		if h := m.hooks[from].OnExit; h != nil {
			if err := h(x); err != nil {
				return from, fmt.Errorf("%s: exit %v: %w", m.name, from, err)
			}
		}
	}
	if t.Action != nil {
		if err := t.Action(x); err != nil {
			return from, fmt.Errorf("%s: %v from %v: %w", m.name, cmd, from, err)
		}
	}
	if change {
		if h := m.hooks[t.To].OnEntry; h != nil {
			if err := h(x); err != nil {
				return from, fmt.Errorf("%s: enter %v: %w", m.name, t.To, err)
			}
		}
	}
	return t.To, nil
}
