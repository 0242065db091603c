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
