package ingest

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/schema"
)

func TestParseAurora(t *testing.T) {
	tests := map[string]struct {
		event, query string
		want         map[string]string
		wantEvent    string
		err          bool
	}{
		"path event":          {"lead_created", "lead_id=L1&source=api", map[string]string{"lead_id": "L1", "source": "api"}, "lead_created", false},
		"static event":        {"", "aurora_event=lead_changed&lead_id=L1", map[string]string{"lead_id": "L1"}, "lead_changed", false},
		"both agree":          {"lead_changed", "aurora_event=lead_changed&lead_id=L1", map[string]string{"lead_id": "L1"}, "lead_changed", false},
		"status optional":     {"lead_solar_estimation_job_completed", "lead_id=L1&job_id=J1", map[string]string{"lead_id": "L1", "job_id": "J1"}, "lead_solar_estimation_job_completed", false},
		"filter value free":   {"asset_created", "design_id=D&asset_id=A&asset_type=Brand+New+Type", map[string]string{"design_id": "D", "asset_id": "A", "asset_type": "Brand New Type"}, "asset_created", false},
		"extra kept":          {"lead_changed", "lead_id=L1&crm_ref=abc", map[string]string{"lead_id": "L1", "crm_ref": "abc"}, "lead_changed", false},
		"unknown event":       {"roof_scanned", "design_id=D", map[string]string{"design_id": "D"}, "roof_scanned", false},
		"unknown no ids":      {"roof_scanned", "", map[string]string{}, "roof_scanned", false},
		"unicode value":       {"project_status_changed", "project_id=P&status=Cr%C3%A9%C3%A9", map[string]string{"project_id": "P", "status": "Créé"}, "project_status_changed", false},
		"256 bytes ok":        {"lead_changed", "lead_id=" + strings.Repeat("a", 256), map[string]string{"lead_id": strings.Repeat("a", 256)}, "lead_changed", false},
		"257 bytes":           {"lead_changed", "lead_id=" + strings.Repeat("a", 257), nil, "", true},
		"missing id":          {"design_deleted", "project_id=P", nil, "", true},
		"empty":               {"lead_changed", "lead_id=", nil, "", true},
		"tab":                 {"lead_changed", "lead_id=a%09b", nil, "", true},
		"DEL":                 {"lead_changed", "lead_id=a%7Fb", nil, "", true},
		"C1 control":          {"lead_changed", "lead_id=a%C2%85b", nil, "", true},
		"repeat":              {"lead_changed", "lead_id=a&lead_id=a", nil, "", true},
		"empty name":          {"lead_changed", "lead_id=a&=x", nil, "", true},
		"name too long":       {"lead_changed", "lead_id=a&" + strings.Repeat("n", 65) + "=x", nil, "", true},
		"too many params":     {"lead_changed", "lead_id=a" + strings.Repeat("&p=x", 1) + manyParams(40), nil, "", true},
		"upper event":         {"Lead_created", "lead_id=a", nil, "", true},
		"event too long":      {strings.Repeat("e", 65), "lead_id=a", nil, "", true},
		"static repeated":     {"", "aurora_event=lead_changed&aurora_event=lead_changed&lead_id=a", nil, "", true},
		"semicolon separator": {"lead_changed", "lead_id=a;b", nil, "", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := ParseAurora("T", tc.event, tc.query)
			if tc.err {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Event != tc.wantEvent || d.TenantID != "T" || !reflect.DeepEqual(d.Attributes, tc.want) {
				t.Fatalf("got %+v", d)
			}
		})
	}
}

// safeWords may appear in errors: our own messages, attribute and event names.
var safeWords = func() string {
	w := strings.Join(schema.AuroraAttributes, " ") + " aurora_event does not match the event in the path " +
		"no event: put it in the path or in aurora_event a query parameter is given more than once " +
		"is empty, over 256 bytes or has control characters query parameter name is empty, too long"
	for name := range schema.AuroraEvents {
		w += " missing required attribute for " + name
	}
	return w
}()

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("&p")
		b.WriteString(strings.Repeat("x", i+1))
		b.WriteString("=v")
	}
	return b.String()
}

// FuzzParseAurora: no panic; accepted input is clean (every value non-empty,
// at most 256 bytes, no control characters), known events carry their ids,
// and the event it builds survives the Kafka codec unchanged.
func FuzzParseAurora(f *testing.F) {
	f.Add("lead_created", "lead_id=L1&source=api")
	f.Add("", "aurora_event=project_changed&project_id=P&attributes=status,name")
	f.Add("asset_created", "design_id=D&asset_id=A&asset_type=Design+DXF")
	f.Add("x", "%zz=1")
	f.Fuzz(func(t *testing.T, event, query string) {
		d, err := ParseAurora("T", event, query)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error kind: %v", err)
			}
			q, _ := url.ParseQuery(query)
			for name, vs := range q {
				for _, v := range append(vs, name) {
					if len(v) >= 8 && strings.Contains(err.Error(), v) && !strings.Contains(safeWords, v) {
						t.Fatalf("error echoes input %q: %v", v, err)
					}
				}
			}
			return
		}
		if !schema.ValidAuroraEventName(d.Event) {
			t.Fatalf("accepted event name %q", d.Event)
		}
		for k, v := range d.Attributes {
			if !cleanString(k, maxAuroraNameBytes) || !cleanString(v, maxAuroraValueBytes) {
				t.Fatalf("accepted unclean attribute %q=%q", k, v)
			}
		}
		if ev, ok := schema.AuroraEvents[d.Event]; ok {
			for _, id := range ev.Required() {
				if d.Attributes[id] == "" {
					t.Fatalf("known event %s accepted without %s", d.Event, id)
				}
			}
		}
		data, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		ev := auroraEvent(d, "id", data, time.Unix(0, 0).UTC())
		back, err := schema.DecodeRecord(ev.Record())
		if err != nil {
			t.Fatalf("built event does not decode: %v", err)
		}
		var got schema.AuroraData
		if err := json.Unmarshal(back.Data, &got); err != nil || !reflect.DeepEqual(got, d) {
			t.Fatalf("data round trip: %+v vs %+v (%v)", got, d, err)
		}
		if _, err := url.ParseQuery(query); err != nil {
			t.Fatal("accepted a query string that does not parse")
		}
	})
}

func TestVerifyLeadProRotationAndVerbatim(t *testing.T) {
	for name, key := range map[string]string{"current": signingKey, "previous": oldKey} {
		t.Run(name, func(t *testing.T) {
			tok := signHS256(t, leadproUpdated, key)
			got, err := VerifyLeadPro(tok, []schema.Secret{signingKey, oldKey}, fixedClock)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != leadproUpdated {
				t.Fatalf("payload not verbatim:\n%s", got)
			}
		})
	}
	// 60 s leeway: an exp 30 s ago still passes, 90 s ago does not.
	for name, tc := range map[string]struct {
		ago time.Duration
		ok  bool
	}{"30s": {30 * time.Second, true}, "90s": {90 * time.Second, false}} {
		t.Run("exp "+name, func(t *testing.T) {
			p := `{"event":"lead.created","data":{"id":1},"exp":` + jsonNum(fixedClock.Add(-tc.ago).Unix()) + `}`
			_, err := VerifyLeadPro(signHS256(t, p, signingKey), []schema.Secret{signingKey}, fixedClock)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestBearer(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "abc": "abc", "": "", "Bearer": "Bearer"} {
		if got := bearer(in); got != want {
			t.Errorf("bearer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBodyMatch(t *testing.T) {
	docSample := `{ event: lead.updated, data: { id: 1, phone: 07123456789 } }`
	for name, tc := range map[string]struct{ body, want string }{
		"absent":       {"", "absent"},
		"same":         {`{"data":{"id":1},"event":"lead.updated"}`, "match"},
		"differs":      {`{"event":"lead.updated","data":{"id":2}}`, "differs"},
		"doc's sample": {docSample, "unparseable"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := bodyMatch([]byte(tc.body), []byte(`{"event":"lead.updated","data":{"id":1}}`)); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// FuzzLeadProToken: no panic; a token is accepted only if signed HS256 with
// the secret, and what it returns is exactly the signed payload.
func FuzzLeadProToken(f *testing.F) {
	f.Add(leadproCreated, true, "")
	f.Add(`{"event":"lead.updated","data":{"id":"7"}}`, false, "x.y.z")
	f.Fuzz(func(t *testing.T, payload string, sign bool, raw string) {
		tok := raw
		if sign {
			tok = signHS256(t, payload, signingKey)
		}
		got, err := VerifyLeadPro(tok, []schema.Secret{signingKey}, fixedClock)
		if err != nil {
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("error kind %v", err)
			}
			return
		}
		if !sign {
			t.Fatalf("accepted an unsigned token %q", raw)
		}
		if string(got) != payload {
			t.Fatalf("payload changed")
		}
		if p, err := ParseLeadPro(got); err == nil {
			if p.Event != schema.LeadProLeadCreated && p.Event != schema.LeadProLeadUpdated || p.DataID == "" {
				t.Fatalf("accepted %+v", p)
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("parse error kind %v", err)
		}
	})
}
