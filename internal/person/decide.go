package person

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/personfleet/personfleet/internal/statemachine"
)

// Env is what a decision may consult besides the person itself.
type Env struct {
	// Now is the decision's time (the command's receipt), used for rules
	// about dates such as "no death in the future".
	Now time.Time
	// PersonExists answers whether another person exists; merge_persons
	// needs it. A nil PersonExists makes every merge fail as target unknown.
	PersonExists func(ID) (bool, error)
}

// decision is the context one Decide threads through the state machines.
type decision struct {
	person *Person
	cmd    Command
	env    Env
	out    []Payload
}

func (d *decision) emit(ps ...Payload) { d.out = append(d.out, ps...) }

// Decide validates cmd and checks it against the person's state. It returns
// the payloads of the events the command causes (in order), or an error:
// a *Error (errors.Is a sentinel of this package) for any rejection, or an
// error from env.PersonExists. Decide never changes p; cmd's fields are
// normalised in place.
func (p *Person) Decide(cmd Command, env Env) ([]Payload, error) {
	if cmd == nil || isNilPointer(cmd) {
		return nil, fmt.Errorf("%w: nil command", ErrInvalidCommand)
	}
	if err := cmd.validate(); err != nil {
		return nil, err
	}
	d := &decision{person: p, cmd: cmd, env: env}
	if _, err := lifecycle.Fire(p.lifecycle, cmd.CommandType(), d); err != nil {
		return nil, lifecycleRejection(p, cmd.CommandType(), err)
	}
	if len(d.out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNothingToChange, cmd.CommandType())
	}
	if err := p.checkLimits(cmd, d.out); err != nil {
		return nil, err
	}
	return d.out, nil
}

// isNilPointer catches a typed nil (a (*AddEmail)(nil) in the interface),
// which would panic in validate.
func isNilPointer(c Command) bool {
	v := reflect.ValueOf(c)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

func isInvalid(err error) bool { return errors.Is(err, statemachine.ErrInvalidTransition) }

// wrapf wraps a sentinel with details.
func wrapf(sentinel *Error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
