// Package natsdev runs a real nats-server in-process with JetStream on a
// directory: the embedded default for tests, `make demo` and
// `personctl dev-server`. Production points the same binaries at a NATS
// cluster by URL instead.
package natsdev

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config of an embedded server.
type Config struct {
	// Dir holds JetStream's files. Empty: a temporary directory removed by
	// Shutdown.
	Dir string
	// Host and Port to listen on; Port -1 picks a free port (the default),
	// 0 means 4222.
	Host string
	Port int
	// SyncInterval is how often JetStream fsyncs its files. nats-server's
	// default is 2 minutes: a killed process loses nothing (the OS holds
	// the writes), a power loss can lose up to this much acknowledged data.
	// SyncAlways fsyncs every write: nothing lost on power loss, far slower.
	SyncInterval time.Duration
	SyncAlways   bool
	// MaxPayload bounds a message's size (default 1 MiB, as nats-server's).
	MaxPayload int32
	// ServerName names the server (defaults to "personfleet-dev").
	ServerName string
	// Logs enables the server's own log on stderr.
	Logs bool
	// ReadyTimeout bounds the wait for the server to accept connections.
	ReadyTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = -1
	}
	if c.ServerName == "" {
		c.ServerName = "personfleet-dev"
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 10 * time.Second
	}
}

// Server is a running embedded nats-server.
type Server struct {
	ns      *server.Server
	tempDir string
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	cfg.setDefaults()
	s := &Server{}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "personfleet-nats-*")
		if err != nil {
			return nil, fmt.Errorf("natsdev: temp dir: %w", err)
		}
		dir, s.tempDir = d, d
	}
	opts := &server.Options{
		ServerName:   cfg.ServerName,
		Host:         cfg.Host,
		Port:         cfg.Port,
		JetStream:    true,
		StoreDir:     dir,
		SyncInterval: cfg.SyncInterval,
		SyncAlways:   cfg.SyncAlways,
		MaxPayload:   cfg.MaxPayload,
		NoSigs:       true,
		NoLog:        !cfg.Logs,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("natsdev: %w", err)
	}
	if cfg.Logs {
		ns.ConfigureLogger()
	}
	go ns.Start()
	if !ns.ReadyForConnections(cfg.ReadyTimeout) {
		ns.Shutdown()
		s.cleanup()
		return nil, errors.New("natsdev: server not ready in time")
	}
	s.ns = ns
	return s, nil
}

// URL is the client URL, e.g. nats://127.0.0.1:40123.
func (s *Server) URL() string { return s.ns.ClientURL() }

// StoreDir is the JetStream directory.
func (s *Server) StoreDir() string { return s.ns.JetStreamConfig().StoreDir }

// Shutdown stops the server, waits for it, and removes a temporary directory.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.cleanup()
}

func (s *Server) cleanup() {
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
	}
}
