package schema

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const asyncAPISchemaID = "http://asyncapi.com/definitions/3.0.0/asyncapi.json"

// readAsyncAPI reads asyncapi.yaml as JSON-compatible values.
func readAsyncAPI(tb testing.TB) map[string]any {
	tb.Helper()
	b, err := os.ReadFile("asyncapi.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		tb.Fatalf("asyncapi.yaml: %v", err)
	}
	// Round-trip through JSON: the validator wants JSON's types, and a YAML
	// feature JSON lacks (a non-string key) fails here.
	j, err := json.Marshal(doc)
	if err != nil {
		tb.Fatalf("asyncapi.yaml is not JSON-compatible: %v", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		tb.Fatal(err)
	}
	return v.(map[string]any)
}

// TestAsyncAPIValidates checks asyncapi.yaml against the AsyncAPI 3.0.0 JSON
// Schema as @asyncapi/specs ships it (testdata, with its license notice).
func TestAsyncAPIValidates(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "asyncapi-3.0.0.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(asyncAPISchemaID, meta); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(asyncAPISchemaID)
	if err != nil {
		t.Fatalf("compile the AsyncAPI schema: %v", err)
	}
	doc := readAsyncAPI(t)
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("asyncapi.yaml is not valid AsyncAPI 3.0:\n%v", err)
	}

	// The validator must be able to fail: a document without info is invalid.
	broken := map[string]any{}
	for k, v := range doc {
		broken[k] = v
	}
	delete(broken, "info")
	if sch.Validate(broken) == nil {
		t.Fatal("a document without info validated: the check proves nothing")
	}
}

// TestAsyncAPILeadsReferencesTheLeadSchema pins that the leads payload is
// lead.schema.json itself, not a copy that could drift.
func TestAsyncAPILeadsReferencesTheLeadSchema(t *testing.T) {
	doc := readAsyncAPI(t)
	payload := dig(t, doc, "components", "messages", "Lead", "payload").(map[string]any)
	ref := dig(t, payload, "schema", "$ref").(string)
	if ref != "./lead.schema.json" {
		t.Fatalf("Lead payload $ref = %q", ref)
	}
	if _, err := os.Stat(ref); err != nil {
		t.Fatalf("the referenced schema: %v", err)
	}
	if !strings.Contains(payload["schemaFormat"].(string), "2020-12") {
		t.Errorf("schemaFormat %q does not say draft 2020-12, the lead schema's dialect", payload["schemaFormat"])
	}
}

// TestAsyncAPINamesEveryHeader checks that every header name the code writes
// (the Header* constants of this package, and the ce_ extension of lead
// records) is a header of some message in asyncapi.yaml.
func TestAsyncAPINamesEveryHeader(t *testing.T) {
	doc := readAsyncAPI(t)
	documented := map[string]bool{}
	schemas := dig(t, doc, "components", "schemas").(map[string]any)
	for _, m := range dig(t, doc, "components", "messages").(map[string]any) {
		if h, ok := m.(map[string]any)["headers"]; ok {
			collectProperties(h, schemas, documented)
		}
	}
	written := headerConstants(t)
	written = append(written, "ce_"+ExtRawType)
	if len(written) < 15 {
		t.Fatalf("found only %d header constants: the collector is broken", len(written))
	}
	for _, h := range written {
		if !documented[h] {
			t.Errorf("header %q is written by leadbridge but not described in asyncapi.yaml", h)
		}
	}
}

// headerConstants parses this package's sources for string constants whose
// name starts with Header: every header name lives there.
func headerConstants(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for _, v := range namedHeaderConstants(tb) {
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// namedHeaderConstants is headerConstants by constant name.
func namedHeaderConstants(tb testing.TB) map[string]string {
	tb.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			tb.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Header") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						out[id.Name] = v
					}
				}
			}
		}
	}
	return out
}

// TestAsyncAPIMessagesNameTheirHeaders checks, message by message, that the
// headers enrich adds to a record it moves to the retry topic or the DLQ
// (the HeaderRetry* and HeaderDLQ* constants) are declared on that message,
// not merely somewhere in the document.
func TestAsyncAPIMessagesNameTheirHeaders(t *testing.T) {
	doc := readAsyncAPI(t)
	schemas := dig(t, doc, "components", "schemas").(map[string]any)
	named := namedHeaderConstants(t)
	for msg, prefix := range map[string]string{"Retry": "HeaderRetry", "DeadLetter": "HeaderDLQ"} {
		declared := map[string]bool{}
		collectProperties(dig(t, doc, "components", "messages", msg, "headers"), schemas, declared)
		n := 0
		for name, h := range named {
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			n++
			if !declared[h] {
				t.Errorf("%s (%q) is written on %s records but not declared in asyncapi.yaml's %s message", name, h, msg, msg)
			}
		}
		if n < 3 {
			t.Errorf("found %d %s* constants: the collector is broken", n, prefix)
		}
		for _, raw := range []string{HeaderID, HeaderType, HeaderSource} { // the raw record's headers travel along
			if !declared[raw] {
				t.Errorf("%s does not declare the raw record's %s header", msg, raw)
			}
		}
	}
}

// collectProperties adds the property names of a headers schema, following
// local $refs and allOf/anyOf/oneOf.
func collectProperties(s any, schemas map[string]any, into map[string]bool) {
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	if ref, ok := m["$ref"].(string); ok {
		if name, ok := strings.CutPrefix(ref, "#/components/schemas/"); ok {
			collectProperties(schemas[name], schemas, into)
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for k := range props {
			into[k] = true
		}
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := m[k].([]any); ok {
			for _, sub := range list {
				collectProperties(sub, schemas, into)
			}
		}
	}
}

func dig(tb testing.TB, v any, path ...string) any {
	tb.Helper()
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			tb.Fatalf("asyncapi.yaml: %s is not an object", p)
		}
		if v, ok = m[p]; !ok {
			tb.Fatalf("asyncapi.yaml: no %s in %s", p, strings.Join(path, "."))
		}
	}
	return v
}
