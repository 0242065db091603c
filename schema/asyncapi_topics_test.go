package schema_test

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/leadbridge/leadbridge/cmd/topics"
)

// TestAsyncAPIChannelsAreTheTopics: asyncapi.yaml has one channel per topic
// `topics create` makes, named by its role, at the default topic name, with
// the default partitions and the topic settings cmd/topics gives it
// (cleanup.policy, retention.ms).
func TestAsyncAPIChannelsAreTheTopics(t *testing.T) {
	b, err := os.ReadFile("asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Channels map[string]struct {
			Address  string
			Bindings struct {
				Kafka struct {
					Partitions         int32          `yaml:"partitions"`
					TopicConfiguration map[string]any `yaml:"topicConfiguration"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	def := topics.Defaults()
	specs := topics.Specs(def)
	var roles []string
	for _, s := range specs {
		roles = append(roles, s.Role)
		ch, ok := doc.Channels[s.Role]
		if !ok {
			t.Errorf("no channel %s for the %s topic", s.Role, s.Name)
			continue
		}
		if ch.Address != s.Name {
			t.Errorf("channel %s: address %s, the default topic name is %s", s.Role, ch.Address, s.Name)
		}
		k := ch.Bindings.Kafka
		if k.Partitions != def.Partitions {
			t.Errorf("channel %s: %d partitions, topics.partitions defaults to %d", s.Role, k.Partitions, def.Partitions)
		}
		got := map[string]string{}
		for key, v := range k.TopicConfiguration {
			if l, ok := v.([]any); ok && len(l) == 1 { // cleanup.policy is a list in the binding
				v = l[0]
			}
			got[key] = fmt.Sprint(v)
		}
		for key, want := range s.Configs {
			if got[key] != want {
				t.Errorf("channel %s: topicConfiguration %s = %q, topics create sets %q", s.Role, key, got[key], want)
			}
		}
		for key := range got {
			if _, ok := s.Configs[key]; !ok {
				t.Errorf("channel %s: topicConfiguration %s, which topics create does not set", s.Role, key)
			}
		}
	}
	for name := range doc.Channels {
		if !slices.Contains(roles, name) {
			t.Errorf("channel %s is no topic topics create makes", name)
		}
	}
}
