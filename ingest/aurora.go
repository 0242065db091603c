package ingest

import (
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
	// maxAuroraProblems bounds the problems listed for one delivery (a
	// hostile query could carry thousands); the rest are counted.
	maxAuroraProblems = 64
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
	var ok bool
	d.Attributes, d.Repeated, ok = parseQuery(rawQuery)
	if !ok {
		d.Attributes, d.Repeated = map[string]string{}, nil
		d.Problems = append(d.Problems, schema.Problem{Field: "query", Problem: "cannot be percent-decoded: the attributes are only in raw_query"})
		checkAuroraEvent(&d, false)
		return d
	}
	if ev, ok := d.Attributes[staticEventParam]; ok {
		switch {
		case d.Event == "":
			d.Event = ev
		case ev != d.Event:
			d.Problems = append(d.Problems, schema.Problem{Field: staticEventParam, Problem: "differs from the event in the path, which is used"})
		}
		if d.Repeated[staticEventParam] != nil {
			d.Problems = append(d.Problems, schema.Problem{Field: staticEventParam, Problem: "given more than once: the first is used"})
			delete(d.Repeated, staticEventParam)
			if len(d.Repeated) == 0 {
				d.Repeated = nil
			}
		}
		delete(d.Attributes, staticEventParam)
	}
	if len(d.Attributes) > maxAuroraParams {
		d.Problems = append(d.Problems, schema.Problem{Field: "query", Problem: "more than " + strconv.Itoa(maxAuroraParams) + " parameters"})
	}
	for name, v := range d.Attributes {
		if !cleanString(name, maxAuroraNameBytes) {
			d.Problems = append(d.Problems, schema.Problem{Field: "query", Problem: "a parameter name is empty, over 64 bytes or not clean text"})
		} else if !isAuroraAttribute(name) {
			d.Problems = append(d.Problems, schema.Problem{Field: name, Problem: "not an attribute Aurora documents"})
		}
		vs := d.Repeated[name]
		if vs == nil {
			if p := auroraValueProblem(v); p != "" {
				d.Problems = append(d.Problems, schema.Problem{Field: name, Problem: p})
			}
			continue
		}
		d.Problems = append(d.Problems, schema.Problem{Field: name, Problem: "given " + strconv.Itoa(len(vs)) + " times: attributes has the first, repeated every value"})
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
	if n := len(d.Problems); n > maxAuroraProblems {
		d.Problems = append(d.Problems[:maxAuroraProblems:maxAuroraProblems],
			schema.Problem{Field: "query", Problem: strconv.Itoa(n-maxAuroraProblems) + " more problems not listed"})
	}
	return d
}

// maxURLQueryParams is net/url's limit on a query's parameters: past it,
// url.ParseQuery fails, and so does parseQuery.
const maxURLQueryParams = 10000

// parseQuery decodes a query string as url.ParseQuery does, with the same
// failures (a semicolon, a bad percent escape, over 10,000 parameters), but
// straight into the first value of each name and, for a name given more than
// once, every value in order. ok is false when the query cannot be decoded.
func parseQuery(query string) (attrs map[string]string, repeated map[string][]string, ok bool) {
	n := strings.Count(query, "&") + 1
	if n > maxURLQueryParams {
		return nil, nil, false
	}
	attrs = make(map[string]string, min(n, maxAuroraParams))
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if strings.Contains(pair, ";") {
			return nil, nil, false
		}
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return nil, nil, false
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return nil, nil, false
		}
		first, seen := attrs[k]
		if !seen {
			attrs[k] = v
			continue
		}
		if repeated == nil {
			repeated = make(map[string][]string)
		}
		if repeated[k] == nil {
			repeated[k] = []string{first}
		}
		repeated[k] = append(repeated[k], v)
	}
	return attrs, repeated, true
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
func (s *Server) aurora(c echo.Context) (handled, error) {
	r := c.Request()
	tenantID := c.Param("tenant_id")
	if !s.tenants[tenantID].authenticate(r) {
		// Counted under "other": no label of an unauthenticated request is
		// derived from what it says.
		return handled{event: "other"}, ErrUnauthorized
	}
	d := ParseAurora(tenantID, c.Param("event"), r.URL.RawQuery)
	res := handled{event: knownOrOther(d.Event), flagged: len(d.Problems) > 0}
	if res.event == "other" {
		s.m.unknownEvent(d.Event)
	}
	data := d.AppendJSON(make([]byte, 0, 128+len(d.Event)+len(d.TenantID)+2*len(d.RawQuery)))
	ev := auroraEvent(d, s.cfg.NewID(), data, s.cfg.Now().UTC())
	res.eventID = ev.ID
	return res, s.publish(c, ev)
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
