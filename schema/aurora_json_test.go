package schema

import (
	"bytes"
	"encoding/json"
	"testing"
)

// AppendJSON is json.Marshal, byte for byte: the raw topic's goldens and
// every consumer see the same value whichever encoder wrote it.
func FuzzAuroraDataAppendJSON(f *testing.F) {
	f.Add("lead_created", "T", "lead_id", "L1", "source", "", "lead_id=L1&source=", "event", "missing", true, false)
	f.Add("", "t<&>", "a\u2028b", "\xff\x00\"\\", "é", "\t\n\r\b\f\x7f", "%zz;", "q", "p", false, true)
	f.Fuzz(func(t *testing.T, event, tenant, k1, v1, k2, v2, raw, field, problem string, nilAttrs, repeated bool) {
		d := AuroraData{Event: event, TenantID: tenant, RawQuery: raw}
		if !nilAttrs {
			d.Attributes = map[string]string{k1: v1, k2: v2}
		}
		if repeated {
			d.Repeated = map[string][]string{k1: {v1, v2}, k2: nil, raw: {}}
		}
		if field != "" || problem != "" {
			d.Problems = []Problem{{Field: field, Problem: problem}, {Field: v1, Problem: k2}}
		}
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON\n%s\njson.Marshal\n%s", got, want)
		}
	})
}

func TestAuroraDataAppendJSONEmpty(t *testing.T) {
	for _, d := range []AuroraData{{}, {Attributes: map[string]string{}, Repeated: map[string][]string{}, Problems: []Problem{}}} {
		want, _ := json.Marshal(d)
		if got := d.AppendJSON([]byte("x")); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("got %s, want x%s", got, want)
		}
	}
}
