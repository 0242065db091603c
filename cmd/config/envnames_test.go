package config

import (
	"go/scanner"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository root, seen from this package.
const repoRoot = "../.."

// envName matches a LEADBRIDGE_* variable name; a trailing "_*" (written
// LEADBRIDGE_TOPIC_*) names a family.
var envName = regexp.MustCompile(`LEADBRIDGE_[A-Z0-9_]*[A-Z0-9](_\*)?`)

// loaderEnv is every variable Load reads, found by asking it: once with
// every variable set (the basic-auth branch of the single-tenant variables)
// and once with LEADBRIDGE_AURORA_WEBHOOK_USERNAME unset (the token branch).
func loaderEnv() map[string]bool {
	asked := map[string]bool{}
	for _, unset := range []string{"", "LEADBRIDGE_AURORA_WEBHOOK_USERNAME"} {
		Load("", func(k string) string {
			asked[k] = true
			if k == unset {
				return ""
			}
			return "1"
		})
	}
	return asked
}

// goEnvNames is every LEADBRIDGE_* name in a string literal of the
// repository's Go code (comments do not count), but this file's: the
// variables the commands, the simulator and the test harnesses read.
func goEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	self, err := filepath.Abs("envnames_test.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	err = filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "libs" || d.Name() == ".leadbridge") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		if abs, _ := filepath.Abs(p); abs == self {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var s scanner.Scanner
		fset := token.NewFileSet()
		s.Init(fset.AddFile(p, -1, len(src)), src, nil, 0)
		for {
			_, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok == token.STRING {
				for _, n := range envName.FindAllString(lit, -1) {
					names[n] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// docFiles are the files a user reads or runs that name variables: the
// README, the compose file, the Makefile, CI, and deploy's manifests,
// Dockerfile and scripts.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "docker-compose.yml", "Makefile", ".ci/run"}
	err := filepath.WalkDir(filepath.Join(repoRoot, "deploy"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "libs" || d.Name() == "testdata" || d.Name() == "work") {
			return filepath.SkipDir
		}
		if d.IsDir() || strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, err := filepath.Rel(repoRoot, p)
		files = append(files, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// composeVar matches a compose interpolation, ${NAME or ${NAME:-default}:
// a variable compose itself reads (LEADBRIDGE_VERSION, a build argument).
var composeVar = regexp.MustCompile(`\$\{(LEADBRIDGE_[A-Z0-9_]+)`)

// TestDocumentedEnvNamesExist: every LEADBRIDGE_* variable the README and
// the deployment files name is one leadbridge reads (the configuration
// loader, another command, a test harness) or one docker-compose.yml
// interpolates, so a misspelt or removed variable cannot stay documented.
func TestDocumentedEnvNamesExist(t *testing.T) {
	known := loaderEnv()
	if !known["LEADBRIDGE_KAFKA_BROKERS"] || !known["LEADBRIDGE_AURORA_WEBHOOK_TOKEN"] || !known["LEADBRIDGE_AURORA_WEBHOOK_PASSWORD"] {
		t.Fatalf("the loader was asked for only %v: the recorder is broken", slices.Sorted(maps.Keys(known)))
	}
	for n := range goEnvNames(t) {
		known[n] = true
	}
	compose, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range composeVar.FindAllStringSubmatch(string(compose), -1) {
		known[m[1]] = true
	}
	checked := 0
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, n := range envName.FindAllString(line, -1) {
				checked++
				if family, ok := strings.CutSuffix(n, "_*"); ok {
					if !slices.ContainsFunc(slices.Collect(maps.Keys(known)), func(k string) bool { return strings.HasPrefix(k, family+"_") }) {
						t.Errorf("%s:%d names the family %s, but leadbridge reads no variable of it", f, i+1, n)
					}
					continue
				}
				if !known[n] {
					t.Errorf("%s:%d names %s, which leadbridge does not read", f, i+1, n)
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("found only %d variable names in the documentation: the scan is broken", checked)
	}
}
