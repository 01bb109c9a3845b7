package worker_test

// Security of the fleet's connections (docs/security.md): every
// authentication method with the real workers, secrets never in logs nor
// in -h, and the least-privilege permissions of each role.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/cli"
	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/config"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/natsdev"
	"github.com/personfleet/personfleet/internal/natstest"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/projection"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/worker"
)

// syncBuffer is a log sink shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// authMethod is a server requiring one authentication method, the client
// settings that pass it, and the secret values that must never be logged.
type authMethod struct {
	name    string
	server  natsdev.Config
	client  config.NATS
	wrong   config.NATS // settings with a wrong secret
	secrets []string
}

func authMethods(t *testing.T) []authMethod {
	t.Helper()
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ids := natstest.NewIdentities(t)
	nk, otherNK, jw, otherJW, pki, otherPKI := ids.NKey, ids.OtherNKey, ids.JWT, ids.OtherJWT, ids.TLS, ids.OtherTLS
	keyPEM, err := os.ReadFile(pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	const password, token = "pw-9d41c7e0b2", "tok-5a7f03e9c1"
	return []authMethod{
		{
			name:    "user and password file",
			server:  natsdev.Config{Users: []natsdev.User{{Name: "fleet", Password: password}}},
			client:  config.NATS{User: "fleet", PasswordFile: file("password", password)},
			wrong:   config.NATS{User: "fleet", Password: "pw-WRONG-3c9e1f"},
			secrets: []string{password, "pw-WRONG-3c9e1f"},
		},
		{
			name:    "token",
			server:  natsdev.Config{Token: token},
			client:  config.NATS{Token: token},
			wrong:   config.NATS{TokenFile: file("token-wrong", "tok-WRONG-77b0d2")},
			secrets: []string{token, "tok-WRONG-77b0d2"},
		},
		{
			name:    "nkey seed",
			server:  natsdev.Config{NKeys: []natsdev.NKeyUser{{PublicKey: nk.PublicKey}}},
			client:  config.NATS{NKeySeedFile: nk.SeedFile},
			wrong:   config.NATS{NKeySeedFile: otherNK.SeedFile},
			secrets: []string{nk.Seed, otherNK.Seed},
		},
		{
			name:    "jwt creds",
			server:  natsdev.Config{Operator: &jw.Operator},
			client:  config.NATS{Creds: jw.CredsFile},
			wrong:   config.NATS{Creds: otherJW.CredsFile},
			secrets: []string{jw.UserSeed, jw.UserJWT, otherJW.UserSeed},
		},
		{
			name: "tls client certificate",
			server: natsdev.Config{TLS: &natsdev.TLS{
				CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CAFile: pki.CA, VerifyClients: true,
			}},
			client:  config.NATS{TLSCert: pki.ClientCert, TLSKey: pki.ClientKey, TLSCA: pki.CA},
			wrong:   config.NATS{TLSCert: otherPKI.ClientCert, TLSKey: otherPKI.ClientKey, TLSCA: pki.CA},
			secrets: []string{pemBody(keyPEM)},
		},
	}
}

// pemBody is the base64 body of a PEM block (what would leak).
func pemBody(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[1:len(lines)-1], "")
}

// runWorker runs worker.Run until the returned stop is called.
func runWorker(t *testing.T, cfg worker.Config, log *slog.Logger) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, log) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				err = errors.New("worker did not stop in 20s")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// doRetry sends a command until it is answered (the workers may still be
// attaching to their consumers).
func doRetry(t *testing.T, cl *client.Client, env contract.CommandEnvelope) contract.Result {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		r, err := cl.Do(ctx, env, nil, nil)
		cancel()
		if err == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %v", env.Type, env.PersonID, err)
		}
	}
}

// The three workers run against a server requiring each authentication
// method: a command is accepted, its policy and projection follow, and
// no secret is ever logged (debug level, every worker); a worker with a
// wrong secret fails to start, without logging it either.
func TestFleetWithEveryAuthMethod(t *testing.T) {
	for _, m := range authMethods(t) {
		t.Run(m.name, func(t *testing.T) {
			srvCfg := m.server
			srvCfg.Dir = t.TempDir()
			srv, err := natsdev.Start(srvCfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Shutdown)
			logs := &syncBuffer{}
			log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var stops []func() error
			for _, kind := range []worker.Kind{worker.CommandWorker, worker.PolicyWorker, worker.Projector} {
				cfg := testConfig(kind, srv.URL())
				cfg.NATS = m.client
				cfg.NATS.URL = srv.URL()
				stops = append(stops, runWorker(t, cfg, log))
			}
			cc := m.client
			cc.URL = srv.URL()
			nc, err := cc.Connect()
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			cl, err := client.New(nc, names)
			if err != nil {
				t.Fatal(err)
			}
			id := person.ID("authed")
			for _, cmd := range []person.Command{
				&person.CreatePerson{Name: person.Name{GivenName: "Ada", FamilyName: "Lovelace"}},
				&person.AddEmail{Email: "ada@lovelace.dev"},
			} {
				if r := doRetry(t, cl, command(t, id, cmd)); r.Status != contract.StatusAccepted {
					t.Fatalf("%s: %+v", cmd.CommandType(), r)
				}
			}
			// The welcome policy's command and both projections happened.
			eventually(t, "projection of the welcome notification", 15*time.Second, func() (bool, string) {
				var s projection.Summary
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				err := cl.Query(ctx, "get", worker.PersonQuery{PersonID: id}, &s)
				return err == nil && s.Version == 3, fmt.Sprintf("%+v %v", s, err)
			})
			for _, stop := range stops {
				if err := stop(); err != nil {
					t.Errorf("worker stopped with %v", err)
				}
			}

			// A wrong secret: the worker does not start.
			cfg := testConfig(worker.CommandWorker, srv.URL())
			cfg.NATS = m.wrong
			cfg.NATS.URL = srv.URL()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			err = worker.Run(ctx, cfg, log)
			if err == nil {
				t.Fatal("a worker with a wrong secret ran")
			}
			log.Error("worker failed", "error", err) // as worker.Main logs it
			out := logs.String()
			if !strings.Contains(out, "worker running") {
				t.Fatalf("the logs were not captured:\n%s", out)
			}
			for _, s := range m.secrets {
				if strings.Contains(out, s) {
					t.Errorf("secret %q… appears in the logs", s[:8])
				}
			}
			t.Logf("wrong secret: %v; %d bytes of logs, no secret in them", err, len(out))
		})
	}
}

// -h of every binary prints no secret, wherever it comes from.
func TestSecretsNeverInHelp(t *testing.T) {
	const password, token, urlPassword = "pw-env-4b8e2a", "tok-env-1f9c7d", "pw-url-e3a7"
	env := map[string]string{
		"PERSONFLEET_PASSWORD": password,
		"PERSONFLEET_TOKEN":    token,
		"PERSONFLEET_SERVER":   "nats://fleet:" + urlPassword + "@127.0.0.1:4222",
	}
	check := func(t *testing.T, what, out string) {
		t.Helper()
		if !strings.Contains(out, "-password") || !strings.Contains(out, "-token") {
			t.Fatalf("%s: no usage printed:\n%s", what, out)
		}
		for _, s := range []string{password, token, urlPassword} {
			if strings.Contains(out, s) {
				t.Errorf("%s -h prints the secret %q", what, s)
			}
		}
		if !strings.Contains(out, "nats://fleet:xxxxx@127.0.0.1:4222") {
			t.Errorf("%s -h does not show the server URL redacted", what)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	for _, kind := range []worker.Kind{worker.CommandWorker, worker.PolicyWorker, worker.Projector} {
		out := captureStderr(t, func() {
			if code := worker.Main(kind, []string{"-h"}); code != 0 {
				t.Errorf("%s -h: exit %d", kind, code)
			}
		})
		check(t, string(kind), out)
	}
	var stdout, stderr bytes.Buffer
	cli.Run(context.Background(), []string{"-h"}, &stdout, &stderr, config.OSEnv)
	check(t, "personctl", stdout.String()+stderr.String())
}

// captureStderr runs fn with os.Stderr redirected and returns what it wrote.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&out, r); close(done) }()
	defer func() {
		os.Stderr = saved
		_ = w.Close()
		<-done
	}()
	fn()
	os.Stderr = saved
	_ = w.Close()
	<-done
	return out.String()
}

// serverLog records a nats-server's log lines.
type serverLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *serverLog) add(level, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, v...))
}
func (l *serverLog) Noticef(format string, v ...any) { l.add("INF", format, v...) }
func (l *serverLog) Warnf(format string, v ...any)   { l.add("WRN", format, v...) }
func (l *serverLog) Fatalf(format string, v ...any)  { l.add("FTL", format, v...) }
func (l *serverLog) Errorf(format string, v ...any)  { l.add("ERR", format, v...) }
func (l *serverLog) Debugf(format string, v ...any)  { l.add("DBG", format, v...) }
func (l *serverLog) Tracef(format string, v ...any)  { l.add("TRC", format, v...) }

// matching returns the lines that match re.
func (l *serverLog) matching(re *regexp.Regexp) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if re.MatchString(s) {
			out = append(out, s)
		}
	}
	return out
}

var violation = regexp.MustCompile(`Violation`)

// leastPrivilegeConf extracts the nats-server configuration documented in
// docs/security.md.
func leastPrivilegeConf(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- BEGIN least-privilege.conf -->")
	block, _, ok2 := strings.Cut(rest, "<!-- END least-privilege.conf -->")
	if !ok || !ok2 {
		t.Fatal("docs/security.md: no least-privilege.conf block")
	}
	block = strings.TrimSpace(block)
	block = strings.TrimPrefix(block, "```")
	block = strings.TrimSuffix(block, "```")
	return block
}

// The permissions documented in docs/security.md are enough for the whole
// fleet — commands, policies, a durable timer, projections, every query,
// dead letters of every worker — without a single permission violation,
// and they stop a projector, a policy-worker or a producer from appending
// to the event store, and a producer from deleting or purging a stream.
func TestLeastPrivilege(t *testing.T) {
	pw := map[string]string{}
	for _, role := range []string{"PROVISIONER", "COMMAND_WORKER", "POLICY_WORKER", "PROJECTOR", "PRODUCER"} {
		pw[role] = "pw-" + strings.ToLower(role) + "-8c1e"
		t.Setenv(role+"_PASSWORD", pw[role])
	}
	conf := filepath.Join(t.TempDir(), "least-privilege.conf")
	if err := os.WriteFile(conf, []byte(leastPrivilegeConf(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	slog := &serverLog{}
	srv, err := natsdev.Start(natsdev.Config{Dir: t.TempDir(), ConfigFile: conf, Logger: slog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	as := func(user, role string) config.NATS {
		return config.NATS{URL: srv.URL(), User: user, Password: pw[role]}
	}
	connect := func(n config.NATS) (*nats.Conn, jetstream.JetStream) {
		t.Helper()
		nc, err := n.Connect()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return nc, js
	}

	// The provisioner creates everything; the workers do not provision.
	_, adminJS := connect(as("provisioner", "PROVISIONER"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.Provision(ctx, adminJS, store.Settings{}); err != nil {
		t.Fatal(err)
	}
	const inactivity = time.Second
	users := map[worker.Kind]config.NATS{
		worker.CommandWorker: as("command-worker", "COMMAND_WORKER"),
		worker.PolicyWorker:  as("policy-worker", "POLICY_WORKER"),
		worker.Projector:     as("projector", "PROJECTOR"),
	}
	var stops []func() error
	for _, kind := range []worker.Kind{worker.CommandWorker, worker.PolicyWorker, worker.Projector} {
		cfg := testConfig(kind, srv.URL())
		cfg.NATS, cfg.Provision, cfg.InactivityPeriod = users[kind], false, inactivity
		stops = append(stops, runWorker(t, cfg, slogFor(t)))
	}

	// A producer's whole journey.
	prodNC, prodJS := connect(as("producer", "PRODUCER"))
	cl, err := client.New(prodNC, names)
	if err != nil {
		t.Fatal(err)
	}
	id := person.ID("least-privilege")
	create := command(t, id, &person.CreatePerson{Name: person.Name{GivenName: "Least", FamilyName: "Privilege"}})
	summary := func() (projection.Summary, error) {
		var s projection.Summary
		qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
		defer qcancel()
		err := cl.Query(qctx, "get", worker.PersonQuery{PersonID: id}, &s)
		return s, err
	}
	for _, env := range []contract.CommandEnvelope{create, command(t, id, &person.AddEmail{Email: "least@privilege.dev"})} {
		if r := doRetry(t, cl, env); r.Status != contract.StatusAccepted {
			t.Fatalf("%s: %+v", env.Type, r)
		}
	}
	// The welcome notification (policy-worker → command-worker), projected.
	eventually(t, "welcomed and projected", 10*time.Second, func() (bool, string) {
		s, err := summary()
		return err == nil && s.Version == 3, fmt.Sprintf("%+v %v", s, err)
	})
	// Rule rejections are confirmed with the stream leader (STREAM.MSG.GET).
	for _, c := range []struct {
		cmd  person.Command
		code string
	}{
		{&person.AddEmail{Email: "least@privilege.dev"}, "component_exists"},
		{&person.MergePersons{TargetID: "nobody"}, "merge_target_not_found"},
	} {
		if r := doRetry(t, cl, command(t, id, c.cmd)); r.Status != contract.StatusRejected || r.Error == nil || r.Error.Code != c.code {
			t.Fatalf("%s: %+v, want rejected %s", c.cmd.CommandType(), r, c.code)
		}
	}
	// Deactivation arms the auto-archive timer (policy-worker); it fires
	// (timer dispatcher → command-worker), and is projected.
	if r := doRetry(t, cl, command(t, id, &person.DeactivatePerson{Reason: "gone quiet"})); r.Status != contract.StatusAccepted {
		t.Fatalf("deactivate: %+v", r)
	}
	// Resubmitted: the producer reads the stored result (direct get).
	if r, dup, err := cl.Submit(ctx, create, nil, nil); err != nil || !dup || r.Status != contract.StatusAccepted {
		t.Fatalf("resubmitted create: %+v %v %v", r, dup, err)
	}
	// Watching a command's stored results (an ordered consumer).
	if r, err := cl.Watch(ctx, create.CommandID, nil); err != nil || r.Status != contract.StatusAccepted {
		t.Fatalf("watch: %+v %v", r, err)
	}
	eventually(t, "archived by the timer and projected", 10*time.Second, func() (bool, string) {
		s, err := summary()
		return err == nil && s.Version == 5 && s.Lifecycle == string(person.LifecycleArchived),
			fmt.Sprintf("%+v %v", s, err)
	})
	var onb projection.Onboarding
	if err := cl.Query(ctx, "onboarding", worker.PersonQuery{PersonID: id}, &onb); err != nil {
		t.Fatalf("onboarding query: %v", err)
	}
	var list worker.ListReply
	if err := cl.Query(ctx, "list", worker.ListQuery{}, &list); err != nil || list.Total != 1 {
		t.Fatalf("list query: %+v %v", list, err)
	}
	if err := cl.Query(ctx, "search", worker.ListQuery{Email: "least@privilege.dev"}, &list); err != nil || list.Total != 1 {
		t.Fatalf("search query: %+v %v", list, err)
	}

	// Dead letters of every worker: a command without any id (the
	// command-worker), an event nobody can read (policy-worker, projector).
	m := nats.NewMsg(names.Command(id, person.CmdAddSkill))
	m.Data = []byte(`{"type":"add_skill","person_id":"least-privilege","data":{"name":"Go"}}`)
	if _, err := prodJS.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := adminJS.Publish(ctx, names.Event("ghost", person.EventPersonCreated), []byte(`{"schema_version":99}`)); err != nil {
		t.Fatal(err)
	}
	dlq := func() uint64 {
		s, err := adminJS.Stream(ctx, names.DLQStream())
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.Msgs
	}
	eventually(t, "three dead letters", 10*time.Second, func() (bool, string) {
		n := dlq()
		return n == 3, fmt.Sprint(n)
	})
	for _, stop := range stops {
		if err := stop(); err != nil {
			t.Errorf("worker stopped with %v", err)
		}
	}
	if v := slog.matching(violation); len(v) > 0 {
		t.Fatalf("the documented permissions are not enough:\n%s", strings.Join(v, "\n"))
	}

	// What the roles must not do.
	events := func() uint64 {
		s, err := adminJS.Stream(ctx, names.EventsStream())
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.Msgs
	}
	before := events()
	forge := names.Event(id, person.EventPersonReactivated)
	for _, who := range []struct {
		user, role string
	}{{"projector", "PROJECTOR"}, {"policy-worker", "POLICY_WORKER"}, {"producer", "PRODUCER"}} {
		_, js := connect(as(who.user, who.role))
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := js.Publish(pctx, forge, []byte(`{"forged":true}`))
		pcancel()
		if err == nil {
			t.Errorf("%s appended to the event store", who.user)
		}
	}
	pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	if err := prodJS.DeleteStream(pctx, names.EventsStream()); err == nil {
		t.Error("a producer deleted the events stream")
	}
	pcancel()
	pctx, pcancel = context.WithTimeout(ctx, 500*time.Millisecond)
	if err := prodNC.PublishRequest("$JS.API.STREAM.PURGE."+names.CommandsStream(), prodNC.NewRespInbox(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := prodJS.Stream(pctx, names.ResultsStream()); err == nil {
		t.Error("a producer read stream info it does not need")
	}
	pcancel()
	if after := events(); after != before {
		t.Errorf("the events stream went from %d to %d messages", before, after)
	}
	denied := slog.matching(regexp.MustCompile(`Publish Violation - Subject "(person\.events\.|\$JS\.API\.STREAM\.)`))
	if len(denied) != 6 {
		t.Errorf("want the server to have refused 3 appends, a stream deletion, a purge and a stream info, it logged:\n%s", strings.Join(denied, "\n"))
	}
	t.Logf("refused as expected:\n%s", strings.Join(denied, "\n"))
}

// slogFor is a debug logger on the test's log output.
func slogFor(*testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogOut(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
