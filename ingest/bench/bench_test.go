package bench

import (
	"slices"
	"testing"

	"github.com/leadbridge/leadbridge/schema"
)

// A LeadPro round runs without naive, and the servers of a later round (an
// Aurora one after it, --provider leadpro,aurora) are still all of them:
// dropping naive never changes Servers.
func TestServersOfARoundLeaveServersAlone(t *testing.T) {
	want := slices.Clone(Servers)
	for _, baseline := range []string{"", "/tmp/leadbridge-old"} {
		b := &Ingest{Baseline: baseline}
		for _, provider := range []string{schema.ProviderLeadPro, schema.ProviderAurora} {
			got := b.roundServers(provider)
			if slices.Contains(got, "") {
				t.Fatalf("baseline %q, %s: servers %q", baseline, provider, got)
			}
			if naive := slices.Contains(got, ServerNaive); naive != (provider == schema.ProviderAurora) {
				t.Errorf("baseline %q, %s: servers %q", baseline, provider, got)
			}
		}
		if !slices.Equal(Servers, want) {
			t.Fatalf("Servers is %q after a LeadPro round, want %q", Servers, want)
		}
	}
}
