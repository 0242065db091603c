package bench

import (
	"strings"
	"testing"
	"time"
)

func TestPlanCheck(t *testing.T) {
	ok := Plan{Scenarios: []string{"latency", "quota", "poison"}, Events: 1, Members: 1, InFlight: 1,
		Latency: time.Millisecond, Rounds: 1, RPM: 1, Tenants: 1, QuotaLeads: 1, Poison: 1, RetryFor: time.Second}
	if err := ok.Check(); err != nil {
		t.Fatalf("a good plan: %v", err)
	}
	bad := ok
	bad.Rounds, bad.Scenarios = 0, []string{"latency", "speed"}
	err := bad.Check()
	if err == nil {
		t.Fatal("rounds 0 and an unknown scenario passed")
	}
	for _, want := range []string{"--rounds must be positive", `--scenario: "speed" is not latency, quota or poison`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}
