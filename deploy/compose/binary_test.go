package compose_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// The binary, built once per test run as the Dockerfile builds it (its -X
// flags included), so the checks see what the image would run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

const (
	testVersion = "compose-test-version"
	testCommit  = "compose-test-commit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "leadbridge-compose-test")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "leadbridge")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags",
			"-X main.version="+testVersion+" -X main.commit="+testCommit, "-o", binPath, "./cmd/leadbridge")
		cmd.Dir = composeRoot
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = &buildError{err, string(out)}
		}
	})
	if buildErr != nil {
		tb.Fatalf("go build ./cmd/leadbridge: %v", buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// leadbridge runs the binary with exactly the given environment (as the
// container has it) and returns its combined output.
func leadbridge(tb testing.TB, env types.MappingWithEquals, args ...string) (string, error) {
	tb.Helper()
	bin := binary(tb) // the build is not the command's time
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{}
	for k, v := range env {
		if v != nil {
			cmd.Env = append(cmd.Env, k+"="+*v)
		}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// commands is the binary's command table, as `leadbridge --help` lists it.
func commands(tb testing.TB) map[string]bool {
	tb.Helper()
	out, err := leadbridge(tb, nil, "--help")
	if err != nil {
		tb.Fatalf("leadbridge --help: %v\n%s", err, out)
	}
	cmds := map[string]bool{}
	_, list, ok := strings.Cut(out, "commands:\n")
	if !ok {
		tb.Fatalf("leadbridge --help lists no commands:\n%s", out)
	}
	for _, l := range strings.Split(list, "\n") {
		if !strings.HasPrefix(l, "  ") {
			break
		}
		if f := strings.Fields(l); len(f) > 0 {
			cmds[f[0]] = true
		}
	}
	for _, c := range []string{"ingest", "enrich", "topics", "sandbox", "probe"} {
		if !cmds[c] {
			tb.Fatalf("leadbridge --help does not list %s:\n%s", c, out)
		}
	}
	return cmds
}

// checkVersionVars: the -X flags of the Dockerfile's go build reach the
// binary (they silently do nothing when the variables are gone or not strings).
func checkVersionVars(t *testing.T) {
	t.Helper()
	out, err := leadbridge(t, nil, "version")
	if err != nil || !strings.Contains(out, testVersion) || !strings.Contains(out, testCommit) {
		t.Errorf("leadbridge version with -X main.version and -X main.commit printed %q (%v)", out, err)
	}
}

// sandboxBanner starts the sandbox with a service's command, listening on a
// free loopback port instead of the container's, and returns what it printed
// before it served.
func sandboxBanner(t *testing.T, s types.ServiceConfig) string {
	t.Helper()
	args := slices.Clone(s.Command)
	for i, a := range args {
		if a == "--addr" && i+1 < len(args) {
			args[i+1] = "127.0.0.1:0"
		}
	}
	bin := binary(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	for k, v := range s.Environment {
		if v != nil {
			cmd.Env = append(cmd.Env, k+"="+*v)
		}
	}
	// the mounted configuration, at its path on this machine
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasSuffix(v.Target, "leadbridge.yaml") {
			cmd.Env = append(cmd.Env, "LEADBRIDGE_CONFIG="+v.Source)
		}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var b strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "/leads/<LEAD_ID>") {
			break // the last example: retrieve a lead
		}
	}
	return b.String()
}
