//go:build chaos

// Crash tests (`make chaos`): the real binaries as processes against
// nats-server processes, under load, while workers are killed with
// SIGKILL every few hundred milliseconds, the server is restarted, or a
// node of a three-node cluster dies. At the end the results, the event
// store, the policies, the read models and the dead-letter queue are
// checked against what was submitted. docs/reliability.md says what each
// check means and reports the figures.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/personfleet/personfleet/internal/client"
	"github.com/personfleet/personfleet/internal/contract"
	"github.com/personfleet/personfleet/internal/person"
	"github.com/personfleet/personfleet/internal/policy"
	"github.com/personfleet/personfleet/internal/proc"
	"github.com/personfleet/personfleet/internal/store"
	"github.com/personfleet/personfleet/internal/verify"
)

// chaosBinaries builds the workers and nats-server once per test binary.
var chaosBinaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "personfleet-chaos-bin-*")
	if err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"build", "-o", dir + "/", "./cmd/command-worker", "./cmd/policy-worker", "./cmd/projector"},
		{"build", "-o", dir + "/nats-server", "github.com/nats-io/nats-server/v2"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return dir, nil
})

func chaosPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ---------------------------------------------------------------------------
// nats-server processes
// ---------------------------------------------------------------------------

// natsNode is one nats-server process: same port and directory across
// restarts.
type natsNode struct {
	name        string
	port, route int
	dir, conf   string
	bin, logs   string
	starts      int
	p           *proc.Proc
}

func (n *natsNode) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// writeConf writes the node's configuration: JetStream on its directory
// (sync_interval left at nats-server's default) and, in a cluster, routes
// to every node.
func (n *natsNode) writeConf(cluster []*natsNode) error {
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %s\nlisten: 127.0.0.1:%d\n", n.name, n.port)
	fmt.Fprintf(&b, "jetstream { store_dir: %q }\n", n.dir)
	if len(cluster) > 1 {
		var routes []string
		for _, o := range cluster {
			routes = append(routes, fmt.Sprintf("%q", fmt.Sprintf("nats-route://127.0.0.1:%d", o.route)))
		}
		fmt.Fprintf(&b, "cluster { name: chaos, listen: 127.0.0.1:%d, routes: [%s] }\n", n.route, strings.Join(routes, ", "))
	}
	return os.WriteFile(n.conf, []byte(b.String()), 0o600)
}

func (n *natsNode) start() error {
	n.starts++
	p, err := proc.Start(n.bin, "nats-server", fmt.Sprintf("%s.%d", n.name, n.starts), n.logs, nil, "-c", n.conf)
	if err != nil {
		return err
	}
	n.p = p
	return nil
}

// waitJetStream waits until JetStream answers on url (in a cluster: a
// meta leader is elected).
func waitJetStream(urls string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		nc, err := nats.Connect(urls, nats.Timeout(time.Second))
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("JetStream at %s not ready in %s: %v", urls, d, last)
}

// ---------------------------------------------------------------------------
// Worker processes, killed and restarted
// ---------------------------------------------------------------------------

type slot struct {
	bin, name string
	gen       int
	p         *proc.Proc
}

type fleet struct {
	mu     sync.Mutex
	bin    string
	logs   string
	env    map[string]string
	slots  []*slot
	kills  map[string]int
	exits  map[string]int // processes that stopped on their own (the server was down)
	errors []string
}

func (f *fleet) startLocked(s *slot) error {
	s.gen++
	p, err := proc.Start(f.bin, s.bin, fmt.Sprintf("%s.%d", s.name, s.gen), f.logs, f.env)
	if err != nil {
		return err
	}
	s.p = p
	return nil
}

// killRandom kills one worker with SIGKILL and starts it again at once.
func (f *fleet) killRandom(rng *rand.Rand) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.slots[rng.IntN(len(f.slots))]
	if s.p.Exited() == nil {
		s.p.Kill()
		f.kills[s.bin]++
	}
	if err := f.startLocked(s); err != nil {
		f.errors = append(f.errors, err.Error())
	}
}

// revive restarts the workers that stopped on their own (a worker whose
// server is down at start exits; its supervisor starts it again).
func (f *fleet) revive() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.slots {
		if s.p.Exited() != nil {
			f.exits[s.bin]++
			if err := f.startLocked(s); err != nil {
				f.errors = append(f.errors, err.Error())
			}
		}
	}
}

func (f *fleet) stop() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var procs []*proc.Proc
	for _, s := range f.slots {
		procs = append(procs, s.p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	return proc.StopAll(ctx, procs, 30*time.Second)
}

func (f *fleet) tails() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, s := range f.slots {
		data, _ := os.ReadFile(s.p.Log())
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "== %s (%s)\n%s\n", s.p.Name(), s.p.Log(), strings.Join(lines, "\n"))
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Live results
// ---------------------------------------------------------------------------

// results records the final results a producer sees live on
// <prefix>.results.> (results published while the producer is
// disconnected are read from the results stream instead).
type results struct {
	mu      sync.Mutex
	finals  map[string][]contract.Result
	waiters map[string]chan contract.Result
	done    atomic.Int64 // submitted commands with at least one final result
	tracked map[string]bool
}

func (r *results) add(res contract.Result) {
	if !res.Final {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	first := len(r.finals[res.CommandID]) == 0
	r.finals[res.CommandID] = append(r.finals[res.CommandID], res)
	if first && r.tracked[res.CommandID] {
		r.done.Add(1)
	}
	if w, ok := r.waiters[res.CommandID]; ok && first {
		w <- res
		delete(r.waiters, res.CommandID)
	}
}

func (r *results) track(id string) (wait chan contract.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tracked[id] = true
	if len(r.finals[id]) > 0 {
		r.done.Add(1)
	}
	wait = make(chan contract.Result, 1)
	if fs := r.finals[id]; len(fs) > 0 {
		wait <- fs[0]
	} else {
		r.waiters[id] = wait
	}
	return wait
}

func (r *results) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.finals[id]) > 0
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

type chaosOptions struct {
	nodes          int // 1, or 3 for a cluster
	commandWorkers int
	persons        int
	attrs, skills  int // set_attribute and add_skill commands per person
	producers      int
	poison         int // commands without any id, parked on purpose
	// killWorkers kills a random worker every killEvery (jittered ±50%).
	killWorkers bool
	killEvery   time.Duration
	// serverRestarts: when this fraction of the commands is done, the
	// (single) server is stopped — SIGKILL, then SIGTERM alternately — and
	// started again on the same port and directory after serverDown.
	serverRestarts []float64
	serverDown     time.Duration
	// nodeKill: when this fraction is done, the events stream's leader
	// node is killed (SIGKILL) and started again after serverDown.
	nodeKill float64
	limit    time.Duration
}

type chaosReport struct {
	lines []string
}

func (r *chaosReport) add(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func runChaos(t *testing.T, o chaosOptions) {
	bin, err := chaosBinaries()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	deadline := began.Add(o.limit)
	base := t.TempDir()
	logs := filepath.Join(base, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	rep := &chaosReport{}

	// The servers.
	var nodes []*natsNode
	for i := range o.nodes {
		nodes = append(nodes, &natsNode{
			name: fmt.Sprintf("n%d", i+1), port: chaosPort(t), route: chaosPort(t),
			dir: filepath.Join(base, fmt.Sprintf("n%d", i+1)), conf: filepath.Join(base, fmt.Sprintf("n%d.conf", i+1)),
			bin: bin, logs: logs,
		})
	}
	var urls []string
	for _, n := range nodes {
		if err := n.writeConf(nodes); err != nil {
			t.Fatal(err)
		}
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		urls = append(urls, n.url())
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = n.p.Stop(10 * time.Second)
		}
	})
	serverURLs := strings.Join(urls, ",")
	if err := waitJetStream(serverURLs, 60*time.Second); err != nil {
		t.Fatal(err)
	}

	// The fleet.
	replicas := 1
	if o.nodes > 1 {
		replicas = 3
	}
	f := &fleet{bin: bin, logs: logs, kills: map[string]int{}, exits: map[string]int{}, env: map[string]string{
		"PERSONFLEET_SERVER": serverURLs, "PERSONFLEET_HTTP_ADDR": "", "PERSONFLEET_LOG_FORMAT": "text",
		"PERSONFLEET_LOG_LEVEL": "info", "PERSONFLEET_STREAM_REPLICAS": fmt.Sprint(replicas),
		"PERSONFLEET_ACK_WAIT": "5s", "OTEL_TRACES_EXPORTER": "none",
	}}
	for i := range o.commandWorkers {
		f.slots = append(f.slots, &slot{bin: "command-worker", name: fmt.Sprintf("command-worker-%d", i+1)})
	}
	f.slots = append(f.slots, &slot{bin: "policy-worker", name: "policy-worker"}, &slot{bin: "projector", name: "projector"})
	for _, s := range f.slots {
		if err := f.startLocked(s); err != nil {
			t.Fatal(err)
		}
	}
	// The supervisor restarts a worker that exits (as Kubernetes would):
	// one that could not reach the server at start, say.
	var chaosWG sync.WaitGroup
	stopChaos := make(chan struct{})
	chaosWG.Go(func() {
		for {
			select {
			case <-stopChaos:
				return
			case <-time.After(200 * time.Millisecond):
			}
			f.revive()
		}
	})
	stopped := false
	t.Cleanup(func() {
		select {
		case <-stopChaos:
		default:
			close(stopChaos)
		}
		chaosWG.Wait()
		if !stopped {
			_ = f.stop()
		}
		if t.Failed() {
			t.Logf("worker logs (last lines):\n%s", f.tails())
			if keep := os.Getenv("CHAOS_LOGS"); keep != "" { // the test's temp dir goes away
				dst := filepath.Join(keep, t.Name())
				if err := os.CopyFS(dst, os.DirFS(logs)); err != nil {
					t.Logf("copy logs: %v", err)
				}
				logs = dst
			}
			t.Logf("all logs in %s", logs)
		}
	})

	// The producer's connection reconnects forever and retries publishes.
	nc, err := nats.Connect(serverURLs, nats.Name("chaos-producer"), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	names := contract.DefaultNames()
	cl, err := client.New(nc, names)
	if err != nil {
		t.Fatal(err)
	}
	js := cl.JetStream()
	if err := waitBound(js, names, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nats-server node(s), %d command-workers, a policy-worker and a projector up in %s",
		o.nodes, o.commandWorkers, time.Since(began).Round(time.Millisecond))

	live := &results{finals: map[string][]contract.Result{}, waiters: map[string]chan contract.Result{}, tracked: map[string]bool{}}
	sub, err := nc.Subscribe(names.Results(), func(m *nats.Msg) {
		var r contract.Result
		if json.Unmarshal(m.Data, &r) == nil {
			live.add(r)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	// Poison on purpose: commands without any id are parked by the
	// command-worker. Published once the fleet runs, before the chaos.
	poisonSeqs := map[uint64]bool{}
	for i := range o.poison {
		m := nats.NewMsg(names.Command(person.ID(fmt.Sprintf("poison-%d", i)), person.CmdCreatePerson))
		m.Data = fmt.Appendf(nil, `{"type":"create_person","person_id":"poison-%d","data":{"name":{"given_name":"Poison"}}}`, i)
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		poisonSeqs[ack.Sequence] = true
	}

	// The chaos.
	var pausedKills atomic.Bool
	if o.killWorkers {
		chaosWG.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
			for {
				d := time.Duration(float64(o.killEvery) * (0.5 + rng.Float64()))
				select {
				case <-stopChaos:
					return
				case <-time.After(d):
				}
				if !pausedKills.Load() {
					f.killRandom(rng)
				}
			}
		})
	}

	perPerson := 2 + o.attrs + o.skills
	total := int64(o.persons * perPerson)
	var serverEvents []string
	var serverWG sync.WaitGroup
	progressAt := func(frac float64) bool {
		for float64(live.done.Load()) < frac*float64(total) {
			select {
			case <-ctx.Done():
				return false
			case <-stopChaos:
				return false
			case <-time.After(20 * time.Millisecond):
			}
		}
		return true
	}
	if o.nodes == 1 && len(o.serverRestarts) > 0 {
		serverWG.Go(func() {
			n := nodes[0]
			for i, frac := range o.serverRestarts {
				if !progressAt(frac) {
					return
				}
				how := "SIGKILL"
				down := time.Now()
				if i%2 == 0 {
					n.p.Kill()
				} else {
					how = "SIGTERM"
					_ = n.p.Stop(20 * time.Second)
				}
				time.Sleep(o.serverDown)
				if err := n.start(); err != nil {
					serverEvents = append(serverEvents, "restart failed: "+err.Error())
					return
				}
				err := waitJetStream(n.url(), 60*time.Second)
				serverEvents = append(serverEvents, fmt.Sprintf("nats-server stopped with %s at %.0f%% of the commands done, back with JetStream %s later (%v)",
					how, 100*frac, time.Since(down).Round(time.Millisecond), err))
			}
		})
	}
	if o.nodes > 1 && o.nodeKill > 0 {
		serverWG.Go(func() {
			if !progressAt(o.nodeKill) {
				return
			}
			ictx, icancel := context.WithTimeout(ctx, 10*time.Second)
			s, err := js.Stream(ictx, names.EventsStream())
			icancel()
			if err != nil || s.CachedInfo().Cluster == nil {
				serverEvents = append(serverEvents, fmt.Sprintf("events stream leader unknown: %v", err))
				return
			}
			leader := s.CachedInfo().Cluster.Leader
			for _, n := range nodes {
				if n.name != leader {
					continue
				}
				down := time.Now()
				n.p.Kill()
				time.Sleep(o.serverDown)
				if err := n.start(); err != nil {
					serverEvents = append(serverEvents, "restart failed: "+err.Error())
					return
				}
				serverEvents = append(serverEvents, fmt.Sprintf("node %s (leader of %s) killed with SIGKILL at %.0f%% of the commands done, started again %s later",
					leader, names.EventsStream(), 100*o.nodeKill, time.Since(down).Round(time.Millisecond)))
			}
		})
	}

	// The load: each producer takes persons; it creates one and waits for
	// its result, then sends the person's other commands without waiting
	// (distinct attribute keys and skill names: any order is fine).
	var (
		mu         sync.Mutex
		submitted  []contract.CommandEnvelope
		retries    atomic.Int64
		loadErrors []string
	)
	fail := func(err error) {
		mu.Lock()
		if len(loadErrors) < 20 {
			loadErrors = append(loadErrors, err.Error())
		}
		mu.Unlock()
	}
	publish := func(env contract.CommandEnvelope) error {
		data, err := json.Marshal(env)
		if err != nil {
			return err
		}
		for attempt := 0; ; attempt++ {
			m := nats.NewMsg(names.Command(env.PersonID, person.CommandType(env.Type)))
			m.Data = data
			m.Header.Set(jetstream.MsgIDHeader, env.CommandID) // the same id on every retry: the stream dedups
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := js.PublishMsg(pctx, m)
			pcancel()
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("publish %s: %w", env.CommandID, err)
			}
			retries.Add(1)
			time.Sleep(time.Duration(min(50*(attempt+1), 500)) * time.Millisecond)
		}
	}
	awaitFinal := func(env contract.CommandEnvelope, wait chan contract.Result) (contract.Result, error) {
		limit := time.Now().Add(90 * time.Second)
		for time.Now().Before(limit) {
			select {
			case r := <-wait:
				return r, nil
			case <-time.After(5 * time.Second):
			case <-ctx.Done():
				return contract.Result{}, ctx.Err()
			}
			// Published while this producer was disconnected? It is stored.
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			r, ok, err := cl.LastResult(rctx, env.CommandID)
			rcancel()
			if err == nil && ok && r.Final {
				live.add(r)
				return r, nil
			}
		}
		return contract.Result{}, fmt.Errorf("no final result for %s %s in 90 s", env.Type, env.CommandID)
	}
	run := fmt.Sprint(time.Now().UnixNano())
	next := make(chan int)
	var wg sync.WaitGroup
	loadStart := time.Now()
	for range o.producers {
		wg.Go(func() {
			for i := range next {
				id := person.ID(fmt.Sprintf("p%s-%05d", run[len(run)-6:], i))
				cmds := []person.Command{
					&person.CreatePerson{Name: person.Name{GivenName: "Chaos", FamilyName: fmt.Sprintf("Person%05d", i)}, Source: "chaos"},
					&person.AddEmail{Email: fmt.Sprintf("person%05d@chaos.personfleet.dev", i)},
				}
				for k := range o.attrs {
					cmds = append(cmds, &person.SetAttribute{Key: fmt.Sprintf("key_%d", k), Value: fmt.Sprint(i)})
				}
				for k := range o.skills {
					cmds = append(cmds, &person.AddSkill{Skill: person.Skill{Name: fmt.Sprintf("Skill %d", k)}})
				}
				for j, cmd := range cmds {
					env, err := client.NewCommand(id, cmd)
					if err != nil {
						fail(err)
						return
					}
					env.Actor = "chaos"
					wait := live.track(env.CommandID)
					if err := publish(env); err != nil {
						fail(err)
						return
					}
					mu.Lock()
					submitted = append(submitted, env)
					mu.Unlock()
					if j == 0 { // the person must exist before the rest
						r, err := awaitFinal(env, wait)
						if err != nil {
							fail(err)
							break
						}
						if r.Status != contract.StatusAccepted {
							fail(fmt.Errorf("create %s: %+v", id, r))
							break
						}
					}
				}
			}
		})
	}
	for i := range o.persons {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	published := time.Since(loadStart)
	if len(loadErrors) > 0 {
		close(stopChaos)
		t.Fatalf("load: %s", strings.Join(loadErrors, "\n"))
	}

	// Every submitted command gets a final result.
	recoverStored := func() int {
		n := 0
		for _, env := range submitted {
			if live.has(env.CommandID) {
				continue
			}
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			r, ok, err := cl.LastResult(rctx, env.CommandID)
			rcancel()
			if err == nil && ok && r.Final {
				live.add(r)
				n++
			}
		}
		return n
	}
	lastDone, stall := int64(-1), time.Now()
	for live.done.Load() < int64(len(submitted)) {
		if d := live.done.Load(); d != lastDone {
			lastDone, stall = d, time.Now()
		}
		if time.Since(stall) > 3*time.Second {
			recoverStored()
			stall = time.Now()
		}
		if ctx.Err() != nil {
			close(stopChaos)
			t.Fatalf("%d of %d commands without a final result when the time was up", int64(len(submitted))-live.done.Load(), len(submitted))
		}
		time.Sleep(50 * time.Millisecond)
	}
	processed := time.Since(loadStart)
	close(stopChaos)
	chaosWG.Wait()
	serverWG.Wait()
	f.revive()
	if len(f.errors) > 0 {
		t.Fatalf("restarting workers: %s", strings.Join(f.errors, "; "))
	}

	// Settle: every consumer idle, every welcome notification recorded.
	if err := settle(ctx, js, names, o.persons); err != nil {
		t.Fatal(err)
	}
	settled := time.Since(loadStart)
	// In a cluster, every replica catches up before the checks read.
	var clusterState string
	if o.nodes > 1 {
		clusterState = replicaState(t, js, names)
	}

	// ---- Checks ----------------------------------------------------------
	rep.add("load        %d persons, %d commands (%d per person) from %d producers; published in %.1f s (%d publish retries), all final in %.1f s, settled in %.1f s",
		o.persons, len(submitted), perPerson, o.producers, published.Seconds(), retries.Load(), processed.Seconds(), settled.Seconds())
	var kills, exits []string
	for _, k := range []string{"command-worker", "policy-worker", "projector"} {
		kills = append(kills, fmt.Sprintf("%s %d", k, f.kills[k]))
		exits = append(exits, fmt.Sprintf("%s %d", k, f.exits[k]))
	}
	totalKills := f.kills["command-worker"] + f.kills["policy-worker"] + f.kills["projector"]
	rep.add("chaos       %d workers killed with SIGKILL and restarted (%s); exited on their own and restarted (server down at start): %s",
		totalKills, strings.Join(kills, ", "), strings.Join(exits, ", "))
	for _, e := range serverEvents {
		rep.add("server      %s", e)
	}

	// 1. Results: exactly one final result per command in the results
	//    stream; every final a producer saw agrees with it.
	stored := map[string][]contract.Result{}
	for _, data := range readStream(t, js, names.ResultsStream()) {
		var r contract.Result
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("undecodable result: %v", err)
		}
		if r.Final {
			stored[r.CommandID] = append(stored[r.CommandID], r)
		}
	}
	var lost, multiple, notAccepted, storedDup, liveExtra int
	for _, env := range submitted {
		fs := stored[env.CommandID]
		switch {
		case len(fs) == 0:
			lost++
			t.Errorf("command %s (%s): no final result stored", env.CommandID, env.Type)
			continue
		case len(fs) > 1:
			multiple++
			t.Errorf("command %s: %d final results stored: %+v", env.CommandID, len(fs), fs)
		}
		if fs[0].Status != contract.StatusAccepted {
			notAccepted++
			t.Errorf("command %s (%s): %s %+v", env.CommandID, env.Type, fs[0].Status, fs[0].Error)
		}
		if fs[0].Duplicate {
			storedDup++
		}
		if n := len(live.finals[env.CommandID]); n > 1 {
			liveExtra += n - 1
		}
	}
	rep.add("results     %d commands: %d with exactly one final result stored, %d lost (no final), %d with several, %d not accepted",
		len(submitted), len(submitted)-lost-multiple, lost, multiple, notAccepted)
	rep.add("            %d answered duplicate:true (their event was appended before a crash or a lost reply), %d more finals seen live (a redelivery answered again)",
		storedDup, liveExtra)

	// 2. The event store: contiguous versions, nothing applied twice,
	//    replays cleanly, read models equal a replay (internal/verify).
	vrep, err := verify.Run(ctx, js, names, verify.Options{ReadModels: true})
	if err != nil {
		t.Fatal(err)
	}
	if !vrep.OK() {
		for _, l := range slices.Concat(vrep.Undecodable, vrep.VersionProblems, vrep.DuplicateCmds, vrep.ReplayProblems, vrep.TransitionProblems, vrep.ReadModelDiffs) {
			t.Error(l)
		}
	}
	var vr verify.Report
	hist, err := verify.Load(ctx, js, names.EventsStream(), &vr)
	if err != nil {
		t.Fatal(err)
	}
	byCause := map[string][]person.Event{}
	for _, evs := range hist {
		for _, e := range evs {
			byCause[e.CausationID] = append(byCause[e.CausationID], e)
		}
	}
	// Each command appended exactly one event. Every final result of a
	// command, stored or seen live, agrees with it: accepted; a
	// non-duplicate one names exactly that event (id and version: the
	// acknowledged event is in the stream); a duplicate one answers at a
	// version at or after it.
	var appliedTwice, missingEvents, eventsNamed, disagree int
	for _, env := range submitted {
		evs := byCause[env.CommandID]
		if len(evs) != 1 {
			appliedTwice++
			t.Errorf("command %s (%s) caused %d events, want 1", env.CommandID, env.Type, len(evs))
			continue
		}
		e := evs[0]
		named := map[string]bool{}
		for _, r := range append(slices.Clone(stored[env.CommandID]), live.finals[env.CommandID]...) {
			switch {
			case r.Status != contract.StatusAccepted:
				disagree++
				t.Errorf("command %s: final %+v", env.CommandID, r)
			case r.Duplicate:
				if r.Version < e.Version || len(r.Events) > 0 {
					disagree++
					t.Errorf("command %s: duplicate answer %+v, its event is at version %d", env.CommandID, r, e.Version)
				}
			default:
				for _, ref := range r.Events {
					if !named[ref.EventID] {
						named[ref.EventID] = true
						eventsNamed++
					}
				}
				if len(r.Events) != 1 || r.Events[0].EventID != e.ID || r.Events[0].Version != e.Version || r.Version != e.Version {
					missingEvents++
					t.Errorf("command %s: result %+v, the stream holds %s at version %d", env.CommandID, r, e.ID, e.Version)
				}
			}
		}
	}
	want := o.persons * (perPerson + 1) // + the welcome notification
	rep.add("events      %d stored for %d persons (want %d); versions contiguous, none undecodable, no command decided twice, every history replays: %s",
		vrep.Events, vrep.Persons, want, okWord(vrep.OK()))
	rep.add("            every submitted command caused exactly one event: %d do not; every event an accepted result acknowledged is in the stream at its version: %d of %d missing; finals disagreeing with the stream: %d",
		appliedTwice, missingEvents, eventsNamed, disagree)
	if vrep.Events != want || vrep.Persons != o.persons {
		t.Errorf("%d events for %d persons, want %d for %d", vrep.Events, vrep.Persons, want, o.persons)
	}

	// 3. Policies: one welcome notification per person, caused by the
	//    policy's deterministic command, whose one stored result is accepted.
	var welcomeWrong int
	for id, evs := range hist {
		var added *person.Event
		var notes []person.Event
		for i := range evs {
			switch evs[i].Type() {
			case person.EventEmailAdded:
				added = &evs[i]
			case person.EventNotificationRecorded:
				notes = append(notes, evs[i])
			}
		}
		if added == nil || len(notes) != 1 {
			welcomeWrong++
			t.Errorf("%s: %d welcome notifications, want 1", id, len(notes))
			continue
		}
		cid := policy.CommandID(added.ID, policy.WelcomeNotification, 0)
		if notes[0].CausationID != cid || len(stored[cid]) != 1 || stored[cid][0].Status != contract.StatusAccepted {
			welcomeWrong++
			t.Errorf("%s: welcome notification caused by %s (want %s), stored results %+v", id, notes[0].CausationID, cid, stored[cid])
		}
	}
	rep.add("policies    welcome notifications %d for %d persons with an email (exactly one each, one accepted result per policy command): %d wrong",
		vrep.ByType[person.EventNotificationRecorded], o.persons, welcomeWrong)
	rep.add("read models %d summaries and onboarding statuses equal a fresh replay of the events: %s", vrep.Persons, okWord(len(vrep.ReadModelDiffs) == 0))

	// 4. Dead letters: only the poison, each parked once.
	parked := map[uint64]int{}
	var unexpected []string
	for _, data := range readStream(t, js, names.DLQStream()) {
		dl, err := contract.DecodeDeadLetter(data)
		if err != nil {
			t.Fatal(err)
		}
		if dl.Worker == store.ConsumerCommandWorker && dl.Stream == names.CommandsStream() && poisonSeqs[dl.StreamSequence] && dl.Code == "missing_command_id" {
			parked[dl.StreamSequence]++
			continue
		}
		unexpected = append(unexpected, fmt.Sprintf("%s %s seq %d: %s", dl.Worker, dl.Subject, dl.StreamSequence, dl.Error))
	}
	twice := 0
	for _, n := range parked {
		if n > 1 {
			twice++
		}
	}
	rep.add("DLQ         %d poison messages published, %d parked (%d of them more than once); %d unexpected dead letters",
		len(poisonSeqs), len(parked), twice, len(unexpected))
	if len(parked) != len(poisonSeqs) || twice > 0 || len(unexpected) > 0 {
		t.Errorf("dead letters: %d of %d poison parked, %d twice; unexpected: %s", len(parked), len(poisonSeqs), twice, strings.Join(unexpected, "; "))
	}
	if o.nodes > 1 {
		rep.add("cluster     %s", clusterState)
	}
	rep.add("verdict     commands %d, kills %d, server restarts %d, lost %d, applied twice %d, duplicates found %d",
		len(submitted), totalKills, len(serverEvents), lost+missingEvents, appliedTwice, len(vrep.DuplicateCmds))

	stopStart := time.Now()
	stopped = true
	if err := f.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	rep.add("shutdown    every worker stopped on SIGTERM in %s; total %.1f s", time.Since(stopStart).Round(time.Millisecond), time.Since(began).Seconds())
	t.Logf("\n%s", strings.Join(rep.lines, "\n"))
	if out := os.Getenv("CHAOS_REPORT"); out != "" {
		fh, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(fh, "== %s (%s)\n%s\n", t.Name(), time.Now().Format(time.RFC3339), strings.Join(rep.lines, "\n"))
			_ = fh.Close()
		}
	}
}

func okWord(ok bool) string {
	if ok {
		return "OK"
	}
	return "FAILED"
}

// consumers of the fleet, by stream.
func fleetConsumers(names contract.Names) map[string]string {
	return map[string]string{
		store.ConsumerCommandWorker: names.CommandsStream(), store.ConsumerPolicyWorker: names.EventsStream(),
		store.ConsumerProjector: names.EventsStream(), store.ConsumerTimers: names.TimersStream(),
	}
}

func waitBound(js jetstream.JetStream, names contract.Names, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		bound := 0
		for c, s := range fleetConsumers(names) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if pc, err := js.PushConsumer(ctx, s, c); err == nil {
				if info, err := pc.Info(ctx); err == nil && info.PushBound {
					bound++
				}
			}
			cancel()
		}
		if bound == 4 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("workers did not attach to their consumers")
}

// settle waits until no consumer has work left and every person has its
// welcome notification.
func settle(ctx context.Context, js jetstream.JetStream, names contract.Names, persons int) error {
	quiet := 0
	var last string
	for ctx.Err() == nil {
		// A JetStream API request lost while a node restarts is never
		// answered: every round has its own deadline.
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		busy := ""
		for c, s := range fleetConsumers(names) {
			pc, err := js.PushConsumer(ctx, s, c)
			if err != nil {
				busy += err.Error()
				continue
			}
			info, err := pc.Info(ctx)
			if err != nil {
				busy += err.Error()
				continue
			}
			if info.NumPending > 0 || info.NumAckPending > 0 {
				busy += fmt.Sprintf("%s: %d pending, %d unacked; ", c, info.NumPending, info.NumAckPending)
			}
		}
		st, err := js.Stream(ctx, names.EventsStream())
		if err == nil {
			info, err := st.Info(ctx, jetstream.WithSubjectFilter(names.Prefix()+".events.*."+string(person.EventNotificationRecorded)))
			if err == nil && len(info.State.Subjects) < persons {
				busy += fmt.Sprintf("%d of %d welcome notifications; ", len(info.State.Subjects), persons)
			}
		}
		cancel()
		if busy == "" {
			if quiet++; quiet >= 3 {
				return nil
			}
		} else {
			quiet, last = 0, busy
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the fleet did not settle: %s", last)
}

// readStream returns the data of every message of a stream.
func readStream(t *testing.T, js jetstream.JetStream, stream string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	total := s.CachedInfo().State.Msgs
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for uint64(len(out)) < total {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, m.Data())
			n++
		}
		if n == 0 {
			t.Fatalf("%s: %d of %d messages read", stream, len(out), total)
		}
	}
	return out
}

// replicaState describes the replicas of every stream: each must be
// current (the restarted node caught up).
func replicaState(t *testing.T, js jetstream.JetStream, names contract.Names) string {
	t.Helper()
	streams := []string{names.CommandsStream(), names.EventsStream(), names.ResultsStream(), names.DLQStream(), names.TimersStream(),
		"KV_" + names.SummaryBucket(), "KV_" + names.OnboardingBucket()}
	var parts []string
	deadline := time.Now().Add(30 * time.Second)
	for _, name := range streams {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s, err := js.Stream(ctx, name)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			ci := s.CachedInfo().Cluster
			current := 1
			var lag uint64
			for _, r := range ci.Replicas {
				if r.Current {
					current++
				}
				lag += r.Lag
			}
			if current == 3 && lag == 0 {
				parts = append(parts, fmt.Sprintf("%s leader %s", name, ci.Leader))
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: %d of 3 replicas current, lag %d", name, current, lag)
				parts = append(parts, fmt.Sprintf("%s NOT CURRENT", name))
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	sort.Strings(parts)
	return "every stream at R3 with all 3 replicas current after the restart: " + strings.Join(parts, ", ")
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

// A single nats-server process; 3 command-worker replicas, a
// policy-worker and a projector as processes; 22,500 commands over 2,500
// persons while a random worker is killed with SIGKILL every ~300 ms and
// restarted, and the server is killed (SIGKILL) and later stopped
// (SIGTERM) in the middle of the run, each time started again on the same
// port and directory.
func TestChaosSingleServer(t *testing.T) {
	runChaos(t, chaosOptions{
		nodes: 1, commandWorkers: 3, persons: 2500, attrs: 4, skills: 3, producers: 32, poison: 5,
		killWorkers: true, killEvery: 300 * time.Millisecond,
		serverRestarts: []float64{0.35, 0.7}, serverDown: time.Second,
		limit: 4 * time.Minute,
	})
}

// Three nats-server processes in a cluster (routes, JetStream), every
// stream and bucket at R3; the node leading the events stream is killed
// with SIGKILL under load and started again.
func TestChaosCluster(t *testing.T) {
	runChaos(t, chaosOptions{
		nodes: 3, commandWorkers: 2, persons: 600, attrs: 2, skills: 2, producers: 16, poison: 3,
		nodeKill: 0.4, serverDown: 3 * time.Second,
		limit: 4 * time.Minute,
	})
}
