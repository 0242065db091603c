package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LeadProTypes, LeadProStatuses, LeadProStages and LeadProPropertyTypes
// return LeadPro's enumerations, from the field table of its webhook doc, in
// the doc's order (each a new slice).
func LeadProTypes() []string         { return slices.Clone(leadProTypes) }
func LeadProStatuses() []string      { return slices.Clone(leadProStatuses) }
func LeadProStages() []string        { return slices.Clone(leadProStages) }
func LeadProPropertyTypes() []string { return slices.Clone(leadProPropertyTypes) }

var (
	leadProTypes    = []string{"sale", "vendor", "landlord", "let", "mortgage_request"}
	leadProStatuses = []string{"UNREAD", "IN_PROGRESS", "NO_BUSINESS", "BUSINESS", "DUPLICATE"}
	// leadProStages: the doc prints "NEW CONTACTED", "WON VALUATION_BOOKED"
	// and "SPAM DELETED" with the commas missing; every other value is one
	// upper-case identifier, so each of those is two values.
	leadProStages = []string{
		"NEW", "CONTACTED", "KEEP_IN_TOUCH", "LOST", "NOT_CONTACTABLE", "WON",
		"VALUATION_BOOKED", "INSTRUCTED", "VIEWING_BOOKED", "REGISTERED",
		"DUPLICATE", "SPAM", "DELETED",
	}
	leadProPropertyTypes = []string{"detached", "semi-detached", "terraced", "flat-maisonette"}
)

// LeadProDefaultSource is a LeadPro lead's source when the payload gives
// none: "If no source is submitted source will default to 'homepage'".
const LeadProDefaultSource = "homepage"

// LeadFromLeadPro maps a raw LeadPro event to a lead record. ev.Data is the
// verified JWT payload, {"event": "lead.created"|"lead.updated", "data": {...}},
// and ev.Source names the account (LeadProSource). It is pure.
//
//   - lead_id is data.id: a number's literal text (its decimal string) or a
//     string as sent; the key is LeadProKey(account, lead_id).
//   - contact: title, first_name, last_name, full_name, email, phone. A phone
//     sent as a JSON number is kept as the number's text, with a problem: a
//     number cannot carry a leading zero, and UK numbers have one.
//   - source is data.source as sent, else "homepage": "If no source is
//     submitted source will default to 'homepage'". type is data.type as sent.
//   - address: address and postcode, the contact's. property: for sale and
//     let leads, advert_address and advert_postcode, the advertised property
//     enquired about. LeadPro gives no coordinates.
//   - status is data.status as sent, even outside LeadPro's list; when it is
//     absent, empty or not a string, StatusUnknown.
//   - created_at is createdAt normalised to UTC; LeadPro states no update time.
//
// Every rule of the doc's field table that the payload alone can show is
// checked; a value that breaks one is kept (in provider_fields, and in its
// mapped field) and reported in validation_problems, in the table's order.
// provider_fields is the data object, compacted. The error, wrapping
// ErrUnmappableLead, is for a payload that is not a JSON object with a known
// event and a data object with an id, or an event without an account.
func LeadFromLeadPro(ev Event) (Lead, error) {
	if err := checkSourceEvent(ev); err != nil {
		return Lead{}, err
	}
	account, ok := strings.CutPrefix(ev.Source, LeadProSource(""))
	if !ok || account == "" {
		return Lead{}, fmt.Errorf("%w: source is not a LeadPro account", ErrUnmappableLead)
	}
	payload, _, err := readObject(ev.Data)
	if err != nil {
		return Lead{}, fmt.Errorf("%w: leadpro payload: %w", ErrUnmappableLead, err)
	}
	if event, _ := decodeValue(payload["event"]); event != LeadProLeadCreated && event != LeadProLeadUpdated {
		return Lead{}, fmt.Errorf("%w: leadpro event must be %s or %s", ErrUnmappableLead, LeadProLeadCreated, LeadProLeadUpdated)
	}
	rawData, ok := payload["data"]
	if !ok {
		return Lead{}, fmt.Errorf("%w: leadpro payload has no data", ErrUnmappableLead)
	}
	data, compact, err := readObject(rawData)
	if err != nil {
		return Lead{}, fmt.Errorf("%w: leadpro data: %w", ErrUnmappableLead, err)
	}
	var problems []ValidationProblem
	f := fields{raw: data, problems: &problems}
	id, err := leadID(f)
	if err != nil {
		return Lead{}, fmt.Errorf("%w: leadpro data: %w", ErrUnmappableLead, err)
	}
	l := Lead{
		Key:            LeadProKey(account, id),
		Provider:       ProviderLeadPro,
		AccountID:      account,
		LeadID:         id,
		SourceEvent:    sourceEvent(ev),
		ProviderFields: compact,
	}
	mapLeadPro(f, &l)
	l.ValidationProblems = problems
	return l, nil
}

// length is a length rule of the field table, in characters; min 0 is none.
type length struct{ min, max int }

// mapLeadPro fills l from the data object and checks the field table, row by
// row in the doc's order.
func mapLeadPro(f fields, l *Lead) {
	// id: "Number", "auto-generated". A string id still names the lead.
	if v, ok := f.value("id"); ok {
		switch v := v.(type) {
		case json.Number:
			if !integerLiteral.MatchString(string(v)) {
				f.add("id", "must be an integer")
			}
		default:
			f.add("id", "must be a number, got %s", jsonType(v))
		}
	}
	l.Contact.FirstName = f.text("first_name", length{1, 50}, "")
	l.Contact.LastName = f.text("last_name", length{1, 50}, "")
	l.Contact.FullName = f.text("full_name", length{1, 100}, "mandatory")

	l.Contact.Email = f.text("email", length{}, "mandatory")
	if l.Contact.Email != "" && !validEmail(l.Contact.Email) {
		f.add("email", "not a valid email address")
	}

	l.Contact.Phone = leadProPhone(f)

	typ := f.text("type", length{}, "mandatory")
	if typ != "" && !slices.Contains(leadProTypes, typ) {
		f.add("type", "must be one of %s", strings.Join(leadProTypes, ", "))
	}
	l.Type = typ
	l.Source = f.text("source", length{}, "")
	if l.Source == "" {
		l.Source = LeadProDefaultSource
	}

	// "Yes if Vendor/Landlord/ Mortgage" and "Yes if sale/let and no
	// office_id is specified".
	var ownAddress, advertAddress string
	switch typ {
	case "vendor", "landlord", "mortgage_request":
		ownAddress = "mandatory for type " + typ
	case "sale", "let":
		if _, office := f.value("office_id"); !office {
			advertAddress = "mandatory for type " + typ + " without office_id"
		}
	}
	l.Address.Line = f.text("address", length{0, 100}, ownAddress)
	l.Address.Postcode = f.text("postcode", length{2, 10}, ownAddress)
	advertLine := f.text("advert_address", length{0, 100}, advertAddress)
	advertPostcode := f.text("advert_postcode", length{2, 10}, advertAddress)
	if typ == "sale" || typ == "let" {
		l.Property.Line, l.Property.Postcode = advertLine, advertPostcode
	}
	f.text("advert_url", length{0, 255}, "")
	f.text("advert_image", length{0, 255}, "")
	l.Contact.Title = f.text("title", length{1, 10}, "")
	f.text("message", length{0, 8192}, "")

	if v, ok := f.sized("appointment_availability", 2048); ok {
		checkAvailability(f, v)
	}
	if v, ok := f.sized("meta", 1024); ok {
		checkMeta(f, v)
	}
	if v, ok := f.sized("questionnaire", 2048); ok {
		checkQuestionnaire(f, v)
	}

	// parentId: "Must be a valid parent lead", a Number like id.
	if n, ok := f.num("parentId"); ok && !integerLiteral.MatchString(string(n)) {
		f.add("parentId", "must be an integer")
	}
	if s, ok := f.str("createdAt"); ok {
		if t, ok := parseTime(s); ok {
			l.CreatedAt = formatTime(t)
		} else {
			f.add("createdAt", "not an ISO 8601 date-time with a UTC offset (RFC 3339)")
		}
	}

	l.Status = StatusUnknown
	if status, ok := f.str("status"); ok {
		if status != "" {
			l.Status = status
		}
		if !slices.Contains(leadProStatuses, status) {
			f.add("status", "must be one of %s", strings.Join(leadProStatuses, ", "))
		}
	}
	if stage, ok := f.str("stage"); ok && !slices.Contains(leadProStages, stage) {
		f.add("stage", "must be one of %s", strings.Join(leadProStages, ", "))
	}
	f.boolean("gdpr_checkbox")
	f.text("host", length{}, "")
	f.money("average_sale_estimation")
	f.money("average_rent_estimation")
	f.num("office_id")

	propertyRef := ""
	if typ == "sale" || typ == "let" {
		propertyRef = "mandatory for type " + typ
	}
	f.text("property_reference", length{0, 50}, propertyRef)
	f.num("property_bedrooms")
	f.text("office_name", length{}, "")
	for _, name := range []string{"minimum_sale_estimation", "maximum_sale_estimation", "minimum_rent_estimation", "maximum_rent_estimation"} {
		f.money(name)
	}
	if v, ok := f.value("comparable_props"); ok {
		checkObjectArray(f, "comparable_props", v)
	}
	f.boolean("international")
	f.num("account_id")
	f.text("account_name", length{}, "")
	f.num("referred_by_office_id")
	f.text("referred_by_office_name", length{}, "")
	f.num("referred_by_account_id")
	f.text("referred_by_account_name", length{}, "")
	if pt, ok := f.str("property_type"); ok && !slices.Contains(leadProPropertyTypes, pt) {
		f.add("property_type", "must be one of %s", strings.Join(leadProPropertyTypes, ", "))
	}
}

var integerLiteral = regexp.MustCompile(`^-?[0-9]+$`)

// text checks a string field: its type, its length rule (in characters) and,
// when mandatory is not "", its presence: absent, null or "" breaks it.
// It returns the value as sent, whatever rule it breaks.
func (f fields) text(name string, n length, mandatory string) string {
	s, ok := f.str(name)
	if !ok {
		if _, present := f.value(name); !present && mandatory != "" {
			f.add(name, "missing (%s)", mandatory)
		}
		return ""
	}
	c := runes(s)
	switch {
	case n.max > 0 && (c < n.min || c > n.max):
		if n.min > 0 {
			f.add(name, "has %d characters, must have %d to %d", c, n.min, n.max)
		} else {
			f.add(name, "has %d characters, must have at most %d", c, n.max)
		}
	case c == 0 && mandatory != "":
		f.add(name, "empty (%s)", mandatory)
	}
	return s
}

// leadProPhone reads phone, which LeadPro documents as a string but has been
// seen sending as a JSON number (its own sample does).
func leadProPhone(f fields) string {
	v, ok := f.value("phone")
	if !ok {
		f.add("phone", "missing (mandatory)")
		return ""
	}
	if n, ok := v.(json.Number); ok {
		f.add("phone", "sent as a number, not a string: a leading zero, if it had one, is lost")
		return n.String()
	}
	return f.text("phone", length{0, 255}, "mandatory")
}

// money checks a number field with "max 2 decimal places".
func (f fields) money(name string) {
	if n, ok := f.num(name); ok && decimalPlaces(n) > 2 {
		f.add(name, "has more than 2 decimal places")
	}
}

// sized returns the member name decoded, after checking that its JSON (as
// sent, compacted) is at most max bytes.
func (f fields) sized(name string, max int) (any, bool) {
	v, ok := f.value(name)
	if !ok {
		return nil, false
	}
	var c bytes.Buffer
	if json.Compact(&c, f.raw[name]) == nil && c.Len() > max {
		f.add(name, "is %d bytes of JSON, must be at most %d", c.Len(), max)
	}
	return v, true
}

// checkAvailability: "array values must be ISO 8601 date string", read as
// every item of every array among the object's values (the doc's example is
// {"hours": [...]}), or of the value itself if it is an array. A date is a
// date-time with an offset (RFC 3339) or a calendar date (2021-04-22); a
// member of the object that is not an array is flagged.
func checkAvailability(f fields, v any) {
	const name = "appointment_availability"
	dates := func(path string, arr []any) {
		for i, item := range arr {
			s, ok := item.(string)
			if !ok || !isoDate(s) {
				f.add(path+"["+strconv.Itoa(i)+"]", "not an ISO 8601 date (2021-04-22) or date-time with a UTC offset (RFC 3339)")
			}
		}
	}
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedAnyKeys(v) {
			if arr, ok := v[k].([]any); ok {
				dates(name+"."+k, arr)
			} else {
				f.add(name+"."+k, "must be an array of dates, got %s", jsonType(v[k]))
			}
		}
	case []any:
		dates(name, v)
	default:
		f.add(name, "must be an object of date arrays, got %s", jsonType(v))
	}
}

// checkMeta: "object with only string values".
func checkMeta(f fields, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		f.add("meta", "must be an object with string values, got %s", jsonType(v))
		return
	}
	for _, k := range sortedAnyKeys(m) {
		if _, ok := m[k].(string); !ok {
			f.add("meta."+k, "must be a string, got %s", jsonType(m[k]))
		}
	}
}

// checkQuestionnaire: "each value in questionnaire should be array of
// strings with 2 elements".
func checkQuestionnaire(f fields, v any) {
	arr, ok := v.([]any)
	if !ok {
		f.add("questionnaire", "must be an array of [question, answer] pairs, got %s", jsonType(v))
		return
	}
	for i, item := range arr {
		pair, ok := item.([]any)
		ok = ok && len(pair) == 2
		for _, s := range pair {
			_, isString := s.(string)
			ok = ok && isString
		}
		if !ok {
			f.add("questionnaire["+strconv.Itoa(i)+"]", "must be an array of 2 strings")
		}
	}
}

// checkObjectArray: the type Object[].
func checkObjectArray(f fields, name string, v any) {
	arr, ok := v.([]any)
	if !ok {
		f.add(name, "must be an array of objects, got %s", jsonType(v))
		return
	}
	for i, item := range arr {
		if _, ok := item.(map[string]any); !ok {
			f.add(name+"["+strconv.Itoa(i)+"]", "must be an object, got %s", jsonType(item))
		}
	}
}

// isoDate reports whether s is an RFC 3339 date-time or an ISO 8601
// calendar date, YYYY-MM-DD.
func isoDate(s string) bool {
	if _, ok := parseTime(s); ok {
		return true
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func sortedAnyKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
