package enrich

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestAsyncAPINamesTheOwnerKey: the state topic's owner record, which every
// reader of that topic must skip, has the key asyncapi.yaml tells them.
func TestAsyncAPINamesTheOwnerKey(t *testing.T) {
	b, err := os.ReadFile("../schema/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Messages map[string]struct {
				Bindings struct {
					Kafka struct {
						Key struct {
							Const string `yaml:"const"`
						}
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Components.Messages["StateOwner"].Bindings.Kafka.Key.Const; got != ownerKey {
		t.Errorf("asyncapi.yaml's StateOwner key is %q, enrich writes %q", got, ownerKey)
	}
}
