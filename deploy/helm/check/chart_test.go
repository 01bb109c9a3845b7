package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	repoRoot  = "../../.."
	chartDir  = "../personfleet"
	release   = "pf"
	namespace = "fleet"
)

// The workers: binary (the container's command), durable consumer and the
// streams (by kind) of the consumers KEDA watches.
var workers = map[string]struct {
	key       string
	consumers map[string]string // consumer → stream kind
}{
	"command-worker": {"commandWorker", map[string]string{"command-worker": "COMMANDS"}},
	"policy-worker":  {"policyWorker", map[string]string{"policy-worker": "EVENTS", "timer-dispatcher": "TIMERS"}},
	"projector":      {"projector", map[string]string{"projector": "EVENTS"}},
}

// scenario is one set of values rendered and checked.
type scenario struct {
	name  string
	files []string // values files, relative to this directory
	set   []string // --set arguments
}

// scenarios: the defaults, every ci/*-values.yaml of the chart (each
// switches optional features on), and the example values of docs/deploy.md.
func scenarios(t *testing.T) []scenario {
	t.Helper()
	list := []scenario{{name: "defaults"}}
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ci values files: %v", err)
	}
	for _, f := range files {
		list = append(list, scenario{name: strings.TrimSuffix(filepath.Base(f), "-values.yaml"), files: []string{f}})
	}
	return append(list, scenario{name: "example", files: []string{"../../examples/personfleet-values.yaml"}})
}

func (s scenario) args() []string {
	var a []string
	for _, f := range s.files {
		a = append(a, "-f", f)
	}
	for _, v := range s.set {
		a = append(a, "--set", v)
	}
	return a
}

// values merges values.yaml with the scenario's files (the --set ones are
// not needed by the checks).
func (s scenario) values(t *testing.T) map[string]any {
	t.Helper()
	v := readYAML(t, filepath.Join(chartDir, "values.yaml"))
	for _, f := range s.files {
		v = merge(v, readYAML(t, f))
	}
	return v
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func merge(dst, src map[string]any) map[string]any {
	out := maps.Clone(dst)
	for k, sv := range src {
		if dm, ok := out[k].(map[string]any); ok {
			if sm, ok := sv.(map[string]any); ok {
				out[k] = merge(dm, sm)
				continue
			}
		}
		out[k] = sv
	}
	return out
}

// get walks a dotted path of the values.
func get(v map[string]any, path string) any {
	var cur any = v
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

var helmOnce struct {
	sync.Once
	cmd []string
}

// helm runs Helm v4 from tools/helm/go.mod: $HELM when set, else the
// binary `go tool -n` names in the build cache, else `go tool helm` itself.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	helmOnce.Do(func() {
		if h := os.Getenv("HELM"); h != "" {
			helmOnce.cmd = []string{h}
			return
		}
		modfile, err := filepath.Abs(filepath.Join(repoRoot, "tools", "helm", "go.mod"))
		if err != nil {
			panic(err)
		}
		helmOnce.cmd = []string{"go", "tool", "-modfile=" + modfile, "helm"}
		out, err := exec.Command("go", "tool", "-modfile="+modfile, "-n", "helm").Output()
		if p := strings.TrimSpace(string(out)); err == nil && p != "" {
			if _, err := os.Stat(p); err == nil {
				helmOnce.cmd = []string{p}
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	argv := append(slices.Clone(helmOnce.cmd[1:]), args...)
	cmd := exec.CommandContext(ctx, helmOnce.cmd[0], argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func render(t *testing.T, s scenario) []Object {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, chartDir, "--namespace", namespace}, s.args()...)...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(out)
	if err != nil {
		t.Fatalf("strict decode: %v", err)
	}
	return objs
}

// TestChart lints and renders every scenario, decodes every manifest
// strictly, checks how the manifests fit together, and runs the rendered
// commands against the real binaries.
func TestChart(t *testing.T) {
	bins := buildBinaries(t)
	for _, s := range scenarios(t) {
		t.Run(s.name, func(t *testing.T) {
			if out, err := helm(t, append([]string{"lint", "--strict", chartDir}, s.args()...)...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			objs := render(t, s)
			v := s.values(t)
			checkFleet(t, objs, v)
			checkBinaries(t, bins, objs)
		})
	}
}

func byKind[T any](objs []Object, kind string) []T {
	var out []T
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o.Value.(T))
		}
	}
	return out
}

func truthy(v any) bool { b, _ := v.(bool); return b }

// checkFleet verifies what the strict decode cannot: the workers' pods are
// hardened and probed, every reference between the manifests resolves,
// and the scaling resources point at the right consumers.
func checkFleet(t *testing.T, objs []Object, v map[string]any) {
	t.Helper()
	deps := byKind[*appsv1.Deployment](objs, "Deployment")
	services := byKind[*corev1.Service](objs, "Service")
	secrets := byKind[*corev1.Secret](objs, "Secret")
	cms := byKind[*corev1.ConfigMap](objs, "ConfigMap")
	jobs := byKind[*batchv1.Job](objs, "Job")
	pdbs := byKind[*policyv1.PodDisruptionBudget](objs, "PodDisruptionBudget")
	hpas := byKind[*autoscalingv2.HorizontalPodAutoscaler](objs, "HorizontalPodAutoscaler")
	sos := byKind[*ScaledObject](objs, "ScaledObject")
	sms := byKind[*ServiceMonitor](objs, "ServiceMonitor")

	prefix, _ := v["prefix"].(string)
	stream := func(kind string) string {
		if es, _ := v["eventsStream"].(string); kind == "EVENTS" && es != "" {
			return es
		}
		return strings.ToUpper(prefix) + "_" + kind
	}

	// Which workers are on, and which Deployment runs each.
	depOf := map[string]*appsv1.Deployment{}
	for _, d := range deps {
		c := d.Spec.Template.Spec.Containers
		if len(c) != 1 || len(c[0].Command) != 1 {
			t.Errorf("deployment %s: want one container with a command", d.Name)
			continue
		}
		bin := filepath.Base(c[0].Command[0])
		if _, ok := workers[bin]; !ok || c[0].Command[0] != "/usr/local/bin/"+bin {
			t.Errorf("deployment %s runs %q, not a worker binary under /usr/local/bin", d.Name, c[0].Command[0])
			continue
		}
		depOf[bin] = d
	}
	for name, w := range workers {
		if want := truthy(get(v, w.key+".enabled")); want != (depOf[name] != nil) {
			t.Errorf("%s.enabled=%v but deployment rendered=%v", w.key, want, depOf[name] != nil)
		}
	}

	cmByName := map[string]*corev1.ConfigMap{}
	for _, c := range cms {
		cmByName[c.Name] = c
	}
	secretNames := map[string]bool{}
	for _, s := range secrets {
		secretNames[s.Name] = true
	}
	external := map[string]bool{}
	for _, p := range []string{"nats.auth.existingSecret", "nats.tls.secretName"} {
		if s, _ := get(v, p).(string); s != "" {
			external[s] = true
		}
	}
	provisionJob := truthy(get(v, "provisioning.enabled"))

	for name, d := range depOf {
		w := workers[name]
		pod := d.Spec.Template.Spec
		c := pod.Containers[0]
		ctx := "deployment " + d.Name

		// Selector ↔ pod labels.
		sel, err := metav1LabelSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: selector %v does not match its pod labels %v", ctx, d.Spec.Selector, d.Spec.Template.Labels)
		}
		// Replicas: fixed, or left to the HPA / KEDA.
		autoscaled := truthy(get(v, w.key+".autoscaling.enabled")) || truthy(get(v, w.key+".keda.enabled"))
		if autoscaled != (d.Spec.Replicas == nil) {
			t.Errorf("%s: autoscaled=%v but spec.replicas=%v", ctx, autoscaled, d.Spec.Replicas)
		}

		// Hardening.
		ps := pod.SecurityContext
		if ps == nil || !isTrue(ps.RunAsNonRoot) || ps.RunAsUser == nil || *ps.RunAsUser != 65532 ||
			ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod security context %+v: want runAsNonRoot, uid 65532, seccomp RuntimeDefault", ctx, ps)
		}
		cs := c.SecurityContext
		if cs == nil || !isTrue(cs.ReadOnlyRootFilesystem) || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation ||
			!isTrue(cs.RunAsNonRoot) || cs.Capabilities == nil || !slices.Contains(cs.Capabilities.Drop, "ALL") || isTrue(cs.Privileged) {
			t.Errorf("%s: container security context %+v: want read-only root, no escalation, drop ALL, non-root", ctx, cs)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: the service account token is mounted; the workers never call the API", ctx)
		}

		// Probes on the named http port.
		port := findPort(c, "http")
		if port == nil {
			t.Errorf("%s: no container port named http", ctx)
		}
		for _, p := range []struct {
			probe *corev1.Probe
			path  string
		}{{c.LivenessProbe, "/healthz"}, {c.ReadinessProbe, "/readyz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
				t.Errorf("%s: want an HTTP probe on %s, port http; got %+v", ctx, p.path, p.probe)
			}
		}

		// Environment: PERSONFLEET_HTTP_ADDR serves the probed port; the
		// grace period outlasts the close timeout; provisioning is off when
		// the Job does it.
		env := resolveEnv(t, c, cmByName)
		if port != nil && env["PERSONFLEET_HTTP_ADDR"] != fmt.Sprintf(":%d", port.ContainerPort) {
			t.Errorf("%s: PERSONFLEET_HTTP_ADDR=%q, but the probed port is %d", ctx, env["PERSONFLEET_HTTP_ADDR"], port.ContainerPort)
		}
		closeTimeout, err := time.ParseDuration(env["PERSONFLEET_CLOSE_TIMEOUT"])
		if err != nil {
			t.Errorf("%s: PERSONFLEET_CLOSE_TIMEOUT: %v", ctx, err)
		} else if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= closeTimeout {
			t.Errorf("%s: terminationGracePeriodSeconds %v must exceed the close timeout %s", ctx, pod.TerminationGracePeriodSeconds, closeTimeout)
		}
		if want := fmt.Sprint(!provisionJob); env["PERSONFLEET_PROVISION"] != want {
			t.Errorf("%s: PERSONFLEET_PROVISION=%q, want %s (provisioning Job %v)", ctx, env["PERSONFLEET_PROVISION"], want, provisionJob)
		}
		if truthy(get(v, "tracing.enabled")) {
			for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"} {
				if env[k] == "" {
					t.Errorf("%s: tracing on but %s unset", ctx, k)
				}
			}
			if !strings.HasSuffix(env["OTEL_SERVICE_NAME"], name) {
				t.Errorf("%s: OTEL_SERVICE_NAME=%q does not name the worker", ctx, env["OTEL_SERVICE_NAME"])
			}
		}

		// Default affinity: prefer one replica per node.
		if get(v, w.key+".affinity") == nil || len(get(v, w.key+".affinity").(map[string]any)) == 0 {
			aa := pod.Affinity
			if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
				t.Errorf("%s: no preferred pod anti-affinity", ctx)
			} else {
				term := aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
				s, err := metav1LabelSelector(term.LabelSelector)
				if err != nil || !s.Matches(labels.Set(d.Spec.Template.Labels)) {
					t.Errorf("%s: anti-affinity selector does not select its own pods", ctx)
				}
			}
		}

		checkVolumes(t, ctx, pod, c, env, secretNames, external)

		// One Service and (when on) one PDB select exactly this worker.
		countSelecting(t, ctx, "service", d, services, func(s *corev1.Service) map[string]string { return s.Spec.Selector }, 1)
		wantPDB := 0
		if truthy(get(v, w.key+".pdb.enabled")) {
			wantPDB = 1
		}
		countSelecting(t, ctx, "pdb", d, pdbs, func(p *policyv1.PodDisruptionBudget) map[string]string { return p.Spec.Selector.MatchLabels }, wantPDB)
		for _, s := range services {
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].TargetPort.String() != "http" {
					t.Errorf("service %s: want one port targeting http", s.Name)
				}
			}
		}

		// Scaling: an HPA on CPU, or a ScaledObject on the consumers' lag — never both.
		var hpa *autoscalingv2.HorizontalPodAutoscaler
		for _, h := range hpas {
			if h.Spec.ScaleTargetRef.Name == d.Name {
				hpa = h
			}
		}
		var so *ScaledObject
		for _, s := range sos {
			if s.Spec.ScaleTargetRef != nil && s.Spec.ScaleTargetRef.Name == d.Name {
				so = s
			}
		}
		kedaOn := truthy(get(v, w.key+".keda.enabled"))
		hpaOn := truthy(get(v, w.key+".autoscaling.enabled")) && !kedaOn
		if (hpa != nil) != hpaOn || (so != nil) != kedaOn {
			t.Errorf("%s: hpa=%v scaledobject=%v, want hpa=%v keda=%v", ctx, hpa != nil, so != nil, hpaOn, kedaOn)
		}
		if hpa != nil {
			if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.APIVersion != "apps/v1" {
				t.Errorf("hpa %s: target %+v", hpa.Name, hpa.Spec.ScaleTargetRef)
			}
			if len(hpa.Spec.Metrics) == 0 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
				t.Errorf("hpa %s: want a CPU metric", hpa.Name)
			}
			if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
				t.Errorf("%s: CPU autoscaling without a CPU request", ctx)
			}
		}
		if so != nil {
			checkScaledObject(t, so, w.consumers, stream, v)
		}
	}

	// Every HPA and ScaledObject targets a rendered Deployment.
	depNames := map[string]bool{}
	for _, d := range deps {
		depNames[d.Name] = true
	}
	for _, h := range hpas {
		if !depNames[h.Spec.ScaleTargetRef.Name] {
			t.Errorf("hpa %s targets %q, not a rendered deployment", h.Name, h.Spec.ScaleTargetRef.Name)
		}
	}
	for _, s := range sos {
		if s.Spec.ScaleTargetRef == nil || !depNames[s.Spec.ScaleTargetRef.Name] {
			t.Errorf("scaledobject %s targets nothing rendered", s.Name)
		}
	}

	// The ServiceMonitor scrapes /metrics on every worker Service.
	if want := truthy(get(v, "serviceMonitor.enabled")); want != (len(sms) == 1) {
		t.Errorf("serviceMonitor.enabled=%v, %d rendered", want, len(sms))
	}
	for _, sm := range sms {
		sel, err := metav1LabelSelector(&sm.Spec.Selector)
		if err != nil {
			t.Errorf("servicemonitor %s: %v", sm.Name, err)
			continue
		}
		var n int
		for _, s := range services {
			if sel.Matches(labels.Set(s.Labels)) {
				n++
			}
		}
		if n != len(services) || n != len(depOf) {
			t.Errorf("servicemonitor %s selects %d services of %d (%d workers)", sm.Name, n, len(services), len(depOf))
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http" || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("servicemonitor %s: endpoints %+v, want port http path /metrics", sm.Name, sm.Spec.Endpoints)
		}
	}

	// The provisioning Job: a pre-install/pre-upgrade hook, deleted before
	// it is created again and once it succeeded, running personctl provision.
	if provisionJob != (len(jobs) == 1) {
		t.Errorf("provisioning.enabled=%v, %d jobs rendered", provisionJob, len(jobs))
	}
	for _, j := range jobs {
		a := j.Annotations
		if a["helm.sh/hook"] != "pre-install,pre-upgrade" || a["helm.sh/hook-delete-policy"] != "before-hook-creation,hook-succeeded" {
			t.Errorf("job %s: hook annotations %v", j.Name, a)
		}
		c := j.Spec.Template.Spec.Containers
		if len(c) != 1 || len(c[0].Command) != 1 || c[0].Command[0] != "/usr/local/bin/personctl" || len(c[0].Args) == 0 || c[0].Args[0] != "provision" {
			t.Errorf("job %s: does not run personctl provision", j.Name)
			continue
		}
		if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever && j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("job %s: restartPolicy %q", j.Name, j.Spec.Template.Spec.RestartPolicy)
		}
		wantReplicas := fmt.Sprintf("--replicas=%v", get(v, "streams.replicas"))
		if !slices.Contains(c[0].Args, wantReplicas) {
			t.Errorf("job %s: args %v lack %s", j.Name, c[0].Args, wantReplicas)
		}
		env := resolveEnv(t, c[0], nil)
		hookSecrets := map[string]bool{}
		for _, o := range objs {
			if o.Kind == "Secret" && o.Hook != "" {
				hookSecrets[o.Name] = true
				sw, _ := strconv.Atoi(o.Value.(*corev1.Secret).Annotations["helm.sh/hook-weight"])
				jw, _ := strconv.Atoi(j.Annotations["helm.sh/hook-weight"])
				if sw >= jw {
					t.Errorf("hook secret %s (weight %d) is not created before the job (weight %d)", o.Name, sw, jw)
				}
			}
		}
		// Before install only hook resources and external Secrets exist.
		checkVolumes(t, "job "+j.Name, j.Spec.Template.Spec, c[0], env, hookSecrets, external)
		if sc := j.Spec.Template.Spec.SecurityContext; sc == nil || !isTrue(sc.RunAsNonRoot) {
			t.Errorf("job %s: not run as non-root", j.Name)
		}
	}

	// One image for everything.
	images := map[string]bool{}
	for _, d := range deps {
		images[d.Spec.Template.Spec.Containers[0].Image] = true
	}
	for _, j := range jobs {
		images[j.Spec.Template.Spec.Containers[0].Image] = true
	}
	if len(images) > 1 {
		t.Errorf("containers use several images: %v", slices.Collect(maps.Keys(images)))
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func findPort(c corev1.Container, name string) *corev1.ContainerPort {
	for i := range c.Ports {
		if c.Ports[i].Name == name {
			return &c.Ports[i]
		}
	}
	return nil
}

func countSelecting[T any](t *testing.T, ctx, what string, d *appsv1.Deployment, list []T, sel func(T) map[string]string, want int) {
	t.Helper()
	n := 0
	for _, x := range list {
		s := sel(x)
		if len(s) > 0 && labels.SelectorFromSet(s).Matches(labels.Set(d.Spec.Template.Labels)) {
			n++
		}
	}
	if n != want {
		t.Errorf("%s: %d %s select its pods, want %d", ctx, n, what, want)
	}
}

// checkVolumes: every mount has its volume, every Secret volume names a
// Secret that exists when the pod starts (rendered alongside, or external
// and named in the values), and every file a PERSONFLEET_* variable names
// lies in a read-only mount of the right Secret key.
func checkVolumes(t *testing.T, ctx string, pod corev1.PodSpec, c corev1.Container, env map[string]string, rendered, external map[string]bool) {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, vol := range pod.Volumes {
		vols[vol.Name] = vol
		if vol.Secret != nil && !rendered[vol.Secret.SecretName] && !external[vol.Secret.SecretName] {
			t.Errorf("%s: volume %s uses secret %q that neither the chart renders (at that time) nor the values name", ctx, vol.Name, vol.Secret.SecretName)
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		if _, ok := vols[m.Name]; !ok {
			t.Errorf("%s: mount %s has no volume", ctx, m.Name)
		}
		mounts[m.MountPath] = m
	}
	for _, k := range []string{"PERSONFLEET_CREDS", "PERSONFLEET_NKEY", "PERSONFLEET_PASSWORD_FILE", "PERSONFLEET_TOKEN_FILE", "PERSONFLEET_TLSCERT", "PERSONFLEET_TLSKEY", "PERSONFLEET_TLSCA"} {
		p, ok := env[k]
		if !ok {
			continue
		}
		m, ok := mounts[filepath.Dir(p)]
		if !ok {
			t.Errorf("%s: %s=%s is in no mounted directory", ctx, k, p)
			continue
		}
		if !m.ReadOnly {
			t.Errorf("%s: %s is mounted writable", ctx, m.MountPath)
		}
		vol := vols[m.Name]
		if vol.Secret == nil {
			t.Errorf("%s: %s is not from a Secret", ctx, k)
			continue
		}
		if len(vol.Secret.Items) > 0 && !slices.ContainsFunc(vol.Secret.Items, func(it corev1.KeyToPath) bool { return it.Path == filepath.Base(p) }) {
			t.Errorf("%s: %s names %s, which the volume does not project", ctx, k, filepath.Base(p))
		}
	}
	if !strings.HasPrefix(ctx, "job") && !isTrue(c.SecurityContext.ReadOnlyRootFilesystem) {
		return
	}
	if _, ok := mounts["/tmp"]; !ok {
		t.Errorf("%s: read-only root without a writable /tmp", ctx)
	}
}

// checkScaledObject: one nats-jetstream trigger per consumer of the
// worker, on the right stream, with the metadata KEDA's scaler reads.
func checkScaledObject(t *testing.T, so *ScaledObject, consumers map[string]string, stream func(string) string, v map[string]any) {
	t.Helper()
	allowed := []string{"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold", "activationLagThreshold", "useHttps"}
	got := map[string]string{}
	for _, tr := range so.Spec.Triggers {
		switch tr.Type {
		case "nats-jetstream":
			for k := range tr.Metadata {
				if !slices.Contains(allowed, k) {
					t.Errorf("scaledobject %s: nats-jetstream metadata %q is not one KEDA reads", so.Name, k)
				}
			}
			for _, k := range []string{"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold"} {
				if tr.Metadata[k] == "" {
					t.Errorf("scaledobject %s: trigger %s lacks %s", so.Name, tr.Name, k)
				}
			}
			if ep := tr.Metadata["natsServerMonitoringEndpoint"]; strings.Contains(ep, "://") {
				t.Errorf("scaledobject %s: monitoring endpoint %q must be host:port", so.Name, ep)
			}
			got[tr.Metadata["consumer"]] = tr.Metadata["stream"]
		case "cpu":
			if tr.MetricType != autoscalingv2.UtilizationMetricType || tr.Metadata["value"] == "" {
				t.Errorf("scaledobject %s: cpu trigger %+v", so.Name, tr)
			}
		default:
			t.Errorf("scaledobject %s: unexpected trigger type %q", so.Name, tr.Type)
		}
	}
	want := map[string]string{}
	for consumer, kind := range consumers {
		want[consumer] = stream(kind)
	}
	if !maps.Equal(got, want) {
		t.Errorf("scaledobject %s: consumers→streams %v, want %v", so.Name, got, want)
	}
	if so.Spec.MinReplicaCount == nil || so.Spec.MaxReplicaCount == nil || *so.Spec.MinReplicaCount > *so.Spec.MaxReplicaCount {
		t.Errorf("scaledobject %s: replica bounds %v..%v", so.Name, so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount)
	}
}

// TestChartRefuses: values the chart must refuse, by the schema or by the
// template's own checks, each with a message that says what to fix.
func TestChartRefuses(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"misspelled key", []string{"--set", "commandWorker.replica=3"}, "additional properties 'replica' not allowed"},
		{"duration without unit", []string{"--set-string", "consumer.ackWait=30"}, "/consumer/ackWait"},
		{"uppercase prefix", []string{"--set", "prefix=Person"}, "/prefix"},
		{"stream replicas 2", []string{"--set", "streams.replicas=2"}, "/streams/replicas"},
		{"unknown auth mode", []string{"--set", "nats.auth.mode=jwt"}, "/nats/auth/mode"},
		{"grace period not above close timeout", []string{"--set", "terminationGracePeriodSeconds=15"}, "must be longer than closeTimeoutSeconds"},
		{"creds without a secret", []string{"--set", "nats.auth.mode=creds"}, "needs nats.auth.existingSecret or nats.auth.createSecret"},
		{"created secret without value", []string{"--set", "nats.auth.mode=token", "--set", "nats.auth.createSecret=true"}, "needs its value (nats.auth.token)"},
		{"both secrets", []string{"--set", "nats.auth.mode=token", "--set", "nats.auth.createSecret=true", "--set", "nats.auth.token=x", "--set", "nats.auth.existingSecret=y"}, "not both"},
		{"user without name", []string{"--set", "nats.auth.mode=userPassword", "--set", "nats.auth.existingSecret=s"}, "needs nats.auth.user"},
		{"tls without secret", []string{"--set", "nats.tls.enabled=true"}, "needs nats.tls.secretName"},
		{"tracing without endpoint", []string{"--set", "tracing.enabled=true"}, "needs tracing.endpoint"},
		{"hpa without cpu request", []string{"--set", "projector.autoscaling.enabled=true", "--set", "projector.resources.requests=null"}, "needs projector.resources.requests.cpu"},
		{"consumer settings the job cannot apply", []string{"--set", "consumer.ackWait=1m"}, "need provisioning.consumerFlags=true"},
		{"dlq age without the job", []string{"--set", "provisioning.enabled=false", "--set", "streams.dlqMaxAge=24h"}, "streams.dlqMaxAge is set by the provisioning Job only"},
		{"policy-worker with a command-worker setting", []string{"--set", "policyWorker.aggregateCache=5"}, "additional properties 'aggregateCache' not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := helm(t, append([]string{"template", release, chartDir}, c.args...)...)
			if err == nil {
				t.Fatalf("rendered; want a refusal containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("refused with\n%v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// TestExamples decodes the example manifests of docs/deploy.md strictly.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.k8s.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example manifests: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Decode(string(data))
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if len(objs) == 0 {
			t.Errorf("%s: no manifest", f)
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	for name, doc := range map[string]string{
		"misspelled field":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n",
		"nested misspelling":  "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{name: http, prot: 80}]\n",
		"duplicate key":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b, a: c}\n",
		"wrong apiVersion":    "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\n",
		"unknown kind":        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
		"crd misspelling":     "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: x}\nspec:\n  scaleTargetRef: {name: x}\n  maxReplicas: 3\n  triggers: []\n",
		"bad quantity":        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers: [{name: c, resources: {requests: {cpu: lots}}}]\n",
		"monitor misspelling": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec:\n  selector: {}\n  endpoints: [{port: http, intervall: 30s}]\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(doc); err == nil {
				t.Fatal("decoded; want an error")
			}
		})
	}
	if _, err := Decode("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: {a: b}\n"); err != nil {
		t.Fatalf("a valid ConfigMap: %v", err)
	}
}

func metav1LabelSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return nil, errNoSelector
	}
	return metav1.LabelSelectorAsSelector(s)
}

var errNoSelector = errors.New("no selector")
