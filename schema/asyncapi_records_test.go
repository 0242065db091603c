package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// goldenRecord is one raw record as ingest's golden files pin it.
type goldenRecord struct {
	key     string
	headers map[string]string
	value   []byte
}

// readGoldenRecord parses ingest's golden format: "key: K", "header N: V"
// lines, then "value:" and the JSON value. The placeholders of the values
// that change every run get a value of their form.
func readGoldenRecord(tb testing.TB, path string) goldenRecord {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	g := goldenRecord{headers: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "key: "):
			g.key = strings.TrimPrefix(l, "key: ")
		case strings.HasPrefix(l, "header "):
			k, v, _ := strings.Cut(strings.TrimPrefix(l, "header "), ": ")
			v = strings.NewReplacer("<uuidv7>", "0192f0c4-7b1e-7cc1-9f00-0000000000a1", "<time>", "2026-11-22T10:00:00.123456789Z").Replace(v)
			g.headers[k] = v
		case l == "value:":
			g.value = b[bytes.Index(b, []byte("\nvalue:\n"))+len("\nvalue:\n"):]
			return g
		}
	}
	tb.Fatalf("%s: no value", path)
	return g
}

// asyncAPISchemas compiles parts of asyncapi.yaml (JSON pointers into it)
// as JSON Schemas, formats asserted.
type asyncAPISchemas struct {
	c *jsonschema.Compiler
}

const asyncAPIDocURL = "file:///asyncapi.json"

func newAsyncAPISchemas(tb testing.TB) asyncAPISchemas {
	tb.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(asyncAPIDocURL, readAsyncAPI(tb)); err != nil {
		tb.Fatal(err)
	}
	return asyncAPISchemas{c}
}

func (s asyncAPISchemas) at(tb testing.TB, pointer string) *jsonschema.Schema {
	tb.Helper()
	sch, err := s.c.Compile(asyncAPIDocURL + "#" + pointer)
	if err != nil {
		tb.Fatalf("compile %s of asyncapi.yaml: %v", pointer, err)
	}
	return sch
}

// TestAsyncAPIDescribesIngestGoldens: every raw record ingest's golden files
// pin (each Aurora event, both LeadPro events, every accepted-with-problems
// shape) is a message of the raw channel as asyncapi.yaml describes it: its
// headers validate against the message's headers schema and are each
// declared there, its value against the payload schema, its key against
// the key binding. TestAsyncAPIMessagesNameTheirHeaders only looks at the
// retry and DLQ headers' names; this looks at whole records.
func TestAsyncAPIDescribesIngestGoldens(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "ingest", "testdata", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("found %d golden records in ingest/testdata", len(files))
	}
	doc := readAsyncAPI(t)
	schemas := dig(t, doc, "components", "schemas").(map[string]any)
	s := newAsyncAPISchemas(t)
	for _, f := range files {
		g := readGoldenRecord(t, f)
		msg := "AuroraDelivery"
		if strings.HasPrefix(g.headers[HeaderType], LeadProTypePrefix) {
			msg = "LeadProDelivery"
		}
		base := "/components/messages/" + msg
		declared := map[string]bool{}
		collectProperties(dig(t, doc, "components", "messages", msg, "headers"), schemas, declared)
		hs := map[string]any{}
		for k, v := range g.headers {
			hs[k] = v
			if !declared[k] {
				t.Errorf("%s: header %s is not declared on %s", filepath.Base(f), k, msg)
			}
			// asyncapi.yaml: UTF-8, but for the id's bytes as sent
			if k != HeaderSubject && k != HeaderPartitionKey && !utf8.ValidString(v) {
				t.Errorf("%s: header %s is not UTF-8", filepath.Base(f), k)
			}
		}
		if err := s.at(t, base+"/headers").Validate(hs); err != nil {
			t.Errorf("%s: headers do not validate against %s's: %v", filepath.Base(f), msg, err)
		}
		if err := s.at(t, base+"/bindings/kafka/key").Validate(g.key); err != nil {
			t.Errorf("%s: key does not validate against %s's key binding: %v", filepath.Base(f), msg, err)
		}
		if g.headers[HeaderPartitionKey] != g.key {
			t.Errorf("%s: ce_partitionkey %q is not the key %q", filepath.Base(f), g.headers[HeaderPartitionKey], g.key)
		}
		var v any
		if err := json.Unmarshal(g.value, &v); err != nil {
			t.Errorf("%s: value is not JSON: %v", filepath.Base(f), err)
			continue
		}
		if err := s.at(t, base+"/payload").Validate(v); err != nil {
			t.Errorf("%s: value does not validate against %s's payload: %v", filepath.Base(f), msg, err)
		}
	}
}

// TestAsyncAPIHeaderValues: the fixed header values asyncapi.yaml states
// are the ones the code writes.
func TestAsyncAPIHeaderValues(t *testing.T) {
	doc := readAsyncAPI(t)
	for _, c := range []struct {
		path []string
		want string
	}{
		{[]string{"RawHeaders", "properties", HeaderSpecVersion, "const"}, SpecVersion},
		{[]string{"RawHeaders", "properties", HeaderContentType, "const"}, ContentTypeJSON},
		{[]string{"LeadHeaders", "properties", HeaderSpecVersion, "const"}, SpecVersion},
		{[]string{"LeadHeaders", "properties", HeaderContentType, "const"}, ContentTypeJSON},
		{[]string{"LeadHeaders", "properties", HeaderType, "const"}, LeadEventType},
		{[]string{"LeadHeaders", "properties", HeaderDataSchema, "const"}, LeadSchemaID},
	} {
		if got := dig(t, doc, append([]string{"components", "schemas"}, c.path...)...); got != c.want {
			t.Errorf("asyncapi.yaml %s = %v, the code writes %q", strings.Join(c.path, "."), got, c.want)
		}
	}
	var lead map[string]any
	if err := json.Unmarshal(LeadSchema(), &lead); err != nil {
		t.Fatal(err)
	}
	if lead["$id"] != LeadSchemaID {
		t.Errorf("lead.schema.json $id %v, ce_dataschema %s", lead["$id"], LeadSchemaID)
	}
	desc := dig(t, doc, "components", "schemas", "RawHeaders", "properties", HeaderType, "description").(string)
	for _, want := range []string{AuroraTypePrefix, LeadProTypePrefix, InvalidEventName, EraseEventType, UneraseEventType} {
		if !strings.Contains(desc, want) {
			t.Errorf("RawHeaders ce_type's description does not name %s", want)
		}
	}
	tomb := map[string]bool{}
	collectProperties(dig(t, doc, "components", "messages", "LeadTombstone", "headers"), nil, tomb)
	if !tomb[HeaderErasedAt] {
		t.Errorf("LeadTombstone does not declare %s, which enrich writes on it", HeaderErasedAt)
	}
}

// TestAsyncAPIDescribesBuiltRecords: records built by the code that writes
// them (an erasure and an unerasure event, a lead's state) are messages as
// asyncapi.yaml describes them.
func TestAsyncAPIDescribesBuiltRecords(t *testing.T) {
	doc := readAsyncAPI(t)
	schemas := dig(t, doc, "components", "schemas").(map[string]any)
	s := newAsyncAPISchemas(t)
	at := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	for _, erase := range []bool{true, false} {
		r := ErasureEvent("0192f0c4-7b1e-7cc1-9f00-0000000000a1", AuroraKey("t1", "L1"), erase, at).Record()
		base := "/components/messages/ErasureEvent"
		declared := map[string]bool{}
		collectProperties(dig(t, doc, "components", "messages", "ErasureEvent", "headers"), schemas, declared)
		hs := map[string]any{}
		for _, h := range r.Headers {
			hs[h.Key] = string(h.Value)
			if !declared[h.Key] {
				t.Errorf("erasure event (erase %v): header %s is not declared", erase, h.Key)
			}
		}
		if err := s.at(t, base+"/headers").Validate(hs); err != nil {
			t.Errorf("erasure event (erase %v): headers: %v", erase, err)
		}
		if err := s.at(t, base+"/bindings/kafka/key").Validate(string(r.Key)); err != nil {
			t.Errorf("erasure event (erase %v): key: %v", erase, err)
		}
		var v any
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		if err := s.at(t, base+"/payload").Validate(v); err != nil {
			t.Errorf("erasure event (erase %v): payload: %v", erase, err)
		}
	}
	for _, st := range []LeadState{{}, {UpdatedAt: at, Hash: [16]byte{1, 2, 3}, Erased: true, Source: "api"}} {
		var v any
		if err := json.Unmarshal(EncodeLeadState(st), &v); err != nil {
			t.Fatal(err)
		}
		if err := s.at(t, "/components/messages/LeadState/payload").Validate(v); err != nil {
			t.Errorf("state %+v: payload: %v", st, err)
		}
	}
}
