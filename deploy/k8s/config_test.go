package k8s_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/topics"
)

// secretKeys are the files of the Secret leadbridge-secrets that production
// creates out of band (the command is in overlays/production/kustomization.yaml).
var secretKeys = []string{"aurora-api-token", "aurora-webhook-tokens", "leadpro-signing-secrets"}

// fileKey matches the configuration's *_file keys and their values.
var fileKey = regexp.MustCompile(`(?m)^\s*-?\s*([a-z_]+_file):\s*"?([^"\s#]+)"?`)

// loadConfigs loads, for each leadbridge container, the configuration it
// would see: LEADBRIDGE_CONFIG names a file mounted from the ConfigMap, the
// *_file secrets are files of the mounted Secret, and the container's env is
// the environment. It uses the binary's own loader (cmd/config) and asserts
// every env name is one the loader reads. The result is keyed by command.
func loadConfigs(t *testing.T, o objects) map[string]config.Config {
	t.Helper()
	out := map[string]config.Config{}
	dir := t.TempDir() // one place for the secret files, so every container's configuration names the same paths
	for owner, ps := range podSpecs(o) {
		for _, c := range slices.Concat(ps.InitContainers, ps.Containers) {
			env := map[string]string{}
			for _, e := range c.Env {
				if e.ValueFrom != nil {
					t.Errorf("%s/%s: env %s from a reference; the test cannot follow it", owner, c.Name, e.Name)
				}
				env[e.Name] = e.Value
			}
			target := env["LEADBRIDGE_CONFIG"]
			if target == "" {
				t.Errorf("%s/%s: no LEADBRIDGE_CONFIG", owner, c.Name)
				continue
			}
			text := mountedFile(t, o, ps, c, target)
			// the *_file secrets: files of a mounted Secret, with a key that exists
			for _, m := range fileKey.FindAllStringSubmatch(text, -1) {
				key, file := m[1], m[2]
				if key == "password_file" && file == "" {
					continue
				}
				value := secretFile(t, o, ps, c, file)
				local := filepath.Join(dir, path.Base(file))
				if err := os.WriteFile(local, []byte(value+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				text = strings.ReplaceAll(text, file, local)
			}
			cfgPath := filepath.Join(t.TempDir(), "leadbridge.yaml")
			if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			asked := map[string]bool{"LEADBRIDGE_CONFIG": true} // read by cmd/leadbridge's --config flag
			getenv := func(k string) string { asked[k] = true; return env[k] }
			cmd := c.Args[0]
			need := map[string]config.Need{"ingest": {Webhooks: true}, "enrich": {APITokens: true},
				"topics": {Configured: true}, "sandbox": {}}[cmd]
			cfg, err := config.LoadValid(cfgPath, getenv, need)
			if err != nil {
				t.Errorf("%s/%s: the mounted configuration does not load for %s: %v", owner, c.Name, cmd, err)
				continue
			}
			for name := range env {
				if !asked[name] && !runtimeEnv[name] {
					t.Errorf("%s/%s: env %s is not read by leadbridge's configuration loader", owner, c.Name, name)
				}
			}
			if prev, ok := out[cmd]; ok && !sameConfig(prev, cfg) {
				t.Errorf("%s/%s: %s containers see different configurations", owner, c.Name, cmd)
			}
			out[cmd] = cfg
		}
	}
	for _, cmd := range []string{"ingest", "enrich", "topics"} {
		if _, ok := out[cmd]; !ok {
			t.Fatalf("no container runs %s", cmd)
		}
	}
	return out
}

func sameConfig(a, b config.Config) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// mountedFile is the content of file in container c, from a ConfigMap.
func mountedFile(t *testing.T, o objects, ps corev1.PodSpec, c corev1.Container, file string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.MountPath != file && !strings.HasPrefix(file, m.MountPath+"/") {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("%s: %s is mounted writable", c.Name, m.MountPath)
		}
		key := m.SubPath
		if key == "" {
			key = strings.TrimPrefix(file, m.MountPath+"/")
		}
		v := volume(t, ps, m.Name)
		if v.ConfigMap == nil {
			t.Fatalf("%s: %s is not from a ConfigMap", c.Name, file)
		}
		cm, ok := o.configMaps[v.ConfigMap.Name]
		if !ok {
			t.Fatalf("%s: ConfigMap %s is not in the overlay", c.Name, v.ConfigMap.Name)
		}
		data, ok := cm.Data[key]
		if !ok {
			t.Fatalf("%s: ConfigMap %s has no key %s", c.Name, cm.Name, key)
		}
		return data
	}
	t.Fatalf("%s: nothing is mounted at %s", c.Name, file)
	return ""
}

// secretFile checks that file is a key of a mounted Secret and returns its
// value (a stand-in for a Secret created out of band).
func secretFile(t *testing.T, o objects, ps corev1.PodSpec, c corev1.Container, file string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if !strings.HasPrefix(file, m.MountPath+"/") {
			continue
		}
		v := volume(t, ps, m.Name)
		if v.Secret == nil {
			t.Errorf("%s: secret file %s is not on a Secret volume", c.Name, file)
			return "x"
		}
		key := strings.TrimPrefix(file, m.MountPath+"/")
		if s, ok := o.secrets[v.Secret.SecretName]; ok {
			val, ok := s.Data[key]
			if !ok {
				val, ok = []byte(s.StringData[key]), s.StringData[key] != ""
			}
			if !ok {
				t.Errorf("%s: Secret %s has no key %s", c.Name, s.Name, key)
			}
			return strings.TrimSpace(string(val))
		}
		if !slices.Contains(secretKeys, key) {
			t.Errorf("%s: %s is not one of the documented Secret keys %v", c.Name, key, secretKeys)
		}
		return "out-of-band-" + key
	}
	t.Errorf("%s: secret file %s is not mounted", c.Name, file)
	return "x"
}

func volume(t *testing.T, ps corev1.PodSpec, name string) corev1.Volume {
	t.Helper()
	for _, v := range ps.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %s", name)
	return corev1.Volume{}
}

// TestProductionSecretIsDocumented: the out-of-band Secret's keys are in the
// command that creates it, and no overlay but dev carries secret values.
func TestProductionSecretIsDocumented(t *testing.T) {
	b, err := os.ReadFile("overlays/production/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range secretKeys {
		if !strings.Contains(string(b), "--from-file="+k+"=") {
			t.Errorf("overlays/production/kustomization.yaml does not show how to create the key %s", k)
		}
	}
	for _, ov := range []string{"production", "plain-hpa", "strimzi"} {
		if o := build(t, ov); len(o.secrets) > 0 {
			t.Errorf("overlays/%s holds a Secret: secret values stay out of the repository", ov)
		}
	}
}

// checkScaledObject validates the ScaledObject against KEDA's CRD schema
// (testdata, from kedacore/keda v2.20.2; unknown fields rejected as with
// kubectl --validate=strict) and against the configuration.
func checkScaledObject(t *testing.T, so map[string]any, c config.Config) {
	t.Helper()
	sch := crdSchema(t, "testdata/keda.sh_scaledobjects.yaml", "v1alpha1")
	if err := sch.Validate(so); err != nil {
		t.Errorf("the ScaledObject does not validate against KEDA's CRD: %#v", err)
	}
	spec, _ := so["spec"].(map[string]any)
	if ref, _ := spec["scaleTargetRef"].(map[string]any); ref["name"] != "leadbridge-enrich" {
		t.Errorf("scaleTargetRef %v, want the enrich Deployment", ref)
	}
	if got, _ := spec["maxReplicaCount"].(float64); int32(got) != c.Topics.Partitions {
		t.Errorf("maxReplicaCount %v, want the raw partitions %d", spec["maxReplicaCount"], c.Topics.Partitions)
	}
	if got, _ := spec["minReplicaCount"].(float64); got < 1 {
		t.Errorf("minReplicaCount %v: enrich must not scale to zero (the lag is only seen by a running member's commits)", spec["minReplicaCount"])
	}
	trig, _ := spec["triggers"].([]any)
	if len(trig) != 1 {
		t.Fatalf("triggers %v, want one kafka trigger", trig)
	}
	tr, _ := trig[0].(map[string]any)
	md, _ := tr["metadata"].(map[string]any)
	want := map[string]string{"consumerGroup": c.Enrich.GroupID, "topic": c.Topics.Raw,
		"bootstrapServers": strings.Join(c.Kafka.Brokers, ","), "allowIdleConsumers": "false"}
	if tr["type"] != "kafka" {
		t.Errorf("trigger type %v, want kafka", tr["type"])
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("trigger %s=%v, want %s (from the configuration)", k, md[k], v)
		}
	}
	if n, err := strconv.Atoi(fmt.Sprint(md["lagThreshold"])); err != nil || n < 1 {
		t.Errorf("lagThreshold %v, want a positive number", md["lagThreshold"])
	}
}

// crdSchema is the schema of one version of a vendored CRD, made strict.
func crdSchema(t *testing.T, file, version string) *jsonschema.Schema {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := sigyaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != version {
			continue
		}
		s := v.Schema.OpenAPIV3Schema
		strict(s)
		c := jsonschema.NewCompiler()
		if err := c.AddResource(file+".json", s); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(file + ".json")
		if err != nil {
			t.Fatal(err)
		}
		return sch
	}
	t.Fatalf("%s has no %s schema", file, version)
	return nil
}

// strict forbids properties a schema does not declare, as the API server's
// strict field validation does (structural schemas prune them silently).
func strict(s map[string]any) {
	if props, ok := s["properties"].(map[string]any); ok {
		if _, set := s["additionalProperties"]; !set && s["x-kubernetes-preserve-unknown-fields"] != true {
			s["additionalProperties"] = false
		}
		for _, p := range props {
			if m, ok := p.(map[string]any); ok {
				strict(m)
			}
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if m, ok := s[k].(map[string]any); ok {
			strict(m)
		}
	}
	for _, k := range []string{"anyOf", "allOf", "oneOf"} {
		if l, ok := s[k].([]any); ok {
			for _, e := range l {
				if m, ok := e.(map[string]any); ok {
					strict(m)
				}
			}
		}
	}
}

// checkNetworkPolicies: every pod is selected by a policy for both
// directions; ingress only to the webhook port of ingest (and the sandbox's
// port in dev); egress only to Kafka's port, DNS, HTTPS from enrich (the
// Aurora API), and the dev sandbox's and ingest's ports.
func checkNetworkPolicies(t *testing.T, o objects, c config.Config) {
	t.Helper()
	kafkaPort := portOf(t, c.Kafka.Brokers[0])
	ingressPorts := map[string][]int32{"leadbridge-ingest": {portOf(t, c.HTTP.Addr)}, "leadbridge-sandbox": {8090}}
	egressPorts := map[string][]int32{"leadbridge-enrich": {443, 8090}, "leadbridge-sandbox": {portOf(t, c.HTTP.Addr)}}
	selected := map[string]bool{}
	for _, np := range o.netpols {
		app := np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"]
		selected[app] = true
		if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) {
			t.Errorf("NetworkPolicy %s: policyTypes %v, want Ingress and Egress", np.Name, np.Spec.PolicyTypes)
		}
		for _, r := range np.Spec.Ingress {
			for _, p := range r.Ports {
				if p.Port == nil || !slices.Contains(ingressPorts[app], p.Port.IntVal) || p.EndPort != nil {
					t.Errorf("NetworkPolicy %s admits ingress on %v", np.Name, p.Port)
				}
			}
			if len(r.Ports) == 0 {
				t.Errorf("NetworkPolicy %s admits ingress on every port", np.Name)
			}
		}
		for _, r := range np.Spec.Egress {
			if len(r.Ports) == 0 {
				t.Errorf("NetworkPolicy %s allows egress on every port", np.Name)
			}
			for _, p := range r.Ports {
				port, end := p.Port.IntVal, p.Port.IntVal
				if p.EndPort != nil {
					end = *p.EndPort
				}
				kafka := port <= kafkaPort && kafkaPort <= end && end-port < 10
				if !kafka && port != 53 && !slices.Contains(egressPorts[app], port) || (end != port && !kafka) {
					t.Errorf("NetworkPolicy %s allows egress to %d-%d", np.Name, port, end)
				}
			}
		}
	}
	for owner, ps := range podSpecs(o) {
		_ = ps
		name := owner[strings.Index(owner, "/")+1:]
		if !selected[name] {
			t.Errorf("%s is selected by no NetworkPolicy", owner)
		}
	}
}

// checkKafkaTopics: the Strimzi KafkaTopics validate against Strimzi's CRD
// schema and declare exactly the topics `topics create` would create, with
// the same partitions, replication and settings (cmd/topics).
func checkKafkaTopics(t *testing.T, o objects, c config.Config) {
	t.Helper()
	sch := crdSchema(t, "testdata/kafkatopic.strimzi.io_v1beta2.yaml", "v1beta2")
	got := map[string]map[string]any{}
	for name, kt := range o.topics {
		if err := sch.Validate(kt); err != nil {
			t.Errorf("KafkaTopic %s does not validate against Strimzi's CRD: %#v", name, err)
		}
		if kt["apiVersion"] != "kafka.strimzi.io/v1beta2" {
			t.Errorf("KafkaTopic %s: apiVersion %v", name, kt["apiVersion"])
		}
		spec, _ := kt["spec"].(map[string]any)
		got[fmt.Sprint(spec["topicName"])] = spec
	}
	specs := topics.Specs(c.Topics)
	if len(got) != len(specs) {
		t.Errorf("%d KafkaTopics, topics create makes %d topics", len(got), len(specs))
	}
	for _, s := range specs {
		spec, ok := got[s.Name]
		if !ok {
			t.Errorf("no KafkaTopic for the %s topic %s", s.Role, s.Name)
			continue
		}
		if p, _ := spec["partitions"].(float64); int32(p) != c.Topics.Partitions {
			t.Errorf("KafkaTopic %s: partitions %v, want %d", s.Name, spec["partitions"], c.Topics.Partitions)
		}
		if r, _ := spec["replicas"].(float64); int16(r) != c.Topics.ReplicationFactor {
			t.Errorf("KafkaTopic %s: replicas %v, want %d", s.Name, spec["replicas"], c.Topics.ReplicationFactor)
		}
		cfg := map[string]string{}
		m, _ := spec["config"].(map[string]any)
		for k, v := range m {
			cfg[k] = fmt.Sprint(v)
		}
		if !maps.Equal(cfg, s.Configs) {
			t.Errorf("KafkaTopic %s: config %v, topics create sets %v", s.Name, cfg, s.Configs)
		}
	}
}
