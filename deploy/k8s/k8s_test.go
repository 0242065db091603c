package k8s_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/leadbridge/leadbridge/cmd/config"
)

// overlays are the directories under overlays/ a user applies, and what each must hold.
var overlays = map[string]struct {
	keda, sandbox, hpaEnrich, strimzi bool
	ingestReplicas                    int32
}{
	"dev":        {sandbox: true, ingestReplicas: 1},
	"production": {keda: true, ingestReplicas: 3},
	"plain-hpa":  {hpaEnrich: true, ingestReplicas: 3},
	"strimzi":    {keda: true, strimzi: true, ingestReplicas: 3},
}

func TestOverlaysAreAllTested(t *testing.T) {
	dirs, err := os.ReadDir("overlays")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, ok := overlays[d.Name()]; d.IsDir() && !ok {
			t.Errorf("overlays/%s is not checked by this test", d.Name())
		}
	}
}

// objects is one overlay built with kustomize, decoded strictly.
type objects struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	jobs        map[string]*batchv1.Job
	pdbs        map[string]*policyv1.PodDisruptionBudget
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	netpols     map[string]*networkingv1.NetworkPolicy
	scaled      map[string]map[string]any // KEDA ScaledObjects, as JSON
	topics      map[string]map[string]any // Strimzi KafkaTopics, as JSON
}

// build runs kustomize's Go API on an in-memory copy of this directory and
// decodes every object into its k8s.io/api type; an unknown field fails.
func build(t *testing.T, overlay string) objects {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/k8s/"+filepath.ToSlash(p), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/k8s/overlays/"+overlay)
	if err != nil {
		t.Fatalf("kustomize build overlays/%s: %v", overlay, err)
	}
	o := objects{deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, jobs: map[string]*batchv1.Job{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		netpols: map[string]*networkingv1.NetworkPolicy{}, scaled: map[string]map[string]any{},
		topics: map[string]map[string]any{}}
	for _, r := range resMap.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		kind, name := r.GetKind(), r.GetName()
		if ns := r.GetNamespace(); ns == "" {
			t.Errorf("%s/%s has no namespace", kind, name)
		}
		var dst any
		switch kind {
		case "Deployment":
			v := &appsv1.Deployment{}
			o.deployments[name], dst = v, v
		case "Service":
			v := &corev1.Service{}
			o.services[name], dst = v, v
		case "ConfigMap":
			v := &corev1.ConfigMap{}
			o.configMaps[name], dst = v, v
		case "Secret":
			v := &corev1.Secret{}
			o.secrets[name], dst = v, v
		case "Job":
			v := &batchv1.Job{}
			o.jobs[name], dst = v, v
		case "PodDisruptionBudget":
			v := &policyv1.PodDisruptionBudget{}
			o.pdbs[name], dst = v, v
		case "HorizontalPodAutoscaler":
			v := &autoscalingv2.HorizontalPodAutoscaler{}
			o.hpas[name], dst = v, v
		case "NetworkPolicy":
			v := &networkingv1.NetworkPolicy{}
			o.netpols[name], dst = v, v
		case "ScaledObject", "KafkaTopic":
			v := map[string]any{}
			if err := json.Unmarshal(js, &v); err != nil {
				t.Fatal(err)
			}
			map[string]map[string]map[string]any{"ScaledObject": o.scaled, "KafkaTopic": o.topics}[kind][name] = v
			continue
		default:
			t.Errorf("overlays/%s: unexpected kind %s (%s)", overlay, kind, name)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			t.Errorf("overlays/%s: %s/%s does not decode strictly into k8s.io/api: %v", overlay, kind, name, err)
		}
	}
	return o
}

func TestOverlays(t *testing.T) {
	for name, want := range overlays {
		t.Run(name, func(t *testing.T) {
			o := build(t, name)
			cfgs := loadConfigs(t, o)
			ingest := deployment(t, o, "leadbridge-ingest")
			enrich := deployment(t, o, "leadbridge-enrich")
			if _, ok := o.jobs["leadbridge-topics"]; ok == want.strimzi {
				t.Errorf("topics Job present: %v; want it unless Strimzi declares the topics", ok)
			}
			if (len(o.topics) > 0) != want.strimzi {
				t.Errorf("%d KafkaTopics, want them only in the strimzi overlay", len(o.topics))
			}
			if want.strimzi {
				checkKafkaTopics(t, o, cfgs["topics"])
			}
			if got := *ingest.Spec.Replicas; got != want.ingestReplicas {
				t.Errorf("ingest replicas %d, want %d", got, want.ingestReplicas)
			}
			if _, ok := o.deployments["leadbridge-sandbox"]; ok != want.sandbox {
				t.Errorf("sandbox present: %v, want %v (dev only)", ok, want.sandbox)
			}
			_, pdb := o.pdbs["leadbridge-ingest"]
			_, hpa := o.hpas["leadbridge-ingest"]
			if prod := name != "dev"; pdb != prod || hpa != prod {
				t.Errorf("ingest PDB %v, HPA %v: want both %v", pdb, hpa, prod)
			}
			if prod := name != "dev"; prod && *ingest.Spec.Replicas < 2 {
				t.Errorf("ingest has %d replicas, want at least 2", *ingest.Spec.Replicas)
			}
			if _, ok := o.scaled["leadbridge-enrich"]; ok != want.keda {
				t.Errorf("KEDA ScaledObject present: %v, want %v", ok, want.keda)
			}
			if _, ok := o.hpas["leadbridge-enrich"]; ok != want.hpaEnrich {
				t.Errorf("enrich HPA present: %v, want %v", ok, want.hpaEnrich)
			}
			if want.keda && want.hpaEnrich {
				t.Error("KEDA and an HPA would both scale enrich")
			}

			checkPods(t, o)
			c := cfgs["ingest"]
			checkIngest(t, o, ingest, c)
			checkEnrich(t, enrich, cfgs["enrich"])
			if want.keda {
				checkScaledObject(t, o.scaled["leadbridge-enrich"], cfgs["enrich"])
			}
			if hpa, ok := o.hpas["leadbridge-enrich"]; ok && hpa.Spec.MaxReplicas != cfgs["enrich"].Topics.Partitions {
				t.Errorf("enrich HPA maxReplicas %d, want the raw partitions %d", hpa.Spec.MaxReplicas, cfgs["enrich"].Topics.Partitions)
			}
			if want.sandbox {
				sb := deployment(t, o, "leadbridge-sandbox")
				port := containerPort(t, sb.Spec.Template.Spec.Containers[0], "http")
				if u := cfgs["enrich"].Aurora.APIURL; u != fmt.Sprintf("http://leadbridge-sandbox:%d", port) {
					t.Errorf("aurora.api_url %s is not the sandbox Service", u)
				}
				if s, ok := o.services["leadbridge-sandbox"]; !ok || s.Spec.Ports[0].Port != port {
					t.Error("no sandbox Service on its container port")
				}
			}
			checkNetworkPolicies(t, o, c)
		})
	}
}

func deployment(t *testing.T, o objects, name string) *appsv1.Deployment {
	t.Helper()
	d, ok := o.deployments[name]
	if !ok {
		t.Fatalf("no Deployment %s", name)
	}
	return d
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %s", c.Name, name)
	return 0
}

func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	var n int32
	fmt.Sscan(p, &n)
	return n
}

// podSpecs is every pod template of the overlay, by owner.
func podSpecs(o objects) map[string]corev1.PodSpec {
	m := map[string]corev1.PodSpec{}
	for n, d := range o.deployments {
		m["Deployment/"+n] = d.Spec.Template.Spec
	}
	for n, j := range o.jobs {
		m["Job/"+n] = j.Spec.Template.Spec
	}
	return m
}

// checkPods: every pod and container is locked down and has requests and a
// memory limit, and the leadbridge containers run commands the binary has.
func checkPods(t *testing.T, o objects) {
	t.Helper()
	for owner, ps := range podSpecs(o) {
		sc := ps.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil ||
			sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", owner, sc)
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("%s mounts a service account token it never uses", owner)
		}
		for _, c := range slices.Concat(ps.InitContainers, ps.Containers) {
			csc := c.SecurityContext
			if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
				csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
				csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("%s/%s: securityContext %+v: want readOnlyRootFilesystem, no privilege escalation, drop ALL", owner, c.Name, csc)
			}
			r := c.Resources
			if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() ||
				r.Limits.Memory().Cmp(*r.Requests.Memory()) < 0 {
				t.Errorf("%s/%s: resources %+v: want cpu and memory requests and a memory limit above the request", owner, c.Name, r)
			}
			if !strings.HasPrefix(c.Image, "ghcr.io/leadbridge/leadbridge:") {
				t.Errorf("%s/%s: image %s is not the leadbridge image with a tag", owner, c.Name, c.Image)
			}
			if len(c.Args) == 0 || !slices.Contains([]string{"ingest", "enrich", "topics", "sandbox"}, c.Args[0]) {
				t.Errorf("%s/%s: args %v run no leadbridge command", owner, c.Name, c.Args)
			}
			if slices.Contains(c.Args, "topics") && !slices.Contains(c.Args, "create") {
				t.Errorf("%s/%s: args %v", owner, c.Name, c.Args)
			}
			long := c.Args[0] == "ingest" || c.Args[0] == "enrich"
			if lim := goMemLimit(c); long && (lim <= 0 || lim >= r.Limits.Memory().Value()) {
				t.Errorf("%s/%s: GOMEMLIMIT %d bytes: want one below the memory limit %s", owner, c.Name, lim, r.Limits.Memory())
			}
		}
	}
}

func checkIngest(t *testing.T, o objects, d *appsv1.Deployment, c config.Config) {
	t.Helper()
	ps := d.Spec.Template.Spec
	ctr := ps.Containers[0]
	port := containerPort(t, ctr, "http")
	if want := portOf(t, c.HTTP.Addr); port != want {
		t.Errorf("ingest containerPort %d, http.addr %s", port, c.HTTP.Addr)
	}
	checkProbe(t, "ingest readiness", ctr.ReadinessProbe, "/readyz", port, ctr)
	checkProbe(t, "ingest liveness", ctr.LivenessProbe, "/healthz", port, ctr)
	drain := c.HTTP.DrainDelay
	if drain <= 0 {
		t.Error("http.drain_delay is 0: a pod would stop taking webhooks before its endpoint is gone")
	}
	pre := ctr.Lifecycle
	if pre == nil || pre.PreStop == nil || pre.PreStop.Sleep == nil || time.Duration(pre.PreStop.Sleep.Seconds)*time.Second != drain {
		t.Errorf("ingest preStop %+v: want a sleep of http.drain_delay (%s)", pre, drain)
	}
	grace := time.Duration(*ps.TerminationGracePeriodSeconds) * time.Second
	if min := 2*drain + c.HTTP.AckTimeout; grace <= min {
		t.Errorf("terminationGracePeriodSeconds %s: want more than preStop + http.drain_delay + http.ack_timeout = %s", grace, min)
	}
	if s, ok := o.services["leadbridge-ingest"]; !ok || s.Spec.Ports[0].TargetPort.String() != "http" {
		t.Error("no ingest Service targeting the http port")
	}
}

func checkEnrich(t *testing.T, d *appsv1.Deployment, c config.Config) {
	t.Helper()
	ps := d.Spec.Template.Spec
	ctr := ps.Containers[0]
	port := containerPort(t, ctr, "admin")
	if want := portOf(t, c.Enrich.HTTPAddr); port != want {
		t.Errorf("enrich containerPort %d, enrich.http_addr %s", port, c.Enrich.HTTPAddr)
	}
	checkProbe(t, "enrich readiness", ctr.ReadinessProbe, "/readyz", port, ctr)
	checkProbe(t, "enrich liveness", ctr.LivenessProbe, "/healthz", port, ctr)
	// The loader fills enrich.shutdown_grace with enrich's default when the
	// file names none, so this holds for the default and a configured value.
	grace := time.Duration(*ps.TerminationGracePeriodSeconds) * time.Second
	if shutdown := c.Enrich.ShutdownGrace; shutdown <= 0 || grace <= shutdown+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s: want more than enrich.shutdown_grace (%s) + 5s", grace, shutdown)
	}
}

func checkProbe(t *testing.T, what string, p *corev1.Probe, path string, port int32, c corev1.Container) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: no HTTP probe", what)
		return
	}
	got := p.HTTPGet.Port.IntVal
	if p.HTTPGet.Port.StrVal != "" {
		got = containerPort(t, c, p.HTTPGet.Port.StrVal)
	}
	if p.HTTPGet.Path != path || got != port {
		t.Errorf("%s probes %s on %d, want %s on %d", what, p.HTTPGet.Path, got, path, port)
	}
}

// runtimeEnv are the variables the Go runtime reads, not leadbridge's loader.
var runtimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOGC": true}

// goMemLimit is the container's GOMEMLIMIT in bytes (0: unset, -1: unparsable),
// read as the Go runtime reads it: a number with an optional B, KiB, MiB or GiB.
func goMemLimit(c corev1.Container) int64 {
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		v, mul := e.Value, int64(1)
		for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
			if n, ok := strings.CutSuffix(v, suffix); ok {
				v, mul = n, m
			}
		}
		v = strings.TrimSuffix(v, "B")
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			return -1
		}
		return n * mul
	}
	return 0
}
