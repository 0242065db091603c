package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/schema/golden"
)

const testTenant = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

func auroraLeadEvent(tb testing.TB, leadID string) Event {
	tb.Helper()
	data, err := json.Marshal(AuroraData{Event: "lead_created", TenantID: testTenant, Attributes: map[string]string{"lead_id": leadID}})
	if err != nil {
		tb.Fatal(err)
	}
	return Event{
		ID:           "0192f0c4-7b1e-7cc1-9f00-0000000000a1",
		Source:       AuroraSource(testTenant),
		Type:         AuroraTypePrefix + "lead_created",
		Subject:      leadID,
		Time:         time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC),
		PartitionKey: AuroraKey(testTenant, leadID),
		Data:         data,
	}
}

// leadProEvent is the raw event ingest writes for payload, a LeadPro JWT
// payload of account 9999 (ce_type and subject as ingest reads them, when it can).
func leadProEvent(tb testing.TB, payload []byte) Event {
	tb.Helper()
	var p struct {
		Event string `json:"event"`
		Data  struct {
			ID json.Number `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(payload, &p) // the fuzz test sends anything
	return Event{
		ID:      "0192f0c4-7b1e-7cc1-9f00-0000000000b1",
		Source:  LeadProSource("9999"),
		Type:    LeadProTypePrefix + p.Event,
		Subject: p.Data.ID.String(),
		// Not UTC on purpose: source_event.time must come out in UTC.
		Time:         time.Date(2026, 11, 22, 11, 0, 0, 0, time.FixedZone("CET", 3600)),
		PartitionKey: LeadProKey("9999", p.Data.ID.String()),
		Data:         payload,
	}
}

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mustValidate marshals l both ways enrich might and checks the schema accepts it.
func mustValidate(tb testing.TB, l Lead) []byte {
	tb.Helper()
	indented, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	compact, err := json.Marshal(l)
	if err != nil {
		tb.Fatal(err)
	}
	for _, b := range [][]byte{indented, compact} {
		if err := ValidateLead(b); err != nil {
			tb.Fatalf("record does not validate: %v\n%s", err, b)
		}
	}
	if err := CheckLead(l); err != nil {
		tb.Fatalf("CheckLead refuses a record the schema accepts: %v\n%s", err, indented)
	}
	return append(indented, '\n')
}

// The lead records we emit are our public contract: pin them byte for byte.
func TestLeadGolden(t *testing.T) {
	tests := map[string]struct {
		fixture string
		mapLead func(tb testing.TB, fixture []byte) (Lead, error)
	}{
		"aurora-lead": {
			fixture: "aurora-retrieve-lead.json",
			mapLead: func(tb testing.TB, body []byte) (Lead, error) {
				return LeadFromAurora(auroraLeadEvent(tb, testTenant), testTenant, AuroraWebhook{Source: "lcai"}, body)
			},
		},
		"leadpro-lead-updated": {
			fixture: "leadpro-lead-updated.json",
			mapLead: func(tb testing.TB, payload []byte) (Lead, error) { return LeadFromLeadPro(leadProEvent(tb, payload)) },
		},
		"leadpro-lead-created": {
			fixture: "leadpro-lead-created.json",
			mapLead: func(tb testing.TB, payload []byte) (Lead, error) { return LeadFromLeadPro(leadProEvent(tb, payload)) },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := tc.mapLead(t, readTestdata(t, tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, name+".golden", mustValidate(t, l))
		})
	}
}

func TestLeadFromAurora(t *testing.T) {
	tests := map[string]struct {
		body      string
		hook      AuroraWebhook
		status    string
		postcode  string
		fullName  string
		projectID string
		problems  []ValidationProblem
	}{
		"converted: project_id set": {
			body:      `{"id":"L1","project_id":"P1","address":"434 Brannan St, San Francisco, CA, 94107"}`,
			status:    StatusConverted,
			postcode:  "94107",
			projectID: "P1",
		},
		"converted: the webhook's project before the API shows it": {
			body:      `{"id":"L1","project_id":null}`,
			hook:      AuroraWebhook{ProjectID: "P9"},
			status:    StatusConverted,
			projectID: "P9",
		},
		"the API's project wins over the webhook's": {
			body:      `{"id":"L1","project_id":"P1"}`,
			hook:      AuroraWebhook{ProjectID: "P9"},
			status:    StatusConverted,
			projectID: "P1",
		},
		"open: no project": {
			body:     `{"id":"L1","project_id":null,"address":"434 Brannan St, San Francisco, CA 94107-1234, USA"}`,
			status:   StatusOpen,
			postcode: "94107-1234",
		},
		"open: empty project id": {body: `{"id":"L1","project_id":""}`, status: StatusOpen},
		"status given wins": {
			body:      `{"id":"L1","project_id":"P1","status":"archived"}`,
			status:    "archived",
			projectID: "P1",
		},
		"no ZIP without a state": {
			body:   `{"id":"L1","address":"Unit 12345"}`,
			status: StatusOpen,
		},
		"no ZIP in mid-line": {
			body:   `{"id":"L1","address":"94107 Main St, Springfield, IL"}`,
			status: StatusOpen,
		},
		"customer_address is the mailing address, not the lead's": {
			body:   `{"id":"L1","customer":{"customer_address":"1 Main St, Springfield, IL 62701"}}`,
			status: StatusOpen,
		},
		"first name only": {
			body:     `{"id":"L1","customer":{"customer_first_name":"Jane"}}`,
			status:   StatusOpen,
			fullName: "Jane",
		},
		"numeric id": {body: `{"id":42}`, status: StatusOpen},
		"bad email kept, reported": {
			body:     `{"id":"L1","customer":{"customer_email":"jane.doe"}}`,
			status:   StatusOpen,
			problems: []ValidationProblem{{"customer.customer_email", "not a valid email address"}},
		},
		"wrong types reported": {
			body:   `{"id":"L1","customer":"Jane","latitude":"north","updated_at":"yesterday","project_id":7}`,
			status: StatusOpen,
			// In the mapper's order: project_id and status, customer, address, then times.
			problems: []ValidationProblem{
				{"project_id", "must be a string, got a number"},
				{"customer", "must be an object, got a string"},
				{"latitude", "must be a number, got a string"},
				{"updated_at", "not an ISO 8601 date-time with a UTC offset (RFC 3339)"},
			},
		},
		"latitude out of range kept, reported": {
			body:     `{"id":"L1","latitude":91,"longitude":-180}`,
			status:   StatusOpen,
			problems: []ValidationProblem{{"latitude", "out of range: must be within ±90 degrees"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := LeadFromAurora(auroraLeadEvent(t, "L1"), testTenant, tc.hook, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if l.Status != tc.status || l.Address.Postcode != tc.postcode || l.Contact.FullName != tc.fullName || l.ProjectID != tc.projectID {
				t.Errorf("status %q postcode %q full_name %q project_id %q, want %q %q %q %q",
					l.Status, l.Address.Postcode, l.Contact.FullName, l.ProjectID, tc.status, tc.postcode, tc.fullName, tc.projectID)
			}
			if l.Address.Line != "" && strings.Contains(tc.body, "customer_address") {
				t.Errorf("the mailing address became the lead's address %q", l.Address.Line)
			}
			if !reflect.DeepEqual(l.ValidationProblems, tc.problems) {
				t.Errorf("problems %v, want %v", l.ValidationProblems, tc.problems)
			}
			assertSameJSON(t, l.ProviderFields, []byte(tc.body))
			mustValidate(t, l)
		})
	}
}

func TestLeadFromAuroraRejects(t *testing.T) {
	tests := map[string]string{
		"not JSON":         `{"id":`,
		"array":            `[{"id":"L1"}]`,
		"null":             `null`,
		"string":           `"L1"`,
		"no id":            `{"address":"x"}`,
		"null id":          `{"id":null}`,
		"empty id":         `{"id":""}`,
		"object id":        `{"id":{}}`,
		"control chars":    `{"id":"L\n1"}`,
		"two objects":      `{"id":"L1"} {"id":"L2"}`,
		"trailing garbage": `{"id":"L1"} x`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := LeadFromAurora(auroraLeadEvent(t, "L1"), testTenant, AuroraWebhook{}, []byte(body))
			if !errors.Is(err, ErrUnmappableLead) {
				t.Fatalf("err = %v, want ErrUnmappableLead", err)
			}
		})
	}
	t.Run("no tenant", func(t *testing.T) {
		if _, err := LeadFromAurora(auroraLeadEvent(t, "L1"), "", AuroraWebhook{}, []byte(`{"id":"L1"}`)); !errors.Is(err, ErrUnmappableLead) {
			t.Fatalf("err = %v, want ErrUnmappableLead", err)
		}
	})
}

// validRecord is the Aurora golden record as a generic map, to break.
func validRecord(tb testing.TB) map[string]any {
	tb.Helper()
	l, err := LeadFromAurora(auroraLeadEvent(tb, testTenant), testTenant, AuroraWebhook{Source: "lcai"}, readTestdata(tb, "aurora-retrieve-lead.json"))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(l)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestValidateLead(t *testing.T) {
	tests := map[string]struct {
		mutate func(m map[string]any)
		want   []string // substrings of the error, one per violation; none: valid
	}{
		"valid":          {mutate: func(map[string]any) {}},
		"missing key":    {mutate: func(m map[string]any) { delete(m, "key") }, want: []string{"missing property 'key'"}},
		"wrong provider": {mutate: func(m map[string]any) { m["provider"] = "hubspot" }, want: []string{"at '/provider'"}},
		"aurora without tenant_id": {
			mutate: func(m map[string]any) { delete(m, "tenant_id") },
			want:   []string{"missing property 'tenant_id'"},
		},
		"aurora with account_id": {
			mutate: func(m map[string]any) { m["account_id"] = "9999" },
			want:   []string{"at '/account_id'"},
		},
		"leadpro without account_id": {
			mutate: func(m map[string]any) {
				m["provider"] = "leadpro"
				m["key"] = "leadpro:9999:1"
				delete(m, "tenant_id")
				delete(m, "project_id")
			},
			want: []string{"missing property 'account_id'"},
		},
		"key of the other provider": {
			mutate: func(m map[string]any) { m["key"] = "leadpro:9999:1" },
			want:   []string{"at '/key'"},
		},
		"extra top-level property": {
			mutate: func(m map[string]any) { m["record_version"] = 2 },
			want:   []string{"additional properties 'record_version' not allowed"},
		},
		"latitude as a string": {
			mutate: func(m map[string]any) { m["address"].(map[string]any)["latitude"] = "37.7" },
			want:   []string{"at '/address/latitude'"},
		},
		"problem without text": {
			mutate: func(m map[string]any) { m["validation_problems"] = []any{map[string]any{"field": "email"}} },
			want:   []string{"at '/validation_problems/0'"},
		},
		"source_event without id": {
			mutate: func(m map[string]any) { delete(m["source_event"].(map[string]any), "id") },
			want:   []string{"at '/source_event'"},
		},
		"provider_fields not an object": {
			mutate: func(m map[string]any) { m["provider_fields"] = []any{} },
			want:   []string{"at '/provider_fields'"},
		},
		"every violation listed": {
			mutate: func(m map[string]any) { delete(m, "key"); m["extra"] = true; m["status"] = "" },
			want:   []string{"missing property 'key'", "'extra' not allowed", "at '/status'"},
		},
		// A bad provider email is a problem, not an invalid record; the
		// date-times are leadbridge's own, and their format is asserted.
		"bad email is still valid": {mutate: func(m map[string]any) { m["contact"].(map[string]any)["email"] = "jane.doe" }},
		"created_at not a date-time": {
			mutate: func(m map[string]any) { m["created_at"] = "yesterday" },
			want:   []string{"at '/created_at'"},
		},
		"source_event.time not a date-time": {
			mutate: func(m map[string]any) { m["source_event"].(map[string]any)["time"] = "2026-11-22" },
			want:   []string{"at '/source_event/time'"},
		},
		"key of another lead": {
			mutate: func(m map[string]any) { m["key"] = "aurora:" + testTenant + ":other-lead" },
			want:   []string{"key does not match"},
		},
		"key of another tenant": {
			mutate: func(m map[string]any) { m["tenant_id"] = "other-tenant" },
			want:   []string{"key does not match"},
		},
		"aurora with a property block": {
			mutate: func(m map[string]any) { m["property"] = map[string]any{"line": "x"} },
			want:   []string{"at '/property'"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := validRecord(t)
			tc.mutate(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			err = ValidateLead(b)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidLead) {
				t.Fatalf("err = %v, want ErrInvalidLead", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		if err := ValidateLead([]byte(`{"key":`)); !errors.Is(err, ErrInvalidLead) {
			t.Fatalf("err = %v, want ErrInvalidLead", err)
		}
	})
}

func TestValidateLeadConcurrent(t *testing.T) {
	b, err := json.Marshal(validRecord(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := ValidateLead(b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestLeadSchemaID(t *testing.T) {
	var s struct {
		ID     string `json:"$id"`
		Schema string `json:"$schema"`
	}
	if err := json.Unmarshal(LeadSchema(), &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != LeadSchemaID || s.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("$id %q $schema %q", s.ID, s.Schema)
	}
}

// Every field of Lead appears in the schema's properties, and the other way
// round, in the same order: the type and the schema cannot drift apart.
func TestLeadMatchesSchema(t *testing.T) {
	var s struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(LeadSchema(), &s); err != nil {
		t.Fatal(err)
	}
	schemaNames := objectKeys(t, s.Properties)
	var goNames []string
	rt := reflect.TypeFor[Lead]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		goNames = append(goNames, name)
	}
	if !reflect.DeepEqual(goNames, schemaNames) {
		t.Fatalf("Lead fields %v\nschema properties %v", goNames, schemaNames)
	}
}

func objectKeys(tb testing.TB, obj []byte) []string {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(obj))
	var keys []string
	if _, err := d.Token(); err != nil {
		tb.Fatal(err)
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			tb.Fatal(err)
		}
	}
	return keys
}

func TestLeadUpdatedAt(t *testing.T) {
	tests := map[string]struct {
		updatedAt string
		want      time.Time
		ok        bool
	}{
		"set":         {updatedAt: "2022-07-07T21:16:20.411Z", want: time.Date(2022, 7, 7, 21, 16, 20, 411e6, time.UTC), ok: true},
		"absent":      {},
		"unparseable": {updatedAt: "yesterday"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := LeadUpdatedAt(Lead{UpdatedAt: tc.updatedAt})
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Fatalf("got %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	t.Run("aurora record", func(t *testing.T) {
		body := []byte(`{"id":"L1","updated_at":"2022-07-07T23:16:20.411+02:00"}`)
		l, err := LeadFromAurora(auroraLeadEvent(t, "L1"), testTenant, AuroraWebhook{}, body)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := LeadUpdatedAt(l)
		if !ok || !got.Equal(time.Date(2022, 7, 7, 21, 16, 20, 411e6, time.UTC)) || l.UpdatedAt != "2022-07-07T21:16:20.411Z" {
			t.Fatalf("got %v %v from %q", got, ok, l.UpdatedAt)
		}
	})
}

func TestDecimalPlaces(t *testing.T) {
	tests := map[string]int64{
		"12": 0, "-12": 0, "1.5": 1, "1.50": 1, "1.25": 2, "1.255": 3, "0": 0, "0.000": 0,
		"1e-3": 3, "250e-2": 1, "1.5e2": 0, "1.2345e2": 2, "1E+2": 0, "0e-99999999999999999999": 0,
		"1e-99999999999999999999": 1 << 62, "1e99999999999999999999": 0,
	}
	for n, want := range tests {
		t.Run(n, func(t *testing.T) {
			if got := decimalPlaces(json.Number(n)); got != want {
				t.Fatalf("decimalPlaces(%s) = %d, want %d", n, got, want)
			}
		})
	}
}

// assertSameJSON checks that two JSON texts have the same value, numbers
// compared by their text.
func assertSameJSON(tb testing.TB, got, want []byte) {
	tb.Helper()
	g, err := decodeValue(got)
	if err != nil {
		tb.Fatalf("got is not JSON: %v", err)
	}
	w, err := decodeValue(want)
	if err != nil {
		tb.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		tb.Fatalf("JSON differs:\n got %s\nwant %s", got, want)
	}
}

func TestCheckLeadKey(t *testing.T) {
	ok := []Lead{
		{Key: AuroraKey("T", "L"), Provider: ProviderAurora, TenantID: "T", LeadID: "L"},
		{Key: LeadProKey("9999", "1"), Provider: ProviderLeadPro, AccountID: "9999", LeadID: "1"},
	}
	for _, l := range ok {
		if err := CheckLeadKey(l); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
	bad := map[string]Lead{
		"other lead":     {Key: AuroraKey("T", "L2"), Provider: ProviderAurora, TenantID: "T", LeadID: "L"},
		"other provider": {Key: AuroraKey("9999", "1"), Provider: ProviderLeadPro, AccountID: "9999", LeadID: "1"},
		"no lead id":     {Key: AuroraKey("T", ""), Provider: ProviderAurora, TenantID: "T"},
		"no provider":    {Key: AuroraKey("T", "L"), TenantID: "T", LeadID: "L"},
		"colon trick":    {Key: AuroraKey("T", "a:b"), Provider: ProviderAurora, TenantID: "T:a", LeadID: "c"},
	}
	for name, l := range bad {
		if err := CheckLeadKey(l); !errors.Is(err, ErrInvalidLead) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// The webhook facts come from every coalesced event: a lead_changed after
// lead_created must not lose the source, nor one after lead_converted the
// project.
func TestAuroraWebhookOf(t *testing.T) {
	ev := func(event string, attrs map[string]string) Event {
		data, _ := json.Marshal(AuroraData{Event: event, TenantID: testTenant, Attributes: attrs})
		return Event{Data: data}
	}
	got := AuroraWebhookOf(
		ev("lead_created", map[string]string{"lead_id": "L1", "source": "lcai"}),
		ev("lead_converted", map[string]string{"lead_id": "L1", "project_id": "P1"}),
		ev("lead_changed", map[string]string{"lead_id": "L1", "source": ""}),
		Event{Data: []byte(`not json`)},
	)
	if want := (AuroraWebhook{Source: "lcai", ProjectID: "P1"}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := AuroraWebhookOf(ev("lead_created", map[string]string{"lead_id": "L1", "source": ""})); got != (AuroraWebhook{}) {
		t.Fatalf("an empty source is no source: %+v", got)
	}
}
