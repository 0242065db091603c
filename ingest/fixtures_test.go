package ingest

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

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
	head, _ := json.Marshal(map[string]string{"alg": m.Alg(), "typ": "JWT"})
	unsigned := b64(head) + "." + b64([]byte(payload))
	sig, err := m.Sign(unsigned, key)
	if err != nil {
		tb.Fatal(err)
	}
	return unsigned + "." + b64(sig)
}

const (
	leadproUpdated = `{"event":"lead.updated","data":{"id":1,"title":"Sir","first_name":"Richard","last_name":"Branson","email":"rbranson@example.com","type":"vendor","source":"homepage","phone":"07123456789","address":"51 Asimov Place, Starbridge","postcode":"N1 3JY","advert_address":"51 Asimov Place, Starbridge","advert_postcode":"N1 3JY","advert_image":"https://www.site.com/result","advert_url":"https://via.placeholder.com/150","appointment_availability":{"hours":["2021-01-01T08:00:00.000Z","2021-01-01T09:00:00.000Z"]},"full_name":"Sir Ricard Branson","message":"When can we view?","meta":{"virtual tour":"true"}}}`
	leadproCreated = `{"event":"lead.created","data":{"id":2,"first_name":"Ada","last_name":"Lovelace","full_name":"Ada Lovelace","email":"ada@example.com","phone":"07000000000","type":"landlord","address":"12 Analytical Row, London","postcode":"EC1A 1BB","status":"UNREAD","createdAt":"2026-11-22T09:29:58.000Z"},"iat":1795253400}`
)

// goldenDeliveries: one accepted delivery per Aurora id family and both
// LeadPro events. The same table feeds the unit goldens and the real-broker test.
func goldenDeliveries(tb testing.TB) map[string]delivery {
	tb.Helper()
	return map[string]delivery{
		"aurora_lead_created":               auroraGet(tenantHeader, "/lead_created?lead_id=f0d1c2b3-0000-4000-8000-000000000001&source=lcai"),
		"aurora_lead_converted":             auroraGet(tenantHeader, "/lead_converted?lead_id=f0d1c2b3-0000-4000-8000-000000000001&project_id=aa11bb22-0000-4000-8000-000000000002"),
		"aurora_project_created":            auroraGet(tenantHeader, "/project_created?project_id=aa11bb22-0000-4000-8000-000000000002&source=app"),
		"aurora_project_changed_static":     auroraGet(tenantHeader, "?aurora_event=project_changed&project_id=aa11bb22-0000-4000-8000-000000000002&source=api&attributes=status,owner_id"),
		"aurora_design_created":             auroraGet(tenantHeader, "/design_created?project_id=aa11bb22-0000-4000-8000-000000000002&design_id=dd000000-0000-4000-8000-000000000003&source=expert_design_service"),
		"aurora_job_auto_designer":          auroraGet(tenantHeader, "/auto_designer_job_completed?design_id=dd000000-0000-4000-8000-000000000003&job_id=jj000000-0000-4000-8000-000000000004&status=succeeded&source=api"),
		"aurora_asset_created":              auroraGet(tenantHeader, "/asset_created?design_id=dd000000-0000-4000-8000-000000000003&asset_id=as000000-0000-4000-8000-000000000005&asset_type=Design+DXF"),
		"aurora_agreement_status":           auroraBasic("/agreement_status_changed?project_id=aa11bb22-0000-4000-8000-000000000002&agreement_id=ag000000-0000-4000-8000-000000000006&status=signed"),
		"aurora_design_request_created":     auroraGet(tenantHeader, "/design_request_created?design_request_id=dr000000-0000-4000-8000-000000000007&source=app"),
		"aurora_plan_set_request":           auroraGet(tenantHeader, "/plan_set_request_status_changed?plan_set_request_id=ps000000-0000-4000-8000-000000000008&status=completed"),
		"aurora_site_survey_requested":      auroraGet(tenantHeader, "/site_survey_requested?site_survey_request_id=sr000000-0000-4000-8000-000000000009"),
		"aurora_site_survey_status_changed": auroraGet(tenantHeader, "/site_survey_status_changed?site_survey_id=ss000000-0000-4000-8000-000000000010&status=completed"),
		"aurora_app_status_changed":         auroraGet(tenantHeader, "/app_status_changed?app_id=ap000000-0000-4000-8000-000000000011&status=enabled"),
		"aurora_ahj_lookup":                 auroraGet(tenantHeader, "/ahj_lookup_completed?project_id=aa11bb22-0000-4000-8000-000000000002&ahj_id=ahj-42&status=succeeded"),
		"aurora_unknown_event_extra_params": auroraGet(tenantHeader, "/battery_added?design_id=dd000000-0000-4000-8000-000000000003&battery_kind=lfp"),
		"leadpro_lead_updated":              leadproPost(tb, account, signHS256(tb, leadproUpdated, signingKey), leadproUpdated),
		"leadpro_lead_created":              leadproPost(tb, account, signHS256(tb, leadproCreated, oldKey), ""),
	}
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

// checkGolden compares got with testdata/<name>.golden (-update rewrites it).
func checkGolden(tb testing.TB, name, got string) {
	tb.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read golden (run with -update to create): %v", err)
	}
	if string(want) != got {
		tb.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func sortedNames(m map[string]delivery) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
