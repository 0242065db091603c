package schema

import "testing"

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
