package ingest

import (
	"net/url"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/leadbridge/leadbridge/schema"
)

// Limits on an Aurora query string. Aurora's ids are UUIDs and its statuses
// short words; these bounds only keep hostile input out of the raw topic.
const (
	maxAuroraParams     = 32
	maxAuroraNameBytes  = 64
	maxAuroraValueBytes = 256
	// staticEventParam is the static attribute a url_template may carry
	// instead of putting the event in the path.
	staticEventParam = "aurora_event"
)

// ParseAurora turns an Aurora delivery into the event data of the raw topic.
// pathEvent is the {event} path segment ("" for the ?aurora_event= form) and
// rawQuery the undecoded query string. It checks that the event name has
// Aurora's form, that a known event carries its id attributes, and that every
// parameter appears once with a non-empty value of at most 256 bytes and no
// control characters. Unknown parameters are kept; aurora_event is not an
// attribute. Errors wrap ErrInvalid and name no value.
func ParseAurora(tenantID, pathEvent, rawQuery string) (schema.AuroraData, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return schema.AuroraData{}, invalid("query string is not valid")
	}
	if len(q) > maxAuroraParams {
		return schema.AuroraData{}, invalid("more than %d query parameters", maxAuroraParams)
	}
	event := pathEvent
	if vs, ok := q[staticEventParam]; ok {
		if len(vs) != 1 || (event != "" && vs[0] != event) {
			return schema.AuroraData{}, invalid("aurora_event does not match the event in the path")
		}
		event = vs[0]
		delete(q, staticEventParam)
	}
	if event == "" {
		return schema.AuroraData{}, invalid("no event: put it in the path or in aurora_event")
	}
	if !schema.ValidAuroraEventName(event) {
		return schema.AuroraData{}, invalid("event name must match [a-z0-9_]{1,64}")
	}
	attrs := make(map[string]string, len(q))
	for name, vs := range q {
		if !cleanString(name, maxAuroraNameBytes) {
			return schema.AuroraData{}, invalid("query parameter name is empty, too long or has control characters")
		}
		known := isAuroraAttribute(name)
		label := name
		if !known {
			label = "a query parameter" // never echo an unknown name back
		}
		if len(vs) != 1 {
			return schema.AuroraData{}, invalid("%s is given more than once", label)
		}
		if !cleanString(vs[0], maxAuroraValueBytes) {
			return schema.AuroraData{}, invalid("%s is empty, over %d bytes or has control characters", label, maxAuroraValueBytes)
		}
		attrs[name] = vs[0]
	}
	if ev, ok := schema.AuroraEvents[event]; ok {
		for _, id := range ev.Required() {
			if _, ok := attrs[id]; !ok {
				return schema.AuroraData{}, invalid("missing required attribute %s for %s", id, event)
			}
		}
	}
	return schema.AuroraData{Event: event, TenantID: tenantID, Attributes: attrs}, nil
}

// auroraEvent builds the raw-topic event of a parsed Aurora delivery.
func auroraEvent(d schema.AuroraData, id string, data []byte, now time.Time) schema.Event {
	ev := schema.Event{
		ID:     id,
		Source: schema.AuroraSource(d.TenantID),
		Type:   schema.AuroraTypePrefix + d.Event,
		Time:   now,
		Data:   data,
	}
	if main, ok := schema.AuroraMainID(d.Attributes); ok {
		ev.Subject = main
		ev.PartitionKey = schema.AuroraKey(d.TenantID, main)
	} else {
		// An event newer than our table with no id we know: keep the
		// tenant's deliveries of it together.
		ev.PartitionKey = schema.ProviderAurora + ":" + d.TenantID
	}
	return ev
}

func isAuroraAttribute(name string) bool { return slices.Contains(schema.AuroraAttributes, name) }

// cleanString: non-empty, at most max bytes, valid UTF-8, no control characters.
func cleanString(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
