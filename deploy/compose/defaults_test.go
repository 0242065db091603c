package compose_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/dev"
)

// TestComposeDevCredentials: compose and `leadbridge dev` share one set of
// well-known dev values, so the README's commands work against both.
func TestComposeDevCredentials(t *testing.T) {
	p := loadCompose(t, nil)
	env := composeEnv(composeService(t, p, "ingest"))
	for name, want := range map[string]string{
		"AURORA_TENANT_ID":       dev.Tenant,
		"AURORA_API_TOKEN":       dev.APIToken,
		"AURORA_WEBHOOK_TOKEN":   dev.HookToken,
		"LEADPRO_ACCOUNT_ID":     dev.Account,
		"LEADPRO_SIGNING_SECRET": dev.Secret,
	} {
		if got := env(name); got != want {
			t.Errorf("compose %s defaults to %q; leadbridge dev uses %q", name, got, want)
		}
	}
	cfg, err := config.LoadValid(filepath.Join(composeRoot, "deploy/compose/leadbridge.yaml"), env, needOf("ingest"))
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Aurora.Tenants[0].WebhookAuth.Header; h != dev.HookHeader {
		t.Errorf("compose's webhook header %s, dev's %s", h, dev.HookHeader)
	}
}

// TestComposeKafkaVolume: the broker's data lives in a named volume, at the
// directory KAFKA_LOG_DIRS names.
func TestComposeKafkaVolume(t *testing.T) {
	p := loadCompose(t, nil)
	k := composeService(t, p, "kafka")
	dir := composeEnv(k)("KAFKA_LOG_DIRS")
	found := false
	for _, v := range k.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Target == dir {
			if _, ok := p.Volumes[v.Source]; !ok {
				t.Errorf("volume %s is not declared at the top level", v.Source)
			}
			found = true
		}
	}
	if !found {
		t.Errorf("KAFKA_LOG_DIRS=%s is not a named volume: %+v", dir, k.Volumes)
	}
}

// TestComposeNoProjectName: docker-compose 1.29 rejects a top-level name:.
func TestComposeNoProjectName(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(composeRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if _, ok := top["name"]; ok {
		t.Error("docker-compose.yml has a top-level name:, which docker-compose 1.29 rejects")
	}
}

// TestComposeMovedPorts: AURORA_API_URL reaches enrich's configuration, and
// a moved sandbox host port moves the URLs of the sandbox's printed curls.
func TestComposeMovedPorts(t *testing.T) {
	p := loadCompose(t, map[string]string{"AURORA_SANDBOX_HOST_PORT": "18090", "AURORA_API_URL": "https://aurora.example.com"})
	e := composeService(t, p, "enrich")
	cfg, err := config.LoadValid(filepath.Join(composeRoot, "deploy/compose/leadbridge.yaml"), composeEnv(e), needOf("enrich"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Aurora.APIURL != "https://aurora.example.com" {
		t.Errorf("an exported AURORA_API_URL does not reach the configuration: %s", cfg.Aurora.APIURL)
	}
	sb := composeService(t, p, "aurora-sandbox")
	if sb.Ports[0].Published != "18090" || sb.Ports[0].Target != 8090 {
		t.Errorf("AURORA_SANDBOX_HOST_PORT=18090: ports %+v", sb.Ports)
	}
	banner := sandboxBanner(t, sb)
	if !strings.Contains(banner, "'http://localhost:18090/tenants/") || strings.Contains(banner, ":8090/") {
		t.Errorf("the sandbox's curls do not follow the host port 18090:\n%s", banner)
	}
}
