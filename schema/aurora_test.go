package schema

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The event table may only use the contract's attribute names, and every
// event of the provider doc has at least one id attribute.
func TestAuroraEventTable(t *testing.T) {
	if len(AuroraEventNames()) != 26 {
		t.Fatalf("%d events, the provider doc lists 26", len(AuroraEventNames()))
	}
	for _, name := range AuroraEventNames() {
		ev, ok := AuroraEventNamed(name)
		if !ok || ev.Name() != name || !ValidAuroraEventName(name) {
			t.Errorf("bad entry %q", name)
		}
		for a := range ev.Attributes() {
			if !slices.Contains(AuroraAttributes(), a) {
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
	for _, e := range AuroraLeadEvents() {
		if _, ok := AuroraEventNamed(e); !ok {
			t.Errorf("lead event %s not in the table", e)
		}
	}
}

// The tables are read-only: what a caller does with what it got changes
// nothing for the next caller.
func TestTablesReadOnly(t *testing.T) {
	AuroraAttributes()[0] = "changed"
	AuroraLeadEvents()[0] = "changed"
	AuroraEventNames()[0] = "changed"
	LeadProTypes()[0] = "changed"
	LeadProStatuses()[0] = "changed"
	LeadProStages()[0] = "changed"
	LeadProPropertyTypes()[0] = "changed"
	if AuroraAttributes()[0] != "lead_id" || AuroraLeadEvents()[0] != "lead_created" || AuroraEventNames()[0] != "agreement_status_changed" ||
		LeadProTypes()[0] != "sale" || LeadProStatuses()[0] != "UNREAD" || LeadProStages()[0] != "NEW" || LeadProPropertyTypes()[0] != "detached" {
		t.Fatal("a table changed through a returned slice")
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

// ValidAuroraEventName is exactly ^[a-z0-9_]{1,64}$.
func FuzzValidAuroraEventName(f *testing.F) {
	re := regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	for _, s := range []string{"", "lead_created", "Lead", "a-b", strings.Repeat("a", 64), strings.Repeat("a", 65), "é", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidAuroraEventName(s), re.MatchString(s); got != want {
			t.Fatalf("ValidAuroraEventName(%q) = %v, regexp says %v", s, got, want)
		}
	})
}
