package schema

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// BenchmarkLeadFromAurora maps the golden Retrieve Lead body: enrich does
// this once per lead record, so its allocations are per-record CPU.
func BenchmarkLeadFromAurora(b *testing.B) {
	body := readTestdata(b, "aurora-retrieve-lead.json")
	ev := auroraLeadEvent(b, testTenant)
	hook := AuroraWebhook{Source: "lcai"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LeadFromAurora(ev, testTenant, hook, body); err != nil {
			b.Fatal(err)
		}
	}
}

// decodeScalar must read every literal it accepts exactly as the Decoder
// with UseNumber does.
func TestDecodeScalarMatchesDecoder(t *testing.T) {
	for _, raw := range []string{`null`, `true`, `false`, `0`, `-1.5e3`, `12345678901234567890`,
		`""`, `"plain ascii"`, `"a\"b"`, `"tab\t"`, `"\u00e9"`, `"é"`, "\"\xff\"", `"<&>"`, `[1]`, `{"a":1}`} {
		want, werr := decodeValueWithDecoder(json.RawMessage(raw))
		if werr != nil {
			t.Fatalf("%s: %v", raw, werr)
		}
		got, ok := decodeScalar(json.RawMessage(raw))
		if !ok {
			continue // the Decoder's path: equal by construction
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decodeScalar %#v, Decoder %#v", raw, got, want)
		}
	}
}

func decodeValueWithDecoder(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}
