package schema

import (
	"go/ast"
	"go/parser"
	"go/token"
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
	var list []string
	for _, r := range DLQReasons() {
		list = append(list, string(r))
	}
	slices.Sort(consts)
	slices.Sort(list)
	if len(consts) == 0 || !slices.Equal(consts, list) {
		t.Errorf("DLQReason constants %v, DLQReasons %v", consts, list)
	}
}
