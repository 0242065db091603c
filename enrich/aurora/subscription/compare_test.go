package subscription

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets are compared in constant time (schema.Secret.Equal), never with
// == or != (which stop at the first differing byte), except against the
// empty string. The package's code is type-checked to find every
// comparison whose operand is a schema.Secret.
func TestSecretsAreNeverComparedWithEquals(t *testing.T) {
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check("subscription", fset, files, info); err != nil {
		t.Fatal(err)
	}
	isSecret := func(e ast.Expr) bool {
		n, ok := types.Unalias(info.TypeOf(e)).(*types.Named)
		return ok && n.Obj().Name() == "Secret" && n.Obj().Pkg().Path() == "github.com/leadbridge/leadbridge/schema"
	}
	isEmpty := func(e ast.Expr) bool {
		tv := info.Types[e]
		return tv.Value != nil && tv.Value.ExactString() == `""`
	}
	checked := 0
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			b, ok := n.(*ast.BinaryExpr)
			if !ok || (b.Op != token.EQL && b.Op != token.NEQ) {
				return true
			}
			checked++
			if (isSecret(b.X) || isSecret(b.Y)) && !isEmpty(b.X) && !isEmpty(b.Y) {
				t.Errorf("%s: a secret compared with %s; use Secret.Equal", fset.Position(b.Pos()), b.Op)
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no comparison found: the test would prove nothing")
	}
}
