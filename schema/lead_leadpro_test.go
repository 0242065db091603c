package schema

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Minimal valid data objects, one per branch of the conditional rules.
const (
	leadProVendor = `{"id":1,"full_name":"Richard Smith","email":"richard.smith@example.com",
		"phone":"07123456789","type":"vendor","address":"51 Asimov Place, Starbridge","postcode":"N1 3JY"}`
	leadProSale = `{"id":2,"full_name":"Ada Lovelace","email":"ada@example.com","phone":"07700900123",
		"type":"sale","advert_address":"12 Analytical Row","advert_postcode":"N1 4AB","property_reference":"SB-12"}`
)

// leadProPayload wraps a data object (a JSON text) after setting and deleting
// members; set values are JSON texts.
func leadProPayload(tb testing.TB, event, data string, set map[string]string, del []string) []byte {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		tb.Fatal(err)
	}
	for k, v := range set {
		if !json.Valid([]byte(v)) {
			tb.Fatalf("set %s: not JSON: %s", k, v)
		}
		m[k] = json.RawMessage(v)
	}
	for _, k := range del {
		delete(m, k)
	}
	b, err := json.Marshal(map[string]any{"event": event, "data": m})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func jsonString(s string) string { return strconv.Quote(s) }

func dates(n int) string {
	ds := make([]string, n)
	for i := range ds {
		ds[i] = `"2021-04-22T10:00:00.000Z"`
	}
	return "[" + strings.Join(ds, ",") + "]"
}

// Each rule of the field table in leadpro-webhooks.txt, broken once: exactly
// that problem is reported, the mapping still succeeds, and the value is kept.
func TestLeadProValidationProblems(t *testing.T) {
	long := func(n int) string { return jsonString(strings.Repeat("a", n)) }
	tests := map[string]struct {
		base  string            // leadProVendor unless set
		set   map[string]string // member -> JSON text
		del   []string
		field string // "" when no problem is expected
		want  string
	}{
		"valid vendor":  {},
		"valid sale":    {base: leadProSale},
		"id not an int": {set: map[string]string{"id": "1.5"}, field: "id", want: "must be an integer"},
		"id as string":  {set: map[string]string{"id": `"abc-1"`}, field: "id", want: "must be a number, got a string"},

		"first_name empty":     {set: map[string]string{"first_name": `""`}, field: "first_name", want: "has 0 characters, must have 1 to 50"},
		"first_name too long":  {set: map[string]string{"first_name": long(51)}, field: "first_name", want: "has 51 characters, must have 1 to 50"},
		"first_name 50 chars":  {set: map[string]string{"first_name": long(50)}},
		"last_name too long":   {set: map[string]string{"last_name": long(51)}, field: "last_name", want: "has 51 characters, must have 1 to 50"},
		"full_name missing":    {del: []string{"full_name"}, field: "full_name", want: "missing (mandatory)"},
		"full_name null":       {set: map[string]string{"full_name": "null"}, field: "full_name", want: "missing (mandatory)"},
		"full_name too long":   {set: map[string]string{"full_name": long(101)}, field: "full_name", want: "has 101 characters, must have 1 to 100"},
		"full_name not string": {set: map[string]string{"full_name": "5"}, field: "full_name", want: "must be a string, got a number"},
		"full_name multibyte":  {set: map[string]string{"full_name": jsonString(strings.Repeat("é", 100))}},

		"email missing":      {del: []string{"email"}, field: "email", want: "missing (mandatory)"},
		"email empty":        {set: map[string]string{"email": `""`}, field: "email", want: "empty (mandatory)"},
		"email invalid":      {set: map[string]string{"email": `"richard.smith"`}, field: "email", want: "not a valid email address"},
		"email display name": {set: map[string]string{"email": `"Richard <r@example.com>"`}, field: "email", want: "not a valid email address"},
		"email no dot":       {set: map[string]string{"email": `"r@localhost"`}, field: "email", want: "not a valid email address"},

		"phone missing":   {del: []string{"phone"}, field: "phone", want: "missing (mandatory)"},
		"phone empty":     {set: map[string]string{"phone": `""`}, field: "phone", want: "empty (mandatory)"},
		"phone too long":  {set: map[string]string{"phone": long(256)}, field: "phone", want: "has 256 characters, must have at most 255"},
		"phone as number": {set: map[string]string{"phone": "7123456789"}, field: "phone", want: "sent as a number, not a string: a leading zero, if it had one, is lost"},
		"phone as bool":   {set: map[string]string{"phone": "true"}, field: "phone", want: "must be a string, got a boolean"},

		"type missing": {del: []string{"type"}, field: "type", want: "missing (mandatory)"},
		"type unknown": {set: map[string]string{"type": `"buyer"`}, field: "type", want: "must be one of sale, vendor, landlord, let, mortgage_request"},
		"source not string": {
			set: map[string]string{"source": "1"}, field: "source", want: "must be a string, got a number",
		},

		"address missing for vendor":   {del: []string{"address"}, field: "address", want: "missing (mandatory for type vendor)"},
		"address missing for landlord": {set: map[string]string{"type": `"landlord"`}, del: []string{"address"}, field: "address", want: "missing (mandatory for type landlord)"},
		"postcode missing for mortgage": {
			set: map[string]string{"type": `"mortgage_request"`}, del: []string{"postcode"},
			field: "postcode", want: "missing (mandatory for type mortgage_request)",
		},
		"address empty for vendor": {set: map[string]string{"address": `""`}, field: "address", want: "empty (mandatory for type vendor)"},
		"address too long":         {set: map[string]string{"address": long(101)}, field: "address", want: "has 101 characters, must have at most 100"},
		"postcode too short":       {set: map[string]string{"postcode": `"N"`}, field: "postcode", want: "has 1 characters, must have 2 to 10"},
		"postcode too long":        {set: map[string]string{"postcode": long(11)}, field: "postcode", want: "has 11 characters, must have 2 to 10"},
		"address optional for sale": {
			base: leadProSale, set: map[string]string{"address": "null"},
		},

		"advert_address missing for sale": {
			base: leadProSale, del: []string{"advert_address"},
			field: "advert_address", want: "missing (mandatory for type sale without office_id)",
		},
		"advert_postcode missing for let": {
			base: leadProSale, set: map[string]string{"type": `"let"`}, del: []string{"advert_postcode"},
			field: "advert_postcode", want: "missing (mandatory for type let without office_id)",
		},
		"advert address optional with office_id": {
			base: leadProSale, set: map[string]string{"office_id": "567"}, del: []string{"advert_address", "advert_postcode"},
		},
		"advert_address too long":  {set: map[string]string{"advert_address": long(101)}, field: "advert_address", want: "has 101 characters, must have at most 100"},
		"advert_postcode too long": {set: map[string]string{"advert_postcode": long(11)}, field: "advert_postcode", want: "has 11 characters, must have 2 to 10"},
		"advert_url too long":      {set: map[string]string{"advert_url": long(256)}, field: "advert_url", want: "has 256 characters, must have at most 255"},
		"advert_image too long":    {set: map[string]string{"advert_image": long(256)}, field: "advert_image", want: "has 256 characters, must have at most 255"},
		"title too long":           {set: map[string]string{"title": long(11)}, field: "title", want: "has 11 characters, must have 1 to 10"},
		"title empty":              {set: map[string]string{"title": `""`}, field: "title", want: "has 0 characters, must have 1 to 10"},
		"message too long":         {set: map[string]string{"message": long(8193)}, field: "message", want: "has 8193 characters, must have at most 8192"},
		"message 8192 characters":  {set: map[string]string{"message": jsonString(strings.Repeat("é", 8192))}},

		"appointment_availability too big": {
			set:   map[string]string{"appointment_availability": `{"hours":` + dates(80) + `}`},
			field: "appointment_availability", want: "is 2171 bytes of JSON, must be at most 2048",
		},
		"appointment_availability bad date": {
			set:   map[string]string{"appointment_availability": `{"hours":["2021-04-22T10:00:00.000Z","tomorrow"]}`},
			field: "appointment_availability.hours[1]", want: "not an ISO 8601 date (2021-04-22) or date-time with a UTC offset (RFC 3339)",
		},
		"appointment_availability number in array": {
			set:   map[string]string{"appointment_availability": `{"hours":[1]}`},
			field: "appointment_availability.hours[0]", want: "not an ISO 8601 date (2021-04-22) or date-time with a UTC offset (RFC 3339)",
		},
		"appointment_availability date-only": {
			set: map[string]string{"appointment_availability": `{"days":["2021-04-22","2021-05-22T10:00:00+01:00"]}`},
		},
		"appointment_availability member not an array": {
			set:   map[string]string{"appointment_availability": `{"hours":["2021-04-22"],"note":"mornings"}`},
			field: "appointment_availability.note", want: "must be an array of dates, got a string",
		},
		"appointment_availability not object": {
			set:   map[string]string{"appointment_availability": `"soon"`},
			field: "appointment_availability", want: "must be an object of date arrays, got a string",
		},

		"meta too big": {
			set:   map[string]string{"meta": `{"k":` + long(1100) + `}`},
			field: "meta", want: "is 1108 bytes of JSON, must be at most 1024",
		},
		"meta boolean value": {
			set:   map[string]string{"meta": `{"virtual tour":true}`},
			field: "meta.virtual tour", want: "must be a string, got a boolean",
		},
		"meta not object": {
			set:   map[string]string{"meta": `["a"]`},
			field: "meta", want: "must be an object with string values, got an array",
		},

		"questionnaire too big": {
			set:   map[string]string{"questionnaire": `[["q",` + long(2100) + `]]`},
			field: "questionnaire", want: "is 2110 bytes of JSON, must be at most 2048",
		},
		"questionnaire triple": {
			set:   map[string]string{"questionnaire": `[["q","a"],["q","a","b"]]`},
			field: "questionnaire[1]", want: "must be an array of 2 strings",
		},
		"questionnaire non-string": {
			set:   map[string]string{"questionnaire": `[["q",true]]`},
			field: "questionnaire[0]", want: "must be an array of 2 strings",
		},
		"questionnaire not array": {
			set:   map[string]string{"questionnaire": `{"q":"a"}`},
			field: "questionnaire", want: "must be an array of [question, answer] pairs, got an object",
		},

		"parentId not number": {set: map[string]string{"parentId": `"54"`}, field: "parentId", want: "must be a number, got a string"},
		"parentId fractional": {set: map[string]string{"parentId": `54.5`}, field: "parentId", want: "must be an integer"},
		"parentId integer":    {set: map[string]string{"parentId": `54`}},
		"createdAt not ISO 8601": {
			set:   map[string]string{"createdAt": `"23/01/2000"`},
			field: "createdAt", want: "not an ISO 8601 date-time with a UTC offset (RFC 3339)",
		},
		"status unknown": {
			set:   map[string]string{"status": `"active"`},
			field: "status", want: "must be one of UNREAD, IN_PROGRESS, NO_BUSINESS, BUSINESS, DUPLICATE",
		},
		"stage unknown": {
			set:   map[string]string{"stage": `"complete"`},
			field: "stage", want: "must be one of " + strings.Join(LeadProStages(), ", "),
		},
		"stage as printed, commas missing": {
			set:   map[string]string{"stage": `"NEW CONTACTED"`},
			field: "stage", want: "must be one of " + strings.Join(LeadProStages(), ", "),
		},
		"stage SPAM":      {set: map[string]string{"stage": `"SPAM"`}},
		"stage VALUATION": {set: map[string]string{"stage": `"VALUATION_BOOKED"`}},

		"gdpr_checkbox not bool": {set: map[string]string{"gdpr_checkbox": `"false"`}, field: "gdpr_checkbox", want: "must be a boolean, got a string"},
		"host not string":        {set: map[string]string{"host": "{}"}, field: "host", want: "must be a string, got an object"},

		"average_sale_estimation 3 places": {
			set:   map[string]string{"average_sale_estimation": "10000.123"},
			field: "average_sale_estimation", want: "has more than 2 decimal places",
		},
		"average_sale_estimation 2 places, trailing zero": {set: map[string]string{"average_sale_estimation": "10000.100"}},
		"average_rent_estimation exponent": {
			set:   map[string]string{"average_rent_estimation": "1e-3"},
			field: "average_rent_estimation", want: "has more than 2 decimal places",
		},
		"average_rent_estimation as string": {
			set:   map[string]string{"average_rent_estimation": `"1000"`},
			field: "average_rent_estimation", want: "must be a number, got a string",
		},
		"minimum_sale_estimation 3 places": {set: map[string]string{"minimum_sale_estimation": "0.001"}, field: "minimum_sale_estimation", want: "has more than 2 decimal places"},
		"maximum_sale_estimation 3 places": {set: map[string]string{"maximum_sale_estimation": "0.001"}, field: "maximum_sale_estimation", want: "has more than 2 decimal places"},
		"minimum_rent_estimation 3 places": {set: map[string]string{"minimum_rent_estimation": "0.001"}, field: "minimum_rent_estimation", want: "has more than 2 decimal places"},
		"maximum_rent_estimation 3 places": {set: map[string]string{"maximum_rent_estimation": "0.001"}, field: "maximum_rent_estimation", want: "has more than 2 decimal places"},

		"office_id not number": {set: map[string]string{"office_id": `"567"`}, field: "office_id", want: "must be a number, got a string"},
		"property_reference missing for sale": {
			base: leadProSale, del: []string{"property_reference"},
			field: "property_reference", want: "missing (mandatory for type sale)",
		},
		"property_reference too long":  {set: map[string]string{"property_reference": long(51)}, field: "property_reference", want: "has 51 characters, must have at most 50"},
		"property_bedrooms not number": {set: map[string]string{"property_bedrooms": `"4"`}, field: "property_bedrooms", want: "must be a number, got a string"},
		"office_name not string":       {set: map[string]string{"office_name": "1"}, field: "office_name", want: "must be a string, got a number"},
		"comparable_props not array": {
			set:   map[string]string{"comparable_props": "{}"},
			field: "comparable_props", want: "must be an array of objects, got an object",
		},
		"comparable_props item not object": {
			set:   map[string]string{"comparable_props": `[{"beds":4},1]`},
			field: "comparable_props[1]", want: "must be an object, got a number",
		},
		"international not bool":           {set: map[string]string{"international": `"yes"`}, field: "international", want: "must be a boolean, got a string"},
		"account_id not number":            {set: map[string]string{"account_id": `"9999"`}, field: "account_id", want: "must be a number, got a string"},
		"account_name not string":          {set: map[string]string{"account_name": "1"}, field: "account_name", want: "must be a string, got a number"},
		"referred_by_office_id not number": {set: map[string]string{"referred_by_office_id": "true"}, field: "referred_by_office_id", want: "must be a number, got a boolean"},
		"referred_by_office_name not string": {
			set: map[string]string{"referred_by_office_name": "1"}, field: "referred_by_office_name", want: "must be a string, got a number",
		},
		"referred_by_account_id not number": {
			set: map[string]string{"referred_by_account_id": `"334"`}, field: "referred_by_account_id", want: "must be a number, got a string",
		},
		"referred_by_account_name not string": {
			set: map[string]string{"referred_by_account_name": "[]"}, field: "referred_by_account_name", want: "must be a string, got an array",
		},
		"referred_by nulls": {set: map[string]string{
			"referred_by_office_name": "null", "referred_by_account_id": "null", "referred_by_account_name": "null",
		}},
		"property_type unknown": {
			set:   map[string]string{"property_type": `"bungalow"`},
			field: "property_type", want: "must be one of detached, semi-detached, terraced, flat-maisonette",
		},
		"property_type null":          {set: map[string]string{"property_type": "null"}},
		"property_type semi-detached": {set: map[string]string{"property_type": `"semi-detached"`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			base := tc.base
			if base == "" {
				base = leadProVendor
			}
			payload := leadProPayload(t, LeadProLeadUpdated, base, tc.set, tc.del)
			l, err := LeadFromLeadPro(leadProEvent(t, payload))
			if err != nil {
				t.Fatal(err)
			}
			var want []ValidationProblem
			if tc.field != "" {
				want = []ValidationProblem{{Field: tc.field, Problem: tc.want}}
			}
			if !reflect.DeepEqual(l.ValidationProblems, want) {
				t.Fatalf("problems %+v\nwant %+v", l.ValidationProblems, want)
			}
			var p struct{ Data json.RawMessage }
			if err := json.Unmarshal(payload, &p); err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, l.ProviderFields, p.Data)
			mustValidate(t, l)
		})
	}
}

// What a broken rule leaves in the mapped fields: the value, as sent.
func TestLeadFromLeadProKeepsValues(t *testing.T) {
	tests := map[string]struct {
		base string
		set  map[string]string
		del  []string
		want func(Lead) string
	}{
		"phone as number keeps its digits": {
			set:  map[string]string{"phone": "7123456789"},
			want: func(l Lead) string { return l.Contact.Phone + "=7123456789" },
		},
		"invalid email kept": {
			set:  map[string]string{"email": `"richard.smith"`},
			want: func(l Lead) string { return l.Contact.Email + "=richard.smith" },
		},
		"unknown status kept": {
			set:  map[string]string{"status": `"active"`},
			want: func(l Lead) string { return l.Status + "=active" },
		},
		"no status": {
			want: func(l Lead) string { return l.Status + "=" + StatusUnknown },
		},
		"empty status": {
			set:  map[string]string{"status": `""`},
			want: func(l Lead) string { return l.Status + "=" + StatusUnknown },
		},
		"too long postcode kept": {
			set:  map[string]string{"postcode": `"ABCDEFGHIJK"`},
			want: func(l Lead) string { return l.Address.Postcode + "=ABCDEFGHIJK" },
		},
		"sale: the advert is the property, not the address": {
			base: leadProSale,
			want: func(l Lead) string {
				return l.Property.Line + "|" + l.Property.Postcode + "|" + l.Address.Line + "=12 Analytical Row|N1 4AB|"
			},
		},
		"sale with its own address keeps both apart": {
			base: leadProSale,
			set:  map[string]string{"address": `"1 Home St"`},
			want: func(l Lead) string { return l.Address.Line + "|" + l.Property.Line + "=1 Home St|12 Analytical Row" },
		},
		"let: the advert is the property": {
			base: leadProSale,
			set:  map[string]string{"type": `"let"`},
			want: func(l Lead) string { return l.Type + "|" + l.Property.Postcode + "=let|N1 4AB" },
		},
		"vendor has no property block": {
			set:  map[string]string{"advert_address": `"12 Analytical Row"`},
			del:  []string{"address", "postcode"},
			want: func(l Lead) string { return l.Address.Line + "|" + l.Property.Line + "=|" },
		},
		"source as sent, type as sent": {
			set:  map[string]string{"source": `"rightmove"`},
			want: func(l Lead) string { return l.Source + "|" + l.Type + "=rightmove|vendor" },
		},
		"no source is homepage": {
			del:  []string{"source"},
			want: func(l Lead) string { return l.Source + "=homepage" },
		},
		"empty source is homepage": {
			set:  map[string]string{"source": `""`},
			want: func(l Lead) string { return l.Source + "=homepage" },
		},
		"createdAt normalised to UTC": {
			set:  map[string]string{"createdAt": `"2000-01-23T01:23:45.678+09:00"`},
			want: func(l Lead) string { return l.CreatedAt + "=2000-01-22T16:23:45.678Z" },
		},
		"string id": {
			set:  map[string]string{"id": `"abc-1"`},
			want: func(l Lead) string { return l.Key + "|" + l.LeadID + "=leadpro:9999:abc-1|abc-1" },
		},
		"big id keeps every digit": {
			set:  map[string]string{"id": "12345678901234567890123"},
			want: func(l Lead) string { return l.LeadID + "=12345678901234567890123" },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			base := tc.base
			if base == "" {
				base = leadProVendor
			}
			l, err := LeadFromLeadPro(leadProEvent(t, leadProPayload(t, LeadProLeadCreated, base, tc.set, tc.del)))
			if err != nil {
				t.Fatal(err)
			}
			got, want, _ := strings.Cut(tc.want(l), "=")
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			mustValidate(t, l)
		})
	}
}

func TestLeadFromLeadProRejects(t *testing.T) {
	tests := map[string]string{
		"not JSON":       `{"event":`,
		"array":          `[]`,
		"no event":       `{"data":{"id":1}}`,
		"unknown event":  `{"event":"lead.deleted","data":{"id":1}}`,
		"event a number": `{"event":1,"data":{"id":1}}`,
		"no data":        `{"event":"lead.created"}`,
		"null data":      `{"event":"lead.created","data":null}`,
		"data array":     `{"event":"lead.created","data":[{"id":1}]}`,
		"no id":          `{"event":"lead.created","data":{"full_name":"x"}}`,
		"null id":        `{"event":"lead.created","data":{"id":null}}`,
		"empty id":       `{"event":"lead.created","data":{"id":""}}`,
		"bool id":        `{"event":"lead.created","data":{"id":true}}`,
		"trailing data":  `{"event":"lead.created","data":{"id":1}}{}`,
	}
	for name, payload := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := LeadFromLeadPro(leadProEvent(t, []byte(payload))); !errors.Is(err, ErrUnmappableLead) {
				t.Fatalf("err = %v, want ErrUnmappableLead", err)
			}
		})
	}
	events := map[string]func(*Event){
		"no account":    func(e *Event) { e.Source = LeadProSource("") },
		"aurora source": func(e *Event) { e.Source = AuroraSource("t1") },
		"no event id":   func(e *Event) { e.ID = "" },
		"no event type": func(e *Event) { e.Type = "" },
	}
	for name, mutate := range events {
		t.Run(name, func(t *testing.T) {
			ev := leadProEvent(t, leadProPayload(t, LeadProLeadCreated, leadProVendor, nil, nil))
			mutate(&ev)
			if _, err := LeadFromLeadPro(ev); !errors.Is(err, ErrUnmappableLead) {
				t.Fatalf("err = %v, want ErrUnmappableLead", err)
			}
		})
	}
}

// FuzzLeadFromLeadPro: mapping never panics, and whatever maps is a record
// the schema accepts, keyed by its account and id, whose provider_fields is
// the payload's data object.
func FuzzLeadFromLeadPro(f *testing.F) {
	for _, name := range []string{"leadpro-lead-updated.json", "leadpro-lead-created.json"} {
		f.Add(readTestdata(f, name))
	}
	f.Add(leadProPayload(f, LeadProLeadCreated, leadProSale, map[string]string{"phone": "7123456789", "meta": `{"a":1}`}, nil))
	f.Add([]byte(`{"event":"lead.created","data":{"id":"x","createdAt":"2000-01-23T01:23:45.678+09:00","questionnaire":[[]]}}`))
	f.Add([]byte(`{"event":"lead.updated","data":{"id":1e3,"average_sale_estimation":1e-99999,"email":"a@b.c","id":2}}`))
	f.Add([]byte(`{"event":"lead.updated","data":{"id":1,"full_name":"\ud800\u00e9<&>"}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		l, err := LeadFromLeadPro(leadProEvent(t, payload))
		if err != nil {
			if !errors.Is(err, ErrUnmappableLead) {
				t.Fatalf("error does not wrap ErrUnmappableLead: %v", err)
			}
			return
		}
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if err := ValidateLead(b); err != nil {
			t.Fatalf("mapped record does not validate: %v\n%s", err, b)
		}
		if l.Key != LeadProKey("9999", l.LeadID) {
			t.Fatalf("key %q for lead id %q", l.Key, l.LeadID)
		}
		payloadValue, err := decodeValue(payload)
		if err != nil {
			t.Fatalf("mapped a payload that is not JSON: %v", err)
		}
		got, err := decodeValue(l.ProviderFields)
		if err != nil {
			t.Fatalf("provider_fields is not JSON: %v", err)
		}
		if want := payloadValue.(map[string]any)["data"]; !reflect.DeepEqual(got, want) {
			t.Fatalf("provider_fields %s\nis not the data of %s", l.ProviderFields, payload)
		}
	})
}
