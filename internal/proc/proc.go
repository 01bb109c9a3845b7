// Package proc runs the fleet's binaries as child processes (the demo, the
// end-to-end and crash tests): start with PERSONFLEET_* settings and a log
// file, stop with SIGTERM and a deadline, or kill.
package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Proc is one child process.
type Proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan error
}

// Start starts binDir/binary with extra environment settings and args; its
// output goes to <dir>/<name>.log.
func Start(binDir, binary, name, dir string, env map[string]string, args ...string) (*Proc, error) {
	path := filepath.Join(binDir, binary)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("worker binary %s: %w (run `make build`, or pass --bin-dir)", path, err)
	}
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() {
		p.done <- cmd.Wait()
		_ = f.Close()
	}()
	return p, nil
}

// Stop sends SIGTERM and waits for a graceful exit; after timeout it kills.
func (p *Proc) Stop(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("%s exited with %w (log: %s)", p.name, err, p.log)
		}
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		werr := <-p.done
		return fmt.Errorf("%s did not stop within %s: killed (%w) (log: %s)", p.name, timeout, werr, p.log)
	}
}

// Exited reports a process that stopped on its own.
func (p *Proc) Exited() error {
	select {
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("%s exited early: %w (log: %s)", p.name, err, p.log)
	default:
		return nil
	}
}

// StopAll stops every process, in parallel, and joins the errors.
func StopAll(ctx context.Context, procs []*Proc, timeout time.Duration) error {
	errs := make(chan error, len(procs))
	for _, p := range procs {
		go func() { errs <- p.Stop(timeout) }()
	}
	var all []error
	for range procs {
		select {
		case err := <-errs:
			all = append(all, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(all...)
}

// Kill ends the process at once (SIGKILL) and waits for it.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
}

// Name is the process's name; Log its log file.
func (p *Proc) Name() string { return p.name }

// Log is the path of the process's log file.
func (p *Proc) Log() string { return p.log }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }
