package subscription

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/schema"
)

func TestDecodeIsTolerant(t *testing.T) {
	for name, body := range map[string]string{
		"wrapped":    `{"webhooks":[{"id":"w1","event":"lead_created","enabled":false,"header_auth_key":"X-T"}]}`,
		"bare":       `[{"id":"w1","event":"lead_created","enabled":false,"header_auth_key":"X-T","extra":{"a":1}}]`,
		"numeric id": `{"webhooks":[{"id":1e0,"event":"lead_created","enabled":false,"header_auth_key":"X-T"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := decodeList([]byte(body))
			if err != nil || len(got) != 1 {
				t.Fatalf("%v %v", got, err)
			}
			if got[0].Event != "lead_created" || got[0].Enabled || got[0].Auth() != "header" || got[0].ID == "" {
				t.Errorf("%+v", got[0])
			}
		})
	}
	for name, body := range map[string]string{
		"wrapped": `{"webhook":{"id":7,"event":"lead_changed"}}`,
		"bare":    `{"id":"7","event":"lead_changed"}`,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := decodeOne([]byte(body))
			if err != nil || got.ID != "7" || got.Event != "lead_changed" || !got.Enabled {
				t.Fatalf("%+v %v", got, err)
			}
		})
	}
	if _, err := decodeList([]byte(`{"webhooks":[{"id":true}]}`)); err == nil {
		t.Error("a boolean id decoded")
	}
}

func TestWireBodyCarriesTheSecretOnlyThere(t *testing.T) {
	w := Webhook{Event: "lead_created", HeaderAuthKey: "X-T", HeaderAuthValue: schema.Secret("s3cret"), Enabled: true}
	b, err := json.Marshal(map[string]any{"webhook": toWire(w, true)})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"header_auth_value":"s3cret"`, `"basic_auth_username":""`, `"enabled":true`} {
		if !strings.Contains(s, want) {
			t.Errorf("update body %s lacks %s", s, want)
		}
	}
	b, _ = json.Marshal(toWire(w, false))
	if strings.Contains(string(b), "basic_auth") {
		t.Errorf("create body names the unused auth kind: %s", b)
	}
	// %v of the domain type never shows it.
	if v := strings.Join([]string{string(must(json.Marshal(w)))}, ""); strings.Contains(v, "s3cret") {
		t.Errorf("Webhook marshals its secret: %s", v)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
