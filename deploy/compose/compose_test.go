package compose_test

// The container files cannot be run here (no Docker engine in CI), so these
// tests keep them from rotting: docker-compose.yml is loaded with the Compose
// specification's own loader and cross-checked against leadbridge itself (the
// built binary's commands and flags, its configuration loader cmd/config, its
// listen ports), and the Dockerfile and .dockerignore are checked as text.

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/cmd/wire"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
)

// composeRoot is the repository root, where docker-compose.yml lives.
const composeRoot = "../.."

// loadCompose loads docker-compose.yml as `docker compose` would, with env
// as the only environment (so a developer's exported variables cannot
// change the result).
func loadCompose(tb testing.TB, env map[string]string) *types.Project {
	tb.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(composeRoot, "docker-compose.yml")},
		cli.WithWorkingDirectory(composeRoot), cli.WithEnv(list))
	if err != nil {
		tb.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		tb.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// composeService returns the named service or fails.
func composeService(tb testing.TB, p *types.Project, name string) types.ServiceConfig {
	tb.Helper()
	s, ok := p.Services[name]
	if !ok {
		tb.Fatalf("docker-compose.yml has no service %s", name)
	}
	return s
}

// composeEnv is a service's environment as the container sees it.
func composeEnv(s types.ServiceConfig) func(string) string {
	return func(k string) string {
		if v := s.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
}

// needOf is what the command a service runs requires of the configuration.
func needOf(command string) config.Need {
	switch command {
	case "ingest":
		return config.Need{Webhooks: true}
	case "enrich":
		return config.Need{APITokens: true}
	}
	return config.Need{}
}

// leadbridgeServices are the services that run the leadbridge image, with
// the port each one serves HTTP on (0: none).
var leadbridgeServices = map[string]string{"topics": "", "ingest": "8080", "enrich": "8081", "aurora-sandbox": "8090"}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t, nil)
	var names []string
	for n := range p.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"aurora-sandbox", "enrich", "ingest", "kafka", "topics"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}

	for _, s := range p.Services {
		t.Run(s.Name, func(t *testing.T) {
			if s.Image == "" && s.Build == nil {
				t.Error("neither image nor build")
			}
			if b := s.Build; b != nil {
				if fi, err := os.Stat(b.Context); err != nil || !fi.IsDir() {
					t.Errorf("build context %s is not a directory", b.Context)
				}
				if _, err := os.Stat(filepath.Join(b.Context, b.Dockerfile)); err != nil {
					t.Errorf("dockerfile %s not found in the build context: %v", b.Dockerfile, err)
				}
			}
			if len(s.Environment) == 0 {
				t.Error("no environment")
			}
			for _, v := range s.Volumes {
				if v.Type == types.VolumeTypeBind {
					if _, err := os.Stat(v.Source); err != nil {
						t.Errorf("mounted %s does not exist: %v", v.Source, err)
					}
				}
			}
			if s.Name == "topics" { // one-shot: it exits, nothing to be healthy
				return
			}
			if h := s.HealthCheck; h == nil || h.Disable || len(h.Test) < 2 || h.Interval == nil || h.Retries == nil {
				t.Errorf("no usable healthcheck: %+v", h)
			}
		})
	}

	dependsOn := map[string]map[string]string{
		"topics":         {"kafka": types.ServiceConditionHealthy},
		"ingest":         {"topics": types.ServiceConditionCompletedSuccessfully},
		"enrich":         {"topics": types.ServiceConditionCompletedSuccessfully, "aurora-sandbox": types.ServiceConditionHealthy},
		"aurora-sandbox": {},
		"kafka":          {},
	}
	for name, want := range dependsOn {
		got := map[string]string{}
		for dep, d := range composeService(t, p, name).DependsOn {
			got[dep] = d.Condition
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s depends_on %v, want %v", name, got, want)
		}
	}

	ingest := composeService(t, p, "ingest")
	if len(ingest.Ports) != 1 || ingest.Ports[0].Target != 8080 || ingest.Ports[0].Published != "8080" {
		t.Errorf("ingest ports %+v, want 8080:8080", ingest.Ports)
	}
	enrich := composeService(t, p, "enrich")
	if d := enrich.Deploy; d == nil || d.Replicas == nil || *d.Replicas != 2 {
		got := "unset"
		if d != nil && d.Replicas != nil {
			got = strconv.Itoa(*d.Replicas)
		}
		t.Errorf("enrich deploy.replicas %s, want 2", got)
	}
	if len(enrich.Ports) != 0 || !slices.Contains(enrich.Expose, "8081") {
		t.Errorf("enrich: ports %+v (want none: replicas would clash), expose %v (want 8081)", enrich.Ports, enrich.Expose)
	}
}

// TestComposeLeadbridgeServices checks each leadbridge container against
// leadbridge: its command and flags parse, its mounted configuration loads
// and validates for that command with the environment compose gives it, and
// its health check probes the port it listens on.
func TestComposeLeadbridgeServices(t *testing.T) {
	p := loadCompose(t, nil)
	entrypoint := dockerfileEntrypoint(t)
	cmds := commands(t)
	kafka := composeService(t, p, "kafka")
	advertised := *kafka.Environment["KAFKA_ADVERTISED_LISTENERS"]

	for name, port := range leadbridgeServices {
		t.Run(name, func(t *testing.T) {
			s := composeService(t, p, name)
			if s.Image != "leadbridge:dev" || s.Build == nil || filepath.Base(s.Build.Dockerfile) != "Dockerfile" {
				t.Errorf("image %q build %+v: want leadbridge:dev built from deploy/Dockerfile", s.Image, s.Build)
			}
			if len(s.Command) == 0 {
				t.Fatal("no command")
			}
			if _, ok := cmds[s.Command[0]]; !ok {
				t.Fatalf("command %q is not a leadbridge command", s.Command[0])
			}
			// --help after the service's own flags: the binary parses them all
			// (a misspelt flag or a bad value fails) and starts nothing.
			if out, err := leadbridge(t, s.Environment, append(slices.Clone(s.Command), "--help")...); err != nil {
				t.Errorf("command %v: %v\n%s", s.Command, err, out)
			}

			// the configuration, as the container would load it
			env := composeEnv(s)
			target := env("LEADBRIDGE_CONFIG")
			var source string
			for _, v := range s.Volumes {
				if v.Type == types.VolumeTypeBind && v.Target == target {
					source = v.Source
					if !v.ReadOnly {
						t.Errorf("%s is mounted writable", target)
					}
				}
			}
			if source == "" {
				t.Fatalf("LEADBRIDGE_CONFIG=%q is not a mounted file", target)
			}
			// read by the --config flag; the rest must be read by the loader
			// or expanded by the mounted file, or the container sets it in vain
			asked := map[string]bool{"LEADBRIDGE_CONFIG": true}
			cfg, err := config.LoadValid(source, func(k string) string { asked[k] = true; return env(k) }, needOf(s.Command[0]))
			if err != nil {
				t.Fatalf("%s does not load for %s: %v", source, s.Command[0], err)
			}
			for k := range s.Environment {
				if !asked[k] && k != "GOMEMLIMIT" && k != "GOGC" {
					t.Errorf("environment %s is neither read by leadbridge's loader nor expanded in %s", k, target)
				}
			}
			for _, b := range cfg.Kafka.Brokers {
				if !strings.Contains(advertised, "://"+b) {
					t.Errorf("kafka broker %s is not one the kafka service advertises (%s)", b, advertised)
				}
			}
			if u, err := url.Parse(cfg.Aurora.APIURL); err != nil || u.Host != "aurora-sandbox:"+leadbridgeServices["aurora-sandbox"] {
				t.Errorf("aurora.api_url %s does not point at the aurora-sandbox service", cfg.Aurora.APIURL)
			}
			listen := map[string]string{"ingest": cfg.HTTP.Addr, "enrich": cfg.Enrich.HTTPAddr,
				"aurora-sandbox": flagValue(s.Command, "--addr")}[name]
			if port == "" {
				if s.HealthCheck != nil {
					t.Errorf("one-shot %s has a healthcheck", name)
				}
				return
			}
			if _, lp, _ := net.SplitHostPort(listen); lp != port {
				t.Errorf("listens on %q, want port %s", listen, port)
			}
			want := []string{"CMD", entrypoint, "probe"}
			h := s.HealthCheck
			if h == nil || len(h.Test) != 4 || !slices.Equal(h.Test[:3], want) {
				t.Fatalf("healthcheck %+v, want %v <url>", h, want)
			}
			if u, err := url.Parse(h.Test[3]); err != nil || u.Hostname() != "localhost" || u.Port() != port {
				t.Errorf("healthcheck probes %s, not this container's port %s", h.Test[3], port)
			}
		})
	}

	// the sandbox's subscription example points at the ingest service
	sb := composeService(t, p, "aurora-sandbox")
	if u, err := url.Parse(flagValue(sb.Command, "--ingest-url")); err != nil || u.Host != "ingest:"+leadbridgeServices["ingest"] {
		t.Errorf("aurora-sandbox --ingest-url %q is not the ingest service", flagValue(sb.Command, "--ingest-url"))
	}
}

// TestComposeKafka checks the broker service against what leadbridge needs.
func TestComposeKafka(t *testing.T) {
	k := composeService(t, loadCompose(t, nil), "kafka")
	if k.Image != "apache/kafka:4.4.0" {
		t.Errorf("kafka image %s: want apache/kafka:4.4.0, the version deploy/kafka and kafkatest run", k.Image)
	}
	env := composeEnv(k)
	for key, want := range map[string]string{
		"KAFKA_PROCESS_ROLES":             "broker,controller",
		"KAFKA_NODE_ID":                   "1",
		"KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
	} {
		if got := env(key); got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	for _, key := range []string{"CLUSTER_ID", "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"} {
		if env(key) == "" {
			t.Errorf("%s is not set", key)
		}
	}
	if h := k.HealthCheck; h == nil || !slices.Contains(h.Test, "/opt/kafka/bin/kafka-broker-api-versions.sh") {
		t.Errorf("kafka healthcheck %+v does not ask the broker for its API versions", h)
	}
}

// TestComposeEnvironmentOverrides: the documented variables change what
// they should, and the host Kafka listener follows its port.
func TestComposeEnvironmentOverrides(t *testing.T) {
	p := loadCompose(t, map[string]string{
		"KAFKA_HOST_PORT": "19094", "INGEST_HOST_PORT": "18080", "AURORA_API_TOKEN": "exported-token",
	})
	k := composeService(t, p, "kafka")
	if len(k.Ports) != 1 || k.Ports[0].Published != "19094" || k.Ports[0].Target != 9094 ||
		!strings.Contains(*k.Environment["KAFKA_ADVERTISED_LISTENERS"], "HOST://localhost:19094") {
		t.Errorf("KAFKA_HOST_PORT=19094: ports %+v, advertised %s", k.Ports, *k.Environment["KAFKA_ADVERTISED_LISTENERS"])
	}
	if i := composeService(t, p, "ingest"); i.Ports[0].Published != "18080" || i.Ports[0].Target != 8080 {
		t.Errorf("INGEST_HOST_PORT=18080: ports %+v", i.Ports)
	}
	e := composeService(t, p, "enrich")
	cfg, err := config.LoadValid(filepath.Join(composeRoot, "deploy/compose/leadbridge.yaml"), composeEnv(e), needOf("enrich"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Aurora.Tenants[0].APIToken.Reveal() != "exported-token" {
		t.Error("an exported AURORA_API_TOKEN does not reach the configuration")
	}
}

// flagValue returns the value following name in args, or "".
func flagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// dockerInstruction is one Dockerfile instruction, continuation lines joined.
type dockerInstruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// dockerStages parses deploy/Dockerfile into stages (instructions before the
// first FROM, such as global ARGs, are stage 0's prefix and dropped).
func dockerStages(tb testing.TB) (global []dockerInstruction, stages [][]dockerInstruction) {
	tb.Helper()
	f, err := os.Open(filepath.Join(composeRoot, "deploy", "Dockerfile"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || (l == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	for _, l := range lines {
		cmd, args, _ := strings.Cut(l, " ")
		in := dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		switch {
		case in.cmd == "FROM":
			stages = append(stages, []dockerInstruction{in})
		case len(stages) == 0:
			global = append(global, in)
		default:
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if len(stages) < 2 {
		tb.Fatalf("deploy/Dockerfile has %d stages, want a build stage and a final one", len(stages))
	}
	return global, stages
}

// dockerfileEntrypoint is the binary the final stage runs.
func dockerfileEntrypoint(tb testing.TB) string {
	tb.Helper()
	_, stages := dockerStages(tb)
	for _, in := range stages[len(stages)-1] {
		if in.cmd == "ENTRYPOINT" {
			var exec []string
			if err := json.Unmarshal([]byte(in.args), &exec); err != nil || len(exec) != 1 {
				tb.Fatalf("ENTRYPOINT %s: want the exec form with the binary alone", in.args)
			}
			return exec[0]
		}
	}
	tb.Fatal("the final stage has no ENTRYPOINT")
	return ""
}

func TestDockerfile(t *testing.T) {
	global, stages := dockerStages(t)
	build, final := stages[0], stages[len(stages)-1]

	// Go of the builder = go.mod's language version (major.minor)
	gomod, err := os.ReadFile(filepath.Join(composeRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !slices.Contains(global, dockerInstruction{"ARG", "GO_VERSION=" + string(m[1])}) ||
		!strings.Contains(build[0].args, "golang:${GO_VERSION}") || !strings.HasSuffix(build[0].args, "AS build") {
		t.Errorf("build stage %q (global %v): want FROM golang:${GO_VERSION} AS build with ARG GO_VERSION=%s", build[0].args, global, m[1])
	}

	var goBuild string
	for _, in := range build {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			goBuild = in.args
		}
	}
	for _, want := range []string{"--mount=type=cache,target=/go/pkg/mod", "CGO_ENABLED=0", "-trimpath",
		"-s -w", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "./cmd/leadbridge"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("the build stage's go build lacks %q: %s", want, goBuild)
		}
	}
	// -X only sets package-level string variables, and silently does nothing
	// when they are gone: the binary built as the Dockerfile builds it says them.
	checkVersionVars(t)

	if final[0].args != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot", final[0].args)
	}
	user := "" // the base image's nonroot default unless USER says otherwise
	var expose []string
	copied := false
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "EXPOSE":
			expose = append(expose, strings.Fields(in.args)...)
		case "COPY":
			copied = copied || strings.Contains(in.args, "--from=build")
		}
	}
	if name, _, _ := strings.Cut(user, ":"); name != "nonroot" && name != "65532" {
		t.Errorf("final stage USER %q: want nonroot", user)
	}
	if !copied {
		t.Error("the final stage copies nothing from the build stage")
	}
	if !slices.Contains(expose, "8080") || !slices.Contains(expose, "8081") {
		t.Errorf("EXPOSE %v, want 8080 and 8081", expose)
	}
	if ep := dockerfileEntrypoint(t); ep != "/leadbridge" {
		t.Errorf("ENTRYPOINT %s, want /leadbridge", ep)
	}

	// every build arg compose passes is declared
	args := map[string]bool{}
	for _, in := range build {
		if in.cmd == "ARG" {
			for _, a := range strings.Fields(in.args) {
				name, _, _ := strings.Cut(a, "=")
				args[name] = true
			}
		}
	}
	for _, s := range loadCompose(t, nil).Services {
		if s.Build != nil {
			for a := range s.Build.Args {
				if !args[a] {
					t.Errorf("service %s passes build arg %s, which the build stage does not declare", s.Name, a)
				}
			}
		}
	}
}

// TestDockerignore: the build context keeps every file go build needs for
// ./cmd/leadbridge, and leaves out the repository's history and local state.
func TestDockerignore(t *testing.T) {
	f, err := os.Open(filepath.Join(composeRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(rel string) bool {
		ex, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}

	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to list the build's files")
	}
	root, err := filepath.Abs(composeRoot)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), goBin, "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}{{end}}`,
		"./cmd/leadbridge")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	needed := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		dir, err := filepath.Rel(root, fields[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields[1:] {
			needed = append(needed, filepath.Join(dir, f))
		}
	}
	if len(needed) < 10 {
		t.Fatalf("go list found only %v", needed)
	}
	for _, f := range needed {
		if excluded(f) {
			t.Errorf(".dockerignore excludes %s, which the build needs", f)
		}
	}
	for _, f := range []string{".git/config", "deploy/kafka/libs/4.4.0/kafka-clients-4.4.0.jar", "deploy/kafka/work/x", "leadbridge", ".env"} {
		if !excluded(f) {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}

// TestReadmeSandboxExports: README's compose paragraph says which variables
// to export before pasting the curls `docker compose logs aurora-sandbox`
// prints; they must be the ones those curls read, that is the ones the
// sandbox's banner names under compose's configuration.
func TestReadmeSandboxExports(t *testing.T) {
	s := composeService(t, loadCompose(t, nil), "aurora-sandbox")
	getenv := composeEnv(s)
	cfg, err := config.LoadValid(filepath.Join(composeRoot, "deploy/compose/leadbridge.yaml"), getenv, config.Need{})
	if err != nil {
		t.Fatal(err)
	}
	b := wire.SandboxBanner(cfg, getenv("LEADBRIDGE_CONFIG") != "", sandbox.Options{Tokens: wire.SandboxTokens(cfg)}, "http://ingest:8080", "")
	want := []string{b.TokenVar, b.SecretVar}
	slices.Sort(want)

	readme, err := os.ReadFile(filepath.Join(composeRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "docker compose logs aurora-sandbox")
	m := regexp.MustCompile("`export ([^`]*)`").FindStringSubmatch(after)
	if !ok || m == nil {
		t.Fatal("README no longer says what to export before pasting the sandbox's curls")
	}
	var got []string
	for _, f := range strings.Fields(m[1]) {
		name, _, _ := strings.Cut(f, "=")
		got = append(got, name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("README exports %v before the sandbox's curls; they read %v", got, want)
	}
}
