package schema

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	type cfg struct {
		Token Secret
		List  []Secret
	}
	c := cfg{Token: "hunter2", List: []Secret{"s3cr3t"}}
	j, _ := json.Marshal(c)
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", c.Token), "json": string(j),
	} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cr3t") {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
	}
	if c.Token.Reveal() != "hunter2" {
		t.Fatal("Reveal lost the value")
	}
}

func TestSecretEqual(t *testing.T) {
	for name, tc := range map[string]struct {
		a, b Secret
		want bool
	}{
		"same":          {"hunter2", "hunter2", true},
		"both empty":    {"", "", true},
		"differ":        {"hunter2", "hunter3", false},
		"prefix":        {"hunter2", "hunter", false},
		"one empty":     {"hunter2", "", false},
		"case":          {"Hunter2", "hunter2", false},
		"trailing byte": {"hunter2", "hunter2\n", false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.a.Equal(tc.b); got != tc.want || tc.b.Equal(tc.a) != tc.want {
				t.Fatalf("Equal = %v, want %v", got, tc.want)
			}
		})
	}
}
