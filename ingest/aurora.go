package ingest

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/leadbridge/leadbridge/schema"
)

// Aurora's overview decides how ingest reads a delivery: "you may specify
// which of the event's attributes should be included in the webhook's URL",
// and Aurora retries a 4xx "5 more times" and may then disable the
// subscription. So an authenticated delivery is never refused for what its
// query says: it is published, and what is odd is flagged.
const (
	// maxAuroraParams, maxAuroraNameBytes and maxAuroraValueBytes are what a
	// well-formed delivery stays within (ids are UUIDs, statuses short words);
	// beyond them a value is flagged, never cut.
	maxAuroraParams     = 32
	maxAuroraNameBytes  = 64
	maxAuroraValueBytes = 256
	// staticEventParam is the static attribute a url_template may carry
	// instead of putting the event in the path ("you can also include static
	// attributes like ?aurora_event=design_request_rejected").
	staticEventParam = "aurora_event"
)

// ParseAurora turns an authenticated Aurora delivery into the event data of
// the raw topic. pathEvent is the {event} path segment ("" for the
// ?aurora_event= form) and rawQuery the undecoded query string, kept verbatim
// in RawQuery. It never fails: a missing or unknown event, a missing, empty,
// repeated or unknown attribute, an unfilled <PLACEHOLDER>, control
// characters, a value over 256 bytes and a query that cannot be
// percent-decoded (then Attributes is empty) are each listed in Problems,
// and every value is kept.
func ParseAurora(tenantID, pathEvent, rawQuery string) schema.AuroraData {
	d := schema.AuroraData{Event: pathEvent, TenantID: tenantID, RawQuery: rawQuery}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		d.Attributes = map[string]string{}
		d.Problems = append(d.Problems, schema.Problem{Field: "query", Problem: "cannot be percent-decoded: the attributes are only in raw_query"})
		checkAuroraEvent(&d, false)
		return d
	}
	if vs, ok := q[staticEventParam]; ok {
		switch {
		case d.Event == "":
			d.Event = vs[0]
		case vs[0] != d.Event:
			d.Problems = append(d.Problems, schema.Problem{Field: staticEventParam, Problem: "differs from the event in the path, which is used"})
		}
		if len(vs) > 1 {
			d.Problems = append(d.Problems, schema.Problem{Field: staticEventParam, Problem: "given more than once: the first is used"})
		}
		delete(q, staticEventParam)
	}
	if len(q) > maxAuroraParams {
		d.Problems = append(d.Problems, schema.Problem{Field: "query", Problem: "more than " + strconv.Itoa(maxAuroraParams) + " parameters"})
	}
	d.Attributes = make(map[string]string, len(q))
	for name, vs := range q {
		d.Attributes[name] = vs[0]
		if len(vs) > 1 {
			if d.Repeated == nil {
				d.Repeated = make(map[string][]string)
			}
			d.Repeated[name] = vs
			d.Problems = append(d.Problems, schema.Problem{Field: name, Problem: "given " + strconv.Itoa(len(vs)) + " times: attributes has the first, repeated every value"})
		}
		if !cleanString(name, maxAuroraNameBytes) {
			d.Problems = append(d.Problems, schema.Problem{Field: "query", Problem: "a parameter name is empty, over 64 bytes or not clean text"})
		} else if !isAuroraAttribute(name) {
			d.Problems = append(d.Problems, schema.Problem{Field: name, Problem: "not an attribute Aurora documents"})
		}
		for _, v := range vs {
			if p := auroraValueProblem(v); p != "" {
				d.Problems = append(d.Problems, schema.Problem{Field: name, Problem: p})
			}
		}
	}
	checkAuroraEvent(&d, true)
	if len(d.Problems) > 1 {
		slices.SortFunc(d.Problems, func(a, b schema.Problem) int {
			if c := strings.Compare(a.Field, b.Field); c != 0 {
				return c
			}
			return strings.Compare(a.Problem, b.Problem)
		})
		d.Problems = slices.Compact(d.Problems)
	}
	return d
}

// checkAuroraEvent flags a missing, malformed or unknown event name, and,
// when the query was decoded, the documented attributes a known event's
// delivery lacks.
func checkAuroraEvent(d *schema.AuroraData, decoded bool) {
	switch {
	case d.Event == "":
		d.Problems = append(d.Problems, schema.Problem{Field: "event", Problem: "missing: neither in the path nor in aurora_event"})
		return
	case !schema.ValidAuroraEventName(d.Event):
		d.Problems = append(d.Problems, schema.Problem{Field: "event", Problem: "not of Aurora's form [a-z0-9_]{1,64}"})
		return
	}
	ev, ok := schema.AuroraEventNamed(d.Event)
	if !ok {
		d.Problems = append(d.Problems, schema.Problem{Field: "event", Problem: "not an event Aurora documents"})
		return
	}
	if !decoded {
		return
	}
	for a := range ev.Attributes() {
		if _, ok := d.Attributes[a]; !ok {
			d.Problems = append(d.Problems, schema.Problem{Field: a, Problem: "missing"})
		}
	}
}

// auroraValueProblem says what is odd about one query value, or "".
func auroraValueProblem(v string) string {
	switch {
	case v == "":
		return "empty"
	case len(v) > maxAuroraValueBytes:
		return "over " + strconv.Itoa(maxAuroraValueBytes) + " bytes"
	case !cleanString(v, maxAuroraValueBytes):
		return "has control characters or is not UTF-8"
	case len(v) > 2 && v[0] == '<' && v[len(v)-1] == '>':
		return "an unfilled template placeholder"
	}
	return ""
}

// auroraEvent builds the raw-topic event of a parsed Aurora delivery: keyed
// by its best id (schema.AuroraMainID), else by tenant.
func auroraEvent(d schema.AuroraData, id string, data []byte, now time.Time) schema.Event {
	name := d.Event
	if !schema.ValidAuroraEventName(name) {
		name = schema.InvalidEventName
	}
	ev := schema.Event{
		ID:     id,
		Source: schema.AuroraSource(d.TenantID),
		Type:   schema.AuroraTypePrefix + name,
		Time:   now,
		Data:   data,
	}
	if main, ok := schema.AuroraMainID(d.Attributes); ok {
		ev.Subject = main
		ev.PartitionKey = schema.AuroraKey(d.TenantID, main)
	} else {
		// No id to name the object: keep the tenant's deliveries together.
		ev.PartitionKey = schema.ProviderAurora + ":" + d.TenantID
	}
	return ev
}

// aurora handles GET /webhooks/aurora/:tenant_id[/:event].
func (s *Server) aurora(c echo.Context) (string, bool, error) {
	r := c.Request()
	tenantID := c.Param("tenant_id")
	if !s.tenants[tenantID].authenticate(r) {
		return knownOrOther(c.Param("event")), false, ErrUnauthorized
	}
	d := ParseAurora(tenantID, c.Param("event"), r.URL.RawQuery)
	event := knownOrOther(d.Event)
	if event == "other" {
		s.m.unknownEvent(d.Event)
	}
	data, err := json.Marshal(d)
	if err != nil {
		return event, false, err
	}
	return event, len(d.Problems) > 0, s.publish(c, auroraEvent(d, s.cfg.NewID(), data, s.cfg.Now().UTC()))
}

func isAuroraAttribute(name string) bool { return schema.IsAuroraAttribute(name) }

func knownOrOther(event string) string {
	if _, ok := schema.AuroraEventNamed(event); ok {
		return event
	}
	return "other"
}

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
