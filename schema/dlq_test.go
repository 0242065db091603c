package schema

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseDLQReason(t *testing.T) {
	for _, r := range DLQReasons() {
		if got, err := ParseDLQReason(string(r)); err != nil || got != r {
			t.Errorf("ParseDLQReason(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "not_fond", "NOT_FOUND", " not_found", "not_found,unauthorized"} {
		_, err := ParseDLQReason(s)
		if err == nil {
			t.Errorf("ParseDLQReason(%q) accepted", s)
			continue
		}
		for _, r := range DLQReasons() { // the error names every valid reason
			if !strings.Contains(err.Error(), string(r)) {
				t.Errorf("ParseDLQReason(%q): %v does not name %s", s, err, r)
			}
		}
	}
	rs := DLQReasons()
	rs[0] = "changed"
	if DLQReasons()[0] == "changed" {
		t.Error("DLQReasons returns the package's own slice")
	}
	if len(rs) != len(slices.Compact(slices.Sorted(slices.Values(DLQReasons())))) {
		t.Error("DLQReasons has duplicates")
	}
}

// readmeDLQReasons is the list of reasons in the README's leads.dlq
// paragraph: the code spans directly inside the parentheses after
// `leadbridge_dlq_reason`, not those in the nested explanations.
func readmeDLQReasons(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		tb.Fatal(err)
	}
	const intro = "**`leads.dlq`**: the raw record unchanged plus `leadbridge_dlq_reason` ("
	readme := string(b)
	i := strings.Index(readme, intro)
	if i < 0 {
		tb.Fatalf("README.md has no %q", intro)
	}
	var out []string
	depth, code, span := 1, false, ""
	for _, c := range readme[i+len(intro):] {
		switch {
		case c == '`':
			if code && depth == 1 {
				out = append(out, span)
			}
			code, span = !code, ""
		case code:
			span += string(c)
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
		if depth == 0 {
			return out
		}
	}
	tb.Fatal("README.md: the list of DLQ reasons is not closed")
	return nil
}

func TestReadmeListsTheDLQReasons(t *testing.T) {
	code := dlqReasonNames()
	readme := readmeDLQReasons(t)
	if !slices.Equal(readme, code) {
		t.Errorf("README.md's leads.dlq reasons\n  %v\nare not the code's (schema.DLQReasons, same order)\n  %v", readme, code)
	}
}

func TestAsyncAPIListsTheDLQReasons(t *testing.T) {
	doc := readAsyncAPI(t)
	var desc string
	var node any = doc
	for _, k := range []string{"components", "schemas", "DLQHeaders", "properties", "leadbridge_dlq_reason", "description"} {
		m, _ := node.(map[string]any)
		node = m[k]
	}
	desc, _ = node.(string)
	list, _, ok := strings.Cut(desc, "(")
	_, list, ok2 := strings.Cut(list, ":")
	if !ok || !ok2 {
		t.Fatalf("leadbridge_dlq_reason's description is no \"...: a, b, ... (...)\" list: %q", desc)
	}
	got := regexp.MustCompile(`[a-z_]+`).FindAllString(list, -1)
	want := dlqReasonNames()
	if !slices.Equal(got, want) {
		t.Errorf("asyncapi.yaml's leadbridge_dlq_reason lists\n  %v\nnot the code's (schema.DLQReasons, same order)\n  %v", got, want)
	}
}

// TestDLQReasonsListsEveryConstant holds DLQReasons to the DLQReason
// constants declared in dlq.go, so a new reason cannot miss the list (and
// with it the README, asyncapi.yaml and the redrive filter).
func TestDLQReasonsListsEveryConstant(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "dlq.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); ok && id.Name == "DLQReason" {
				for _, val := range v.Values {
					lit, _ := strconv.Unquote(val.(*ast.BasicLit).Value)
					consts = append(consts, lit)
				}
			}
		}
	}
	list := dlqReasonNames()
	slices.Sort(consts)
	slices.Sort(list)
	if len(consts) == 0 || !slices.Equal(consts, list) {
		t.Errorf("DLQReason constants %v, DLQReasons %v", consts, list)
	}
}
