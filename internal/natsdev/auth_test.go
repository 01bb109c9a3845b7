package natsdev_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/config"
	"github.com/personfleet/personfleet/internal/natsdev"
	"github.com/personfleet/personfleet/internal/natstest"
)

// authCase is a server requiring one authentication method, the client
// settings that must connect, and settings that must not.
type authCase struct {
	name   string
	server natsdev.Config
	good   []config.NATS
	bad    map[string]config.NATS
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// authCases builds one case per method the binaries support (their flags:
// --user/--password(-file), --token(-file), --nkey, --creds,
// --tlscert/--tlskey/--tlsca).
func authCases(t *testing.T) []authCase {
	t.Helper()
	dir := t.TempDir()
	ids := natstest.NewIdentities(t)
	nk, otherNK, jw, otherJW, pki, otherPKI := ids.NKey, ids.OtherNKey, ids.JWT, ids.OtherJWT, ids.TLS, ids.OtherTLS
	return []authCase{
		{
			name:   "user and password",
			server: natsdev.Config{Users: []natsdev.User{{Name: "fleet", Password: "pw-0f3a9c"}}},
			good: []config.NATS{
				{User: "fleet", Password: "pw-0f3a9c"},
				{User: "fleet", PasswordFile: write(t, dir, "password", "pw-0f3a9c\n")},
			},
			bad: map[string]config.NATS{
				"wrong password":      {User: "fleet", Password: "pw-wrong"},
				"wrong password file": {User: "fleet", PasswordFile: write(t, dir, "password-wrong", "pw-wrong\n")},
				"no credentials":      {},
			},
		},
		{
			name:   "token",
			server: natsdev.Config{Token: "tok-7e21b5"},
			good: []config.NATS{
				{Token: "tok-7e21b5"},
				{TokenFile: write(t, dir, "token", "tok-7e21b5\n")},
			},
			bad: map[string]config.NATS{
				"wrong token":    {Token: "tok-wrong"},
				"no credentials": {},
			},
		},
		{
			name:   "nkey",
			server: natsdev.Config{NKeys: []natsdev.NKeyUser{{PublicKey: nk.PublicKey}}},
			good:   []config.NATS{{NKeySeedFile: nk.SeedFile}},
			bad: map[string]config.NATS{
				"another key":    {NKeySeedFile: otherNK.SeedFile},
				"no credentials": {},
			},
		},
		{
			name:   "jwt creds",
			server: natsdev.Config{Operator: &jw.Operator},
			good:   []config.NATS{{Creds: jw.CredsFile}},
			bad: map[string]config.NATS{
				"another operator's user": {Creds: otherJW.CredsFile},
				"no credentials":          {},
			},
		},
		{
			name: "tls client certificate",
			server: natsdev.Config{TLS: &natsdev.TLS{
				CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CAFile: pki.CA, VerifyClients: true,
			}},
			good: []config.NATS{{TLSCert: pki.ClientCert, TLSKey: pki.ClientKey, TLSCA: pki.CA}},
			bad: map[string]config.NATS{
				"no client certificate":            {TLSCA: pki.CA},
				"client certificate of another CA": {TLSCert: otherPKI.ClientCert, TLSKey: otherPKI.ClientKey, TLSCA: pki.CA},
				"server not trusted by the client": {TLSCert: pki.ClientCert, TLSKey: pki.ClientKey, TLSCA: otherPKI.CA},
				"plain connection to a TLS server": {},
			},
		},
	}
}

// Every authentication method: the right secret connects and reaches
// JetStream; a wrong one, or none, is refused.
func TestConnectWithEveryAuthMethod(t *testing.T) {
	for _, c := range authCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.server
			cfg.Dir = t.TempDir()
			srv, err := natsdev.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown()
			for i, good := range c.good {
				good.URL = srv.URL()
				nc, err := good.Connect()
				if err != nil {
					t.Fatalf("good settings %d: %v", i, err)
				}
				js, err := jetstream.New(nc)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if _, err := js.AccountInfo(ctx); err != nil {
					t.Errorf("good settings %d: JetStream: %v", i, err)
				}
				cancel()
				nc.Close()
			}
			for name, bad := range c.bad {
				bad.URL = srv.URL()
				nc, err := bad.Connect()
				if err == nil {
					nc.Close()
					t.Errorf("%s: connected, want refused", name)
					continue
				}
				t.Logf("%s: refused: %v", name, err)
			}
		})
	}
}
