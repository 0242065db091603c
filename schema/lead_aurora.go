package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// AuroraWebhook is what Aurora's webhooks said about a lead, beside what
// Retrieve Lead returns: the API shows neither the lead's source nor, for a
// while after conversion, always its project.
type AuroraWebhook struct {
	// Source is lead_created's source: "The SOURCE of a lead can either be
	// lcai or api".
	Source string
	// ProjectID is lead_converted's project_id: "Fires upon a lead being
	// converted into a project".
	ProjectID string
}

// AuroraWebhookOf reads the webhook facts of the raw Aurora events evs, given
// in raw-topic order (a later non-empty value wins): source from
// lead_created, project_id from lead_converted. Events it cannot read add
// nothing.
func AuroraWebhookOf(evs ...Event) AuroraWebhook {
	var w AuroraWebhook
	for _, ev := range evs {
		var d AuroraData
		if json.Unmarshal(ev.Data, &d) != nil {
			continue
		}
		w = w.With(d)
	}
	return w
}

// With is w followed by the webhook d, one event's decoded data: what d says
// (lead_created's source, lead_converted's project_id) wins when non-empty.
// A caller that has already decoded an event's data reads its facts without
// decoding it again.
func (w AuroraWebhook) With(d AuroraData) AuroraWebhook {
	switch d.Event {
	case "lead_created":
		if s := d.Attributes["source"]; s != "" {
			w.Source = s
		}
	case "lead_converted":
		if p := d.Attributes["project_id"]; p != "" {
			w.ProjectID = p
		}
	}
	return w
}

// LeadFromAurora maps Aurora's Retrieve Lead response body, fetched for the
// raw event ev of tenant tenantID, to a lead record; hook is what the lead's
// webhooks said (AuroraWebhookOf). It is pure.
//
//   - lead_id is the body's id (a string, or a number's literal text), and the
//     key AuroraKey(tenantID, id).
//   - source is hook.Source: Retrieve Lead does not return it.
//   - project_id is the body's, else hook.ProjectID: a lead_converted webhook
//     can arrive before the API shows the project.
//   - status is the body's status when it has a non-empty one (the
//     documented response has none today); else it is derived from
//     project_id: StatusConverted when there is one ("Fires upon a lead being
//     converted into a project"), else StatusOpen.
//   - address is the lead's own address with its coordinates; postcode is a
//     US ZIP (12345 or 12345-6789) only when the line clearly ends in one,
//     after a two-letter state (", CA, 94107", ", CA 94107-1234", optionally
//     followed by ", USA"); otherwise postcode is absent, never guessed.
//     customer.customer_address is the contact's mailing address
//     (contact.address), never merged into it.
//   - contact.full_name is first and last name joined by a space, or the one
//     given; Aurora has no title.
//   - created_at and updated_at are normalised to UTC.
//
// provider_fields is the whole body, compacted. A value of the wrong type, a
// timestamp that is not RFC 3339, an email that is not an address or a
// coordinate out of range is left out of its mapped field (or kept, for email
// and coordinates) and reported in validation_problems. The error, wrapping
// ErrUnmappableLead, is only for a body that is not a JSON object, lacks an
// id, or an event or tenant that cannot name the record.
func LeadFromAurora(ev Event, tenantID string, hook AuroraWebhook, body []byte) (Lead, error) {
	if err := checkSourceEvent(ev); err != nil {
		return Lead{}, err
	}
	if tenantID == "" {
		return Lead{}, fmt.Errorf("%w: no tenant id", ErrUnmappableLead)
	}
	raw, compact, err := readObject(body)
	if err != nil {
		return Lead{}, fmt.Errorf("%w: aurora lead: %w", ErrUnmappableLead, err)
	}
	var problems []ValidationProblem
	f := fields{raw: raw, problems: &problems}
	id, err := leadID(f)
	if err != nil {
		return Lead{}, fmt.Errorf("%w: aurora lead: %w", ErrUnmappableLead, err)
	}
	l := Lead{
		Key:            AuroraKey(tenantID, id),
		Provider:       ProviderAurora,
		TenantID:       tenantID,
		LeadID:         id,
		Source:         hook.Source,
		SourceEvent:    sourceEvent(ev),
		ProviderFields: compact,
	}

	l.ProjectID, _ = f.str("project_id")
	if l.ProjectID == "" {
		l.ProjectID = hook.ProjectID
	}
	status, _ := f.str("status")
	switch {
	case status != "":
		l.Status = status
	case l.ProjectID != "":
		l.Status = StatusConverted
	default:
		l.Status = StatusOpen
	}

	if c, ok := f.object("customer"); ok {
		l.Contact.FirstName, _ = c.str("customer_first_name")
		l.Contact.LastName, _ = c.str("customer_last_name")
		l.Contact.FullName = strings.TrimSpace(l.Contact.FirstName + " " + l.Contact.LastName)
		l.Contact.Email, _ = c.str("customer_email")
		if l.Contact.Email != "" && !validEmail(l.Contact.Email) {
			c.add("customer_email", "not a valid email address")
		}
		l.Contact.Phone, _ = c.str("customer_phone")
		l.Contact.Address, _ = c.str("customer_address")
	}

	l.Address.Line, _ = f.str("address")
	l.Address.Postcode = usZIP(l.Address.Line)
	l.Address.Latitude = coordinate(f, "latitude", 90)
	l.Address.Longitude = coordinate(f, "longitude", 180)

	l.CreatedAt = f.timestamp("created_at")
	l.UpdatedAt = f.timestamp("updated_at")
	l.ValidationProblems = problems
	return l, nil
}

// usZIPAtEnd: a two-letter state, then a ZIP or ZIP+4, then at most a country.
var usZIPAtEnd = regexp.MustCompile(`,\s*[A-Z]{2}(?:\s+|\s*,\s*)(\d{5}(?:-\d{4})?)(?:\s*,\s*(?:USA|US|United States))?\s*$`)

// usZIP returns the ZIP code a US address line clearly ends in, or "".
func usZIP(line string) string {
	if m := usZIPAtEnd.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}

// coordinate returns the number name, kept as written; a value beyond ±limit
// degrees is kept too, and reported.
func coordinate(f fields, name string, limit float64) json.Number {
	n, ok := f.num(name)
	if !ok {
		return ""
	}
	if v, err := strconv.ParseFloat(string(n), 64); err != nil || v < -limit || v > limit {
		f.add(name, "out of range: must be within ±%g degrees", limit)
	}
	return n
}

// leadID reads the lead id of a provider object: a non-empty string, or a
// number's literal text (the decimal string of an integer id).
func leadID(f fields) (string, error) {
	v, ok := f.value("id")
	if !ok {
		return "", fmt.Errorf("no id")
	}
	switch v := v.(type) {
	case string:
		if v == "" {
			return "", fmt.Errorf("empty id")
		}
		if strings.ContainsFunc(v, isControl) {
			return "", fmt.Errorf("id has control characters")
		}
		return v, nil
	case json.Number:
		return v.String(), nil
	}
	return "", fmt.Errorf("id must be a string or a number, got %s", jsonType(v))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func checkSourceEvent(ev Event) error {
	if ev.ID == "" || ev.Type == "" {
		return fmt.Errorf("%w: source event has no id or type", ErrUnmappableLead)
	}
	return nil
}

func sourceEvent(ev Event) SourceEvent {
	return SourceEvent{ID: ev.ID, Type: ev.Type, Time: formatTime(ev.Time)}
}
