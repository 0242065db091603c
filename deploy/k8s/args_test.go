package k8s_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestContainerArgsParse runs the binary with every leadbridge container's
// args followed by --help, in every overlay: the binary parses them all (a
// misspelt flag or a bad value exits non-zero) and starts nothing. checkPods
// only looks at the command's name.
func TestContainerArgsParse(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "leadbridge")
	gobuild := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/leadbridge")
	gobuild.Dir = "../.."
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/leadbridge: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for name := range overlays {
		o := build(t, name)
		for owner, ps := range podSpecs(o) {
			for _, c := range slices.Concat(ps.InitContainers, ps.Containers) {
				args := append(slices.Clone(c.Args), "--help")
				key := owner + "/" + c.Name + " " + strings.Join(c.Args, " ")
				if seen[key] {
					continue
				}
				seen[key] = true
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				cmd := exec.CommandContext(ctx, bin, args...)
				cmd.Env = []string{} // the flags alone: no configuration is needed to parse them
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("overlays/%s %s/%s: leadbridge %v: %v\n%s", name, owner, c.Name, args, err, out)
				}
				cancel()
			}
		}
	}
	if len(seen) < 5 {
		t.Errorf("ran only %d containers' args", len(seen))
	}
}
