package simulate

import (
	"testing"

	"github.com/leadbridge/leadbridge/schema"
)

// A flag wins over its LEADBRIDGE_SIM_* variable; the variable fills what
// the flags leave empty; nothing else is read from the environment.
func TestCredsOrEnv(t *testing.T) {
	env := map[string]string{EnvToken: "env-token", EnvPassword: "env-pass", EnvSecret: "env-secret"}
	getenv := func(k string) string { return env[k] }
	got := Creds{Token: "flag-token", Header: "X-H", BasicUser: "u"}.OrEnv(getenv)
	want := Creds{Token: "flag-token", BasicPass: "env-pass", Secret: "env-secret", Header: "X-H", BasicUser: "u"}
	if got != want {
		t.Fatalf("OrEnv = %#v, want %#v", got, want)
	}
	if got := (Creds{}).OrEnv(func(string) string { return "" }); got != (Creds{}) {
		t.Fatalf("OrEnv with no environment = %#v", got)
	}
	if got := (Creds{Secret: schema.Secret("s")}).OrEnv(getenv).Secret; got != "s" {
		t.Fatalf("the --secret flag lost to the environment: %q", got)
	}
}
