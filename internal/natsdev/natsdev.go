// Package natsdev runs a real nats-server in-process with JetStream on a
// directory: the embedded default for tests, `make demo` and
// `personctl dev-server`. Production points the same binaries at a NATS
// cluster by URL instead.
//
// The server can require every kind of client authentication users run
// (user/password, token, NKey, JWT with an operator and a memory resolver,
// TLS with client certificates) and per-user permissions, or read a whole
// nats-server configuration file, so tests exercise the fleet's real
// connection paths.
package natsdev

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/jwt/v2"
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

	// ConfigFile, when set, is a nats-server configuration file read first
	// (authorization, accounts, permissions, limits, …). The fields of this
	// Config are applied on top: listen address, JetStream directory and
	// sync settings, and any authentication set below.
	ConfigFile string
	// Users may connect with a name and password (and, when set, only
	// within their permissions). NKeys may be combined with Users.
	Users []User
	NKeys []NKeyUser
	// Token, when set, is the one token clients must present.
	Token string
	// Operator turns on decentralised JWT authentication: clients present
	// a user JWT signed by an account the operator trusts (a .creds file).
	Operator *Operator
	// TLS, when set, serves TLS only; VerifyClients also requires a client
	// certificate signed by CAFile.
	TLS *TLS
	// Logger, when set, receives the server's log (permission violations,
	// authentication errors, …), whatever Logs says.
	Logger server.Logger
}

// User is a user/password account of the server.
type User struct {
	Name, Password string
	// Permissions, when set, restrict the user (nil: everything).
	Permissions *Permissions
}

// NKeyUser is a user authenticated by an NKey signature.
type NKeyUser struct {
	// PublicKey is the user's public NKey ("U…").
	PublicKey   string
	Permissions *Permissions
}

// Permissions restrict what a user may publish and subscribe to. An empty
// allow list allows everything not denied.
type Permissions struct {
	Publish, DenyPublish     []string
	Subscribe, DenySubscribe []string
	// AllowResponses lets the user publish one reply to the reply subject
	// of each request it received (services).
	AllowResponses bool
}

func (p *Permissions) server() *server.Permissions {
	if p == nil {
		return nil
	}
	sp := &server.Permissions{}
	if len(p.Publish) > 0 || len(p.DenyPublish) > 0 {
		sp.Publish = &server.SubjectPermission{Allow: p.Publish, Deny: p.DenyPublish}
	}
	if len(p.Subscribe) > 0 || len(p.DenySubscribe) > 0 {
		sp.Subscribe = &server.SubjectPermission{Allow: p.Subscribe, Deny: p.DenySubscribe}
	}
	if p.AllowResponses {
		sp.Response = &server.ResponsePermission{MaxMsgs: server.DEFAULT_ALLOW_RESPONSE_MAX_MSGS, Expires: server.DEFAULT_ALLOW_RESPONSE_EXPIRATION}
	}
	return sp
}

// Operator is the trust root of JWT authentication: the operator's JWT,
// and the account JWTs the server's memory resolver is preloaded with.
// An account that uses JetStream needs JetStream limits in its JWT.
type Operator struct {
	JWT      string
	Accounts []string
	// SystemAccount is the public key of the system account (optional:
	// its JWT must then be among Accounts).
	SystemAccount string
}

// TLS is the server's certificate and the CA it verifies clients with.
type TLS struct {
	CertFile, KeyFile string
	CAFile            string
	// VerifyClients requires a client certificate signed by CAFile.
	VerifyClients bool
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
	opts, err := cfg.options(dir)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("natsdev: %w", err)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("natsdev: %w", err)
	}
	switch {
	case cfg.Logger != nil:
		ns.SetLogger(cfg.Logger, false, false)
	case cfg.Logs:
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

// options builds the server's options: the configuration file's (if
// any), then the Config's fields.
func (c *Config) options(dir string) (*server.Options, error) {
	opts := &server.Options{}
	if c.ConfigFile != "" {
		o, err := server.ProcessConfigFile(c.ConfigFile)
		if err != nil {
			return nil, err
		}
		opts = o
	}
	opts.ServerName = c.ServerName
	opts.Host, opts.Port = c.Host, c.Port
	opts.JetStream, opts.StoreDir = true, dir
	opts.SyncInterval, opts.SyncAlways = c.SyncInterval, c.SyncAlways
	if c.MaxPayload > 0 {
		opts.MaxPayload = c.MaxPayload
	}
	opts.NoSigs = true
	opts.NoLog = !c.Logs && c.Logger == nil
	for _, u := range c.Users {
		opts.Users = append(opts.Users, &server.User{Username: u.Name, Password: u.Password, Permissions: u.Permissions.server()})
	}
	for _, u := range c.NKeys {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: u.PublicKey, Permissions: u.Permissions.server()})
	}
	if c.Token != "" {
		opts.Authorization = c.Token
	}
	if op := c.Operator; op != nil {
		claims, err := jwt.DecodeOperatorClaims(op.JWT)
		if err != nil {
			return nil, fmt.Errorf("operator JWT: %w", err)
		}
		resolver := &server.MemAccResolver{}
		for _, a := range op.Accounts {
			ac, err := jwt.DecodeAccountClaims(a)
			if err != nil {
				return nil, fmt.Errorf("account JWT: %w", err)
			}
			if err := resolver.Store(ac.Subject, a); err != nil {
				return nil, err
			}
		}
		opts.TrustedOperators = append(opts.TrustedOperators, claims)
		opts.AccountResolver = resolver
		opts.SystemAccount = op.SystemAccount
		if op.SystemAccount == "" {
			opts.NoSystemAccount = true
		}
	}
	if t := c.TLS; t != nil {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: t.CertFile, KeyFile: t.KeyFile, CaFile: t.CAFile, Verify: t.VerifyClients})
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSVerify, opts.TLSTimeout = tc, true, t.VerifyClients, 2
	}
	return opts, nil
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
