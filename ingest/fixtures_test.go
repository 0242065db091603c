package ingest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/ingest/ingesttest"
	"github.com/leadbridge/leadbridge/schema"
)

const (
	tenantHeader = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	tenantBasic  = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	account      = "9999"
	webhookToken = "2dbcbba1-9f64-4c07-86dc-02effcbeafa6"
	oldToken     = "old-token-still-valid-during-rotation"
	basicUser    = "bridge"
	basicPass    = "Powering the future 0f solar together!"
	signingKey   = "leadpro-signing-secret-0123456789abcdef"
	oldKey       = "leadpro-previous-secret"
)

func testConfig() Config {
	return Config{
		Aurora: []AuroraTenant{
			{ID: tenantHeader, Header: "X-Aurora-Webhook-Token", Tokens: []schema.Secret{webhookToken, oldToken}},
			{ID: tenantBasic, Username: basicUser, Passwords: []schema.Secret{basicPass}},
		},
		LeadPro: []LeadProAccount{{ID: account, SigningSecrets: []schema.Secret{signingKey, oldKey}}},
	}
}

// fixedClock is the receive time in golden files.
var fixedClock = time.Date(2026, 11, 22, 9, 30, 0, 123000000, time.UTC)

type fakePublisher = ingesttest.Publisher

// delivery is one webhook request of the shared fixture table.
type delivery struct {
	method, path string
	header       http.Header
	body         string
}

func auroraGet(tenant, pathAndQuery string) delivery {
	return delivery{method: http.MethodGet, path: "/webhooks/aurora/" + tenant + pathAndQuery,
		header: http.Header{"X-Aurora-Webhook-Token": {webhookToken}}}
}

func auroraBasic(pathAndQuery string) delivery {
	d := delivery{method: http.MethodGet, path: "/webhooks/aurora/" + tenantBasic + pathAndQuery, header: http.Header{}}
	r := &http.Request{Header: d.header}
	r.SetBasicAuth(basicUser, basicPass)
	return d
}

func leadproPost(tb testing.TB, account, token, body string) delivery {
	tb.Helper()
	return delivery{method: http.MethodPost, path: "/webhooks/leadpro/" + account,
		header: http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}, body: body}
}

// signHS256 signs payload (raw JSON, kept byte for byte) as LeadPro does.
func signHS256(tb testing.TB, payload, key string) string {
	tb.Helper()
	return signWith(tb, jwt.SigningMethodHS256, payload, []byte(key))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func signWith(tb testing.TB, m jwt.SigningMethod, payload string, key any) string {
	tb.Helper()
	tok, err := signJWT(m, []byte(payload), key)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

const (
	leadproUpdated = `{"event":"lead.updated","data":{"id":1,"title":"Sir","first_name":"Richard","last_name":"Branson","email":"rbranson@example.com","type":"vendor","source":"homepage","phone":"07123456789","address":"51 Asimov Place, Starbridge","postcode":"N1 3JY","advert_address":"51 Asimov Place, Starbridge","advert_postcode":"N1 3JY","advert_image":"https://www.site.com/result","advert_url":"https://via.placeholder.com/150","appointment_availability":{"hours":["2021-01-01T08:00:00.000Z","2021-01-01T09:00:00.000Z"]},"full_name":"Sir Ricard Branson","message":"When can we view?","meta":{"virtual tour":"true"}}}`
	leadproCreated = `{"event":"lead.created","data":{"id":2,"first_name":"Ada","last_name":"Lovelace","full_name":"Ada Lovelace","email":"ada@example.com","phone":"07000000000","type":"landlord","address":"12 Analytical Row, London","postcode":"EC1A 1BB","status":"UNREAD","createdAt":"2026-11-22T09:29:58.000Z"},"iat":1795253400}`
)

// auroraValue is the value a golden delivery gives attribute name.
func auroraValue(name string) string {
	switch name {
	case "status":
		return "succeeded"
	case "source":
		return "api"
	case "asset_type":
		return "Design DXF"
	case "attributes":
		return "status,owner_id"
	}
	// A stable UUID-shaped id per attribute name.
	sum := 0
	for _, c := range name {
		sum = sum*31 + int(c)
	}
	return fmt.Sprintf("%08x-0000-4000-8000-%012d", uint32(sum), len(name))
}

// auroraQuery is the query string of an Aurora delivery carrying attrs, in
// the order given (the event list's order).
func auroraQuery(attrs []string) string {
	q := make([]string, len(attrs))
	for i, a := range attrs {
		q[i] = a + "=" + url.QueryEscape(auroraValue(a))
	}
	return strings.Join(q, "&")
}

// everyAttribute is the delivery of event with every documented attribute:
// the suggested template.
func everyAttribute(event string) delivery {
	ev, _ := schema.AuroraEventNamed(event)
	return auroraGet(tenantHeader, "/"+event+"?"+auroraQuery(slices.Collect(ev.Attributes())))
}

// onlyMainID is the delivery of event with only its main id: the smallest
// template a user may choose.
func onlyMainID(event string) (delivery, string) {
	ev, _ := schema.AuroraEventNamed(event)
	attrs := map[string]string{}
	for a := range ev.Attributes() {
		attrs[a] = auroraValue(a)
	}
	main, _ := schema.AuroraMainID(attrs)
	for a := range ev.Attributes() {
		if attrs[a] == main {
			return auroraGet(tenantHeader, "/"+event+"?"+auroraQuery([]string{a})), a
		}
	}
	panic("no main id for " + event)
}

// Problem-shape payloads: signed by LeadPro, odd in what they say.
const (
	leadproDeleted  = `{"event":"lead.deleted","data":{"id":5}}`
	leadproNoDataID = `{"event":"lead.created","data":{"first_name":"A"}}`
	leadproObjectID = `{"event":"lead.created","data":{"id":{}}}`
	leadproNoData   = `{"event":"lead.updated"}`
)

// goldenDeliveries: every accepted delivery whose raw record is pinned: each
// of Aurora's 26 events with its suggested template, the static
// aurora_event form, basic auth, both LeadPro events, and every
// accepted-with-problems shape (names containing "problem"). The same
// table feeds the unit goldens and the real-broker test.
func goldenDeliveries(tb testing.TB) map[string]delivery {
	tb.Helper()
	const lead = "lead_id=f0d1c2b3-0000-4000-8000-000000000001"
	ds := map[string]delivery{
		"aurora_project_changed_static": auroraGet(tenantHeader, "?aurora_event=project_changed&project_id=aa11bb22-0000-4000-8000-000000000002&source=api&attributes=status,owner_id"),
		"aurora_agreement_status_basic": auroraBasic("/agreement_status_changed?project_id=aa11bb22-0000-4000-8000-000000000002&agreement_id=ag000000-0000-4000-8000-000000000006&status=signed"),
		"aurora_lead_created_lcai":      auroraGet(tenantHeader, "/lead_created?"+lead+"&source=lcai"),

		"aurora_problem_unknown_event":             auroraGet(tenantHeader, "/battery_added?design_id=dd000000-0000-4000-8000-000000000003&battery_kind=lfp"),
		"aurora_problem_unknown_event_no_id":       auroraGet(tenantHeader, "/roof_scanned?scan=1"),
		"aurora_problem_missing_attribute":         auroraGet(tenantHeader, "/lead_created?"+lead),
		"aurora_problem_lead_converted_no_project": auroraGet(tenantHeader, "/lead_converted?"+lead),
		"aurora_problem_empty_source":              auroraGet(tenantHeader, "/lead_changed?"+lead+"&source="),
		"aurora_problem_no_id":                     auroraGet(tenantHeader, "/lead_created?source=api"),
		"aurora_problem_empty_id":                  auroraGet(tenantHeader, "/lead_changed?lead_id="),
		"aurora_problem_repeated":                  auroraGet(tenantHeader, "/lead_changed?lead_id=L1&lead_id=L2"),
		"aurora_problem_unknown_attribute":         auroraGet(tenantHeader, "/lead_changed?"+lead+"&crm_ref=abc"),
		"aurora_problem_placeholder":               auroraGet(tenantHeader, "/lead_changed?lead_id=%3CLEAD_ID%3E"),
		"aurora_problem_bad_event_name":            auroraGet(tenantHeader, "/Lead-Created?"+lead),
		"aurora_problem_no_event":                  auroraGet(tenantHeader, "?"+lead),
		"aurora_problem_event_mismatch":            auroraGet(tenantHeader, "/lead_created?aurora_event=lead_changed&"+lead+"&source=api"),
		"aurora_problem_control_char":              auroraGet(tenantHeader, "/lead_changed?lead_id=L%0A1"),
		"aurora_problem_value_too_long":            auroraGet(tenantHeader, "/lead_changed?lead_id="+strings.Repeat("x", 257)),
		"aurora_problem_invalid_utf8":              auroraGet(tenantHeader, "/lead_changed?lead_id=%ff"),
		"aurora_problem_undecodable":               auroraGet(tenantHeader, "/lead_changed?"+lead+"&note=%zz"),
		"aurora_problem_semicolon":                 auroraGet(tenantHeader, "/lead_changed?lead_id=a;b"),
		"aurora_problem_empty_name":                auroraGet(tenantHeader, "/lead_changed?"+lead+"&=x"),
		"aurora_problem_too_many_params":           auroraGet(tenantHeader, "/lead_changed?"+lead+manyParams(32)),

		"leadpro_lead_updated":           leadproPost(tb, account, signHS256(tb, leadproUpdated, signingKey), leadproUpdated),
		"leadpro_lead_created":           leadproPost(tb, account, signHS256(tb, leadproCreated, oldKey), ""),
		"leadpro_problem_unknown_event":  leadproPost(tb, account, signHS256(tb, leadproDeleted, signingKey), ""),
		"leadpro_problem_no_data_id":     leadproPost(tb, account, signHS256(tb, leadproNoDataID, signingKey), ""),
		"leadpro_problem_data_id_object": leadproPost(tb, account, signHS256(tb, leadproObjectID, signingKey), ""),
		"leadpro_problem_no_data":        leadproPost(tb, account, signHS256(tb, leadproNoData, signingKey), ""),
		"leadpro_problem_text_plain":     withContentType(leadproPost(tb, account, signHS256(tb, leadproCreated, signingKey), "id=2"), "text/plain"),
	}
	for _, name := range schema.AuroraEventNames() {
		ds["aurora_"+name] = everyAttribute(name)
	}
	return ds
}

func withContentType(d delivery, ct string) delivery {
	d.header = d.header.Clone()
	d.header.Set("Content-Type", ct)
	return d
}

func (d delivery) request() *http.Request {
	r := httptest.NewRequest(d.method, d.path, strings.NewReader(d.body))
	for k, vs := range d.header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

// renderRecord prints a raw-topic record in the golden form: key, headers in
// order, value indented. ce_id and ce_time vary between runs, so they are
// checked here (a UUIDv7; RFC 3339 UTC) and printed as placeholders.
func renderRecord(tb testing.TB, r *kgo.Record) string {
	tb.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "key: %s\n", r.Key)
	for _, h := range r.Headers {
		v := string(h.Value)
		switch h.Key {
		case schema.HeaderID:
			id, err := uuid.Parse(v)
			if err != nil || id.Version() != 7 {
				tb.Errorf("ce_id %q is not a UUIDv7", v)
			}
			v = "<uuidv7>"
		case schema.HeaderTime:
			if t, err := time.Parse(time.RFC3339Nano, v); err != nil || t.Location() != time.UTC || !strings.HasSuffix(v, "Z") {
				tb.Errorf("ce_time %q is not RFC 3339 UTC", v)
			}
			v = "<time>"
		}
		fmt.Fprintf(&b, "header %s: %s\n", h.Key, v)
	}
	var pretty any
	if err := json.Unmarshal(r.Value, &pretty); err != nil {
		tb.Errorf("value is not JSON: %v", err)
	}
	out, _ := json.MarshalIndent(pretty, "", "  ")
	fmt.Fprintf(&b, "value:\n%s\n", out)
	return b.String()
}

func sortedNames(m map[string]delivery) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
