// Package config binds the settings every binary shares — the NATS
// connection, the subject prefix, logging — to command-line flags whose
// defaults come from PERSONFLEET_* environment variables. It is the one
// place that reads the environment.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Env looks a variable up; os.LookupEnv in the binaries, a map in tests.
type Env func(string) (string, bool)

// OSEnv reads the process environment.
func OSEnv(k string) (string, bool) { return os.LookupEnv(k) }

// Binder declares flags with defaults from the environment: the flag
// "nats-url" defaults to $PERSONFLEET_NATS_URL, and so on.
type Binder struct {
	FS  *flag.FlagSet
	Env Env
	err []error
}

// EnvName is the variable behind a flag: PERSONFLEET_ + upper snake case.
func EnvName(flagName string) string {
	return "PERSONFLEET_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (b *Binder) lookup(name string) (string, bool) {
	if b.Env == nil {
		return "", false
	}
	return b.Env(EnvName(name))
}

// String declares a string flag.
func (b *Binder) String(p *string, name, def, usage string) {
	if v, ok := b.lookup(name); ok {
		def = v
	}
	b.FS.StringVar(p, name, def, usage+" ($"+EnvName(name)+")")
}

// Int declares an int flag.
func (b *Binder) Int(p *int, name string, def int, usage string) {
	if v, ok := b.lookup(name); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.err = append(b.err, fmt.Errorf("$%s: %w", EnvName(name), err))
		} else {
			def = n
		}
	}
	b.FS.IntVar(p, name, def, usage+" ($"+EnvName(name)+")")
}

// Bool declares a bool flag.
func (b *Binder) Bool(p *bool, name string, def bool, usage string) {
	if v, ok := b.lookup(name); ok {
		x, err := strconv.ParseBool(v)
		if err != nil {
			b.err = append(b.err, fmt.Errorf("$%s: %w", EnvName(name), err))
		} else {
			def = x
		}
	}
	b.FS.BoolVar(p, name, def, usage+" ($"+EnvName(name)+")")
}

// Duration declares a duration flag.
func (b *Binder) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := b.lookup(name); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.err = append(b.err, fmt.Errorf("$%s: %w", EnvName(name), err))
		} else {
			def = d
		}
	}
	b.FS.DurationVar(p, name, def, usage+" ($"+EnvName(name)+")")
}

// Secret declares a string flag holding a secret (a password, a token):
// its value, from the flag or the environment, is never shown as the
// flag's default in -h output, nor by the flag's String method.
func (b *Binder) Secret(p *string, name, usage string) {
	if v, ok := b.lookup(name); ok {
		*p = v
	}
	b.FS.Var((*secretValue)(p), name, usage+" ($"+EnvName(name)+")")
}

// secretValue is a string flag.Value that never prints its value. Type
// makes it a pflag.Value too (personctl's cobra flags), shown as "string".
type secretValue string

func (s *secretValue) Set(v string) error { *s = secretValue(v); return nil }
func (s *secretValue) String() string     { return "" }
func (s *secretValue) Type() string       { return "string" }

// urlValue is a server list flag.Value whose String hides passwords.
type urlValue string

func (u *urlValue) Set(v string) error { *u = urlValue(v); return nil }
func (u *urlValue) String() string     { return RedactURLs(string(*u)) }
func (u *urlValue) Type() string       { return "string" }

// Float declares a float flag.
func (b *Binder) Float(p *float64, name string, def float64, usage string) {
	if v, ok := b.lookup(name); ok {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			b.err = append(b.err, fmt.Errorf("$%s: %w", EnvName(name), err))
		} else {
			def = x
		}
	}
	b.FS.Float64Var(p, name, def, usage+" ($"+EnvName(name)+")")
}

// Err reports malformed environment values.
func (b *Binder) Err() error { return errors.Join(b.err...) }

// NATS is how a binary connects. Secrets come from files or the
// environment and are never logged.
type NATS struct {
	URL          string
	Name         string
	Creds        string // JWT .creds file
	NKeySeedFile string
	User         string
	Password     string
	PasswordFile string
	Token        string
	TokenFile    string
	TLSCert      string
	TLSKey       string
	TLSCA        string
}

// Bind declares the connection flags (the `nats` CLI's names where they exist).
func (n *NATS) Bind(b *Binder) {
	url := nats.DefaultURL
	if b.Env != nil {
		if v, ok := b.Env("PERSONFLEET_NATS_URL"); ok { // the documented alias
			url = v
		}
	}
	if v, ok := b.lookup("server"); ok {
		url = v
	}
	n.URL = url
	// The default is shown redacted: a URL may carry a password.
	b.FS.Var((*urlValue)(&n.URL), "server", "NATS server URL(s), comma separated; also $PERSONFLEET_NATS_URL ($"+EnvName("server")+")")
	b.String(&n.Creds, "creds", "", "NATS JWT credentials file")
	b.String(&n.NKeySeedFile, "nkey", "", "NATS NKey seed file")
	b.String(&n.User, "user", "", "NATS user")
	b.Secret(&n.Password, "password", "NATS password (prefer --password-file)")
	b.String(&n.PasswordFile, "password-file", "", "file holding the NATS password")
	b.Secret(&n.Token, "token", "NATS token (prefer --token-file)")
	b.String(&n.TokenFile, "token-file", "", "file holding the NATS token")
	b.String(&n.TLSCert, "tlscert", "", "TLS client certificate")
	b.String(&n.TLSKey, "tlskey", "", "TLS client key")
	b.String(&n.TLSCA, "tlsca", "", "TLS CA certificate")
}

// Options turns the settings into nats.go options: reconnect forever with
// a short wait (a worker must survive a broker restart), plus auth and TLS.
func (n NATS) Options() ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name(n.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(64 << 20),
	}
	if n.Creds != "" {
		opts = append(opts, nats.UserCredentials(n.Creds))
	}
	if n.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(n.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nkey seed: %w", err)
		}
		opts = append(opts, o)
	}
	pass, err := secret(n.Password, n.PasswordFile)
	if err != nil {
		return nil, err
	}
	if n.User != "" {
		opts = append(opts, nats.UserInfo(n.User, pass))
	}
	tok, err := secret(n.Token, n.TokenFile)
	if err != nil {
		return nil, err
	}
	if tok != "" {
		opts = append(opts, nats.Token(tok))
	}
	if n.TLSCert != "" || n.TLSKey != "" {
		opts = append(opts, nats.ClientCert(n.TLSCert, n.TLSKey))
	}
	if n.TLSCA != "" {
		opts = append(opts, nats.RootCAs(n.TLSCA))
	}
	return opts, nil
}

// Connect connects with Options.
func (n NATS) Connect() (*nats.Conn, error) {
	opts, err := n.Options()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(n.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", RedactURLs(n.URL), err)
	}
	return nc, nil
}

// RedactURLs hides the password (or token) of every URL in a comma
// separated server list, for logs and errors: nats://user:secret@host
// becomes nats://user:xxxxx@host, nats://token@host nats://xxxxx@host.
func RedactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			if strings.Contains(p, "@") { // unparseable: hide everything before '@'
				parts[i] = "xxxxx" + p[strings.LastIndex(p, "@"):]
			}
			continue
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

func secret(value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Log configures log/slog.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // json or text
}

// Bind declares the logging flags.
func (l *Log) Bind(b *Binder) {
	b.String(&l.Level, "log-level", "info", "log level: debug, info, warn, error")
	b.String(&l.Format, "log-format", "json", "log format: json or text")
}

// Logger builds the logger on stderr.
func (l Log) Logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.Level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", l.Level, err)
	}
	o := &slog.HandlerOptions{Level: lvl}
	switch l.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, o)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, o)), nil
	default:
		return nil, fmt.Errorf("log format %q: use json or text", l.Format)
	}
}
