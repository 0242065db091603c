package topics

import "testing"

func TestResolve(t *testing.T) {
	c := Config{Raw: "r.raw", Leads: "r.leads", DLQ: "r.dlq", Retry: "r.retry"}
	for name, want := range map[string]string{"raw": "r.raw", "leads": "r.leads", "dlq": "r.dlq",
		"retry": "retry", "r.raw": "r.raw", "other.topic": "other.topic"} {
		if got := c.Resolve(name); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", name, got, want)
		}
	}
}
