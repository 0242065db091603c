package enrich

import (
	"os"
	"slices"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/schema"
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

// TestAsyncAPIDeclaresLeadHeaders: a lead record carries every header
// asyncapi.yaml's LeadHeaders requires, and none it does not declare.
func TestAsyncAPIDeclaresLeadHeaders(t *testing.T) {
	b, err := os.ReadFile("../schema/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				LeadHeaders struct {
					Required   []string       `yaml:"required"`
					Properties map[string]any `yaml:"properties"`
				} `yaml:"LeadHeaders"`
			}
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	lh := doc.Components.Schemas.LeadHeaders
	if len(lh.Required) < 5 {
		t.Fatalf("LeadHeaders requires only %v", lh.Required)
	}
	raw := schema.Event{ID: "0192f0c4-7b1e-7cc1-9f00-0000000000a1", Source: schema.AuroraSource("t1"),
		Type: schema.AuroraTypePrefix + "lead_created", Time: time.Now(), PartitionKey: schema.AuroraKey("t1", "L1")}
	r := leadEvent(schema.Lead{Key: schema.AuroraKey("t1", "L1"), LeadID: "L1"}, raw, []byte("{}")).Record()
	var got []string
	for _, h := range r.Headers {
		got = append(got, h.Key)
		if _, ok := lh.Properties[h.Key]; !ok {
			t.Errorf("a lead record carries %s, which LeadHeaders does not declare", h.Key)
		}
	}
	for _, k := range lh.Required {
		if !slices.Contains(got, k) {
			t.Errorf("LeadHeaders requires %s, which a lead record does not carry", k)
		}
	}
}
