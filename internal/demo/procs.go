package demo

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

// proc is one worker process of the demo fleet.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startProc starts a binary with PERSONFLEET_* environment settings; its
// output goes to <dir>/<name>.log.
func startProc(binDir, binary, name, dir string, env map[string]string) (*proc, error) {
	path := filepath.Join(binDir, binary)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("worker binary %s: %w (run `make build`, or pass --bin-dir)", path, err)
	}
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() {
		p.done <- cmd.Wait()
		_ = f.Close()
	}()
	return p, nil
}

// stop sends SIGTERM and waits for a graceful exit; after timeout it kills.
func (p *proc) stop(timeout time.Duration) error {
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

// exited reports a process that stopped on its own.
func (p *proc) exited() error {
	select {
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("%s exited early: %w (log: %s)", p.name, err, p.log)
	default:
		return nil
	}
}

// stopAll stops every process, in parallel, and joins the errors.
func stopAll(ctx context.Context, procs []*proc, timeout time.Duration) error {
	errs := make(chan error, len(procs))
	for _, p := range procs {
		go func() { errs <- p.stop(timeout) }()
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
