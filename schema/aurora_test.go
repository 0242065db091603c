package schema

import (
	"slices"
	"testing"
)

// The event table may only use the contract's attribute names, and every
// event of the provider doc has at least one id attribute.
func TestAuroraEventTable(t *testing.T) {
	if len(AuroraEvents) != 26 {
		t.Fatalf("%d events, the provider doc lists 26", len(AuroraEvents))
	}
	for name, ev := range AuroraEvents {
		if ev.Name != name || !ValidAuroraEventName(name) {
			t.Errorf("bad entry %q", name)
		}
		for _, a := range ev.Attributes {
			if !slices.Contains(AuroraAttributes, a) {
				t.Errorf("%s: attribute %q is not a contract attribute", name, a)
			}
		}
		if len(ev.Required()) == 0 {
			t.Errorf("%s has no id attribute", name)
		}
		if _, ok := AuroraMainID(map[string]string{ev.Required()[0]: "x"}); !ok {
			t.Errorf("%s: its first id is not a main id", name)
		}
	}
	for _, e := range AuroraLeadEvents {
		if _, ok := AuroraEvents[e]; !ok {
			t.Errorf("lead event %s not in the table", e)
		}
	}
}

func TestAuroraMainIDOrder(t *testing.T) {
	tests := map[string]struct {
		attrs map[string]string
		want  string
		ok    bool
	}{
		"lead first":      {map[string]string{"project_id": "P", "lead_id": "L"}, "L", true},
		"project":         {map[string]string{"agreement_id": "A", "project_id": "P"}, "P", true},
		"design over job": {map[string]string{"job_id": "J", "design_id": "D"}, "D", true},
		"none":            {map[string]string{"status": "x"}, "", false},
		"empty lead":      {map[string]string{"lead_id": "", "app_id": "A"}, "A", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := AuroraMainID(tc.attrs)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %q %v, want %q %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
