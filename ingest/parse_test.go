package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/schema"
)

func TestParseAurora(t *testing.T) {
	type attrs = map[string]string
	tests := map[string]struct {
		event, query string
		want         attrs
		wantEvent    string
		problems     []string // "field: problem" prefixes, in order
	}{
		"path event":        {"lead_created", "lead_id=L1&source=api", attrs{"lead_id": "L1", "source": "api"}, "lead_created", nil},
		"static event":      {"", "aurora_event=lead_changed&lead_id=L1", attrs{"lead_id": "L1"}, "lead_changed", nil},
		"both agree":        {"lead_changed", "aurora_event=lead_changed&lead_id=L1", attrs{"lead_id": "L1"}, "lead_changed", nil},
		"filter value free": {"asset_created", "design_id=D&asset_id=A&asset_type=Brand+New+Type", attrs{"design_id": "D", "asset_id": "A", "asset_type": "Brand New Type"}, "asset_created", nil},
		"unicode value":     {"project_status_changed", "project_id=P&status=Cr%C3%A9%C3%A9", attrs{"project_id": "P", "status": "Créé"}, "project_status_changed", nil},
		"256 bytes ok":      {"lead_changed", "lead_id=" + strings.Repeat("a", 256), attrs{"lead_id": strings.Repeat("a", 256)}, "lead_changed", nil},

		"status missing":  {"lead_solar_estimation_job_completed", "lead_id=L1&job_id=J1", attrs{"lead_id": "L1", "job_id": "J1"}, "lead_solar_estimation_job_completed", []string{"status: missing"}},
		"extra kept":      {"lead_changed", "lead_id=L1&crm_ref=abc", attrs{"lead_id": "L1", "crm_ref": "abc"}, "lead_changed", []string{"crm_ref: not an attribute Aurora documents"}},
		"unknown event":   {"roof_scanned", "design_id=D", attrs{"design_id": "D"}, "roof_scanned", []string{"event: not an event Aurora documents"}},
		"unknown no ids":  {"roof_scanned", "", attrs{}, "roof_scanned", []string{"event: not an event"}},
		"257 bytes":       {"lead_changed", "lead_id=" + strings.Repeat("a", 257), attrs{"lead_id": strings.Repeat("a", 257)}, "lead_changed", []string{"lead_id: over 256 bytes"}},
		"missing id":      {"design_deleted", "project_id=P", attrs{"project_id": "P"}, "design_deleted", []string{"design_id: missing"}},
		"empty":           {"lead_changed", "lead_id=", attrs{"lead_id": ""}, "lead_changed", []string{"lead_id: empty"}},
		"tab":             {"lead_changed", "lead_id=a%09b", attrs{"lead_id": "a\tb"}, "lead_changed", []string{"lead_id: has control characters"}},
		"DEL":             {"lead_changed", "lead_id=a%7Fb", attrs{"lead_id": "a\x7fb"}, "lead_changed", []string{"lead_id: has control characters"}},
		"C1 control":      {"lead_changed", "lead_id=a%C2%85b", attrs{"lead_id": "a\u0085b"}, "lead_changed", []string{"lead_id: has control characters"}},
		"repeat":          {"lead_changed", "lead_id=a&lead_id=b", attrs{"lead_id": "a"}, "lead_changed", []string{"lead_id: given 2 times"}},
		"empty name":      {"lead_changed", "lead_id=a&=x", attrs{"lead_id": "a", "": "x"}, "lead_changed", []string{"query: a parameter name is empty"}},
		"name too long":   {"lead_changed", "lead_id=a&" + strings.Repeat("n", 65) + "=x", attrs{"lead_id": "a", strings.Repeat("n", 65): "x"}, "lead_changed", []string{"query: a parameter name is empty, over 64 bytes"}},
		"upper event":     {"Lead_created", "lead_id=a", attrs{"lead_id": "a"}, "Lead_created", []string{"event: not of Aurora's form"}},
		"event too long":  {strings.Repeat("e", 65), "lead_id=a", attrs{"lead_id": "a"}, strings.Repeat("e", 65), []string{"event: not of Aurora's form"}},
		"no event":        {"", "lead_id=a", attrs{"lead_id": "a"}, "", []string{"event: missing"}},
		"event mismatch":  {"lead_created", "aurora_event=lead_changed&lead_id=a&source=api", attrs{"lead_id": "a", "source": "api"}, "lead_created", []string{"aurora_event: differs from the event in the path"}},
		"static repeated": {"", "aurora_event=lead_changed&aurora_event=lead_changed&lead_id=a", attrs{"lead_id": "a"}, "lead_changed", []string{"aurora_event: given more than once"}},
		"placeholder":     {"lead_changed", "lead_id=%3CLEAD_ID%3E", attrs{"lead_id": "<LEAD_ID>"}, "lead_changed", []string{"lead_id: an unfilled template placeholder"}},
		"semicolon":       {"lead_changed", "lead_id=a;b", attrs{}, "lead_changed", []string{"query: cannot be percent-decoded"}},
		"bad escape":      {"lead_changed", "lead_id=L1&x=%zz", attrs{}, "lead_changed", []string{"query: cannot be percent-decoded"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := ParseAurora("T", tc.event, tc.query)
			if d.Event != tc.wantEvent || d.TenantID != "T" || d.RawQuery != tc.query {
				t.Fatalf("got %+v", d)
			}
			if tc.want != nil && !reflect.DeepEqual(d.Attributes, tc.want) {
				t.Fatalf("attributes %q, want %q", d.Attributes, tc.want)
			}
			var got []string
			for _, p := range d.Problems {
				got = append(got, p.Field+": "+p.Problem)
			}
			if len(got) != len(tc.problems) {
				t.Fatalf("problems %q, want %q", got, tc.problems)
			}
			for i, w := range tc.problems {
				if !strings.HasPrefix(got[i], w) {
					t.Fatalf("problems %q, want %q", got, tc.problems)
				}
			}
		})
	}
}

// Over 32 parameters the query is flagged as a whole; all are kept.
func TestParseAuroraParamCount(t *testing.T) {
	for n, flagged := range map[int]bool{31: false, 32: true} {
		d := ParseAurora("T", "lead_changed", "lead_id=a&aurora_event=lead_changed"+manyParams(n))
		last := d.Problems[len(d.Problems)-1]
		if got := last == (schema.Problem{Field: "query", Problem: "more than 32 parameters"}); got != flagged || len(d.Attributes) != n+1 {
			t.Errorf("%d+1 parameters: flagged %v, %d attributes", n, got, len(d.Attributes))
		}
	}
}

// A query of thousands of odd parameters lists at most 64 problems, and
// says how many more there are; past net/url's 10,000 it is undecodable.
func TestParseAuroraBoundsProblems(t *testing.T) {
	var q strings.Builder
	q.WriteString("lead_id=L")
	for i := range 500 {
		fmt.Fprintf(&q, "&p%d=v", i)
	}
	// 500 unknown names, and "more than 32 parameters": 501 problems.
	d := ParseAurora("T", "lead_changed", q.String())
	if len(d.Problems) != maxAuroraProblems+1 || d.Problems[maxAuroraProblems].Problem != "437 more problems not listed" || len(d.Attributes) != 501 {
		t.Fatalf("%d problems, last %v, %d attributes", len(d.Problems), d.Problems[len(d.Problems)-1], len(d.Attributes))
	}
	d = ParseAurora("T", "lead_changed", "lead_id=L"+strings.Repeat("&a=b", 10000))
	if d.Problems[0].Field != "query" || len(d.Attributes) != 0 {
		t.Fatalf("over 10,000 parameters: %v", d.Problems[0])
	}
}

// Repeated parameters keep every value, in order.
func TestParseAuroraRepeatedKeepsEveryValue(t *testing.T) {
	d := ParseAurora("T", "lead_changed", "lead_id=L1&lead_id=L2&lead_id=L1")
	if want := []string{"L1", "L2", "L1"}; !reflect.DeepEqual(d.Repeated["lead_id"], want) || d.Attributes["lead_id"] != "L1" {
		t.Fatalf("repeated %q attributes %q", d.Repeated, d.Attributes)
	}
}

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("&p")
		b.WriteString(strings.Repeat("x", i+1))
		b.WriteString("=v")
	}
	return b.String()
}

// FuzzParseAurora: no panic; the raw query is kept verbatim; whatever is not
// clean is flagged; a known event's missing attributes are flagged; the key
// is the best id present, else the tenant; and the event survives the Kafka
// codec unchanged.
func FuzzParseAurora(f *testing.F) {
	f.Add("lead_created", "lead_id=L1&source=api")
	f.Add("", "aurora_event=project_changed&project_id=P&attributes=status,name")
	f.Add("asset_created", "design_id=D&asset_id=A&asset_type=Design+DXF")
	f.Add("x", "%zz=1")
	f.Fuzz(func(t *testing.T, event, query string) {
		d := ParseAurora("T", event, query)
		if d.RawQuery != query {
			t.Fatal("raw query not kept verbatim")
		}
		flagged := map[string]bool{}
		for _, p := range d.Problems {
			flagged[p.Field] = true
		}
		if !schema.ValidAuroraEventName(d.Event) && !flagged["event"] {
			t.Fatalf("event name %q not flagged", d.Event)
		}
		for k, v := range d.Attributes {
			if !cleanString(v, maxAuroraValueBytes) && !flagged[k] {
				t.Fatalf("unclean value of %q not flagged", k)
			}
			if !cleanString(k, maxAuroraNameBytes) && !flagged["query"] {
				t.Fatalf("unclean name %q not flagged", k)
			}
		}
		if ev, ok := schema.AuroraEventNamed(d.Event); ok && !flagged["query"] {
			for a := range ev.Attributes() {
				if _, ok := d.Attributes[a]; !ok && !flagged[a] {
					t.Fatalf("known event %s: missing %s not flagged", d.Event, a)
				}
			}
		}
		// Decoding agrees with net/url: the first value of each name, and
		// every value of a repeated one.
		if q, err := url.ParseQuery(query); err == nil {
			delete(q, staticEventParam)
			for k, vs := range q {
				if d.Attributes[k] != vs[0] || (len(vs) > 1) != (d.Repeated[k] != nil) || (len(vs) > 1 && !slices.Equal(vs, d.Repeated[k])) {
					t.Fatalf("%q: attributes %q repeated %q, net/url says %q", k, d.Attributes[k], d.Repeated[k], vs)
				}
			}
			if len(q) != len(d.Attributes) {
				t.Fatalf("%d attributes, net/url finds %d", len(d.Attributes), len(q))
			}
		} else if !flagged["query"] || len(d.Attributes) != 0 {
			t.Fatalf("net/url cannot decode %q, but it was not flagged as undecodable", query)
		}
		if len(d.Problems) > maxAuroraProblems+1 {
			t.Fatalf("%d problems listed", len(d.Problems))
		}
		data := d.AppendJSON(nil)
		ev := auroraEvent(d, "id", data, time.Unix(0, 0).UTC())
		if main, ok := schema.AuroraMainID(d.Attributes); ok {
			if ev.PartitionKey != schema.AuroraKey("T", main) {
				t.Fatalf("key %q, want the main id's", ev.PartitionKey)
			}
		} else if ev.PartitionKey != "aurora:T" {
			t.Fatalf("key %q, want the tenant's", ev.PartitionKey)
		}
		back, err := schema.DecodeRecord(ev.Record())
		if err != nil {
			t.Fatalf("built event does not decode: %v", err)
		}
		if !bytes.Equal(back.Data, data) {
			t.Fatal("data changed on the way through the codec")
		}
	})
}

func TestParseLeadPro(t *testing.T) {
	tests := map[string]struct {
		payload, event, id string
		problems           []string
	}{
		"created":         {`{"event":"lead.created","data":{"id":2}}`, "lead.created", "2", nil},
		"string id":       {`{"event":"lead.updated","data":{"id":"abc"}}`, "lead.updated", "abc", nil},
		"number literal":  {`{"event":"lead.updated","data":{"id":1e3}}`, "lead.updated", "1e3", nil},
		"unknown event":   {`{"event":"lead.deleted","data":{"id":5}}`, "lead.deleted", "5", []string{"event: not lead.created or lead.updated"}},
		"event not text":  {`{"event":7,"data":{"id":5}}`, "", "5", []string{"event: must be a string"}},
		"no event":        {`{"data":{"id":5}}`, "", "5", []string{"event: missing"}},
		"no data":         {`{"event":"lead.created"}`, "lead.created", "", []string{"data: missing"}},
		"data not object": {`{"event":"lead.created","data":[1]}`, "lead.created", "", []string{"data: must be an object"}},
		"no id":           {`{"event":"lead.created","data":{"first_name":"A"}}`, "lead.created", "", []string{"data.id: missing"}},
		"object id":       {`{"event":"lead.created","data":{"id":{}}}`, "lead.created", "", []string{"data.id: must be a number or a string"}},
		"empty id":        {`{"event":"lead.created","data":{"id":""}}`, "lead.created", "", []string{"data.id: empty"}},
		"not an object":   {`[1]`, "", "", []string{"payload: not a JSON object"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := ParseLeadPro([]byte(tc.payload))
			if p.Event != tc.event || p.DataID != tc.id || len(p.Problems) != len(tc.problems) {
				t.Fatalf("got %+v", p)
			}
			for i, w := range tc.problems {
				if got := p.Problems[i].Field + ": " + p.Problems[i].Problem; !strings.HasPrefix(got, w) {
					t.Fatalf("problem %q, want %q", got, w)
				}
			}
		})
	}
}

// withProblems keeps every signed byte and yields JSON with the list appended.
func TestWithProblems(t *testing.T) {
	problems := []schema.Problem{{Field: "event", Problem: "x"}}
	for in, want := range map[string]string{
		`{"event":"a"}`:        `{"event":"a","problems":[{"field":"event","problem":"x"}]}`,
		"{\"event\":\"a\"} \n": `{"event":"a","problems":[{"field":"event","problem":"x"}]}`,
		`{}`:                   `{"problems":[{"field":"event","problem":"x"}]}`,
		`{ }`:                  `{ "problems":[{"field":"event","problem":"x"}]}`,
	} {
		got, err := withProblems([]byte(in), problems)
		if err != nil || string(got) != want || !json.Valid(got) {
			t.Errorf("withProblems(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := withProblems([]byte(`[1]`), problems); err == nil {
		t.Error("a non-object payload must fail")
	}
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
		if got, _ := schema.BearerToken(in); got != want {
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
		p := ParseLeadPro(got)
		if len(p.Problems) == 0 && (p.Event != schema.LeadProLeadCreated && p.Event != schema.LeadProLeadUpdated || p.DataID == "") {
			t.Fatalf("unflagged %+v", p)
		}
		if len(p.Problems) > 0 {
			out, err := withProblems(got, p.Problems)
			if err != nil || !json.Valid(out) || !bytes.HasPrefix(out, bytes.TrimRight(bytes.TrimSpace(got), "}")) {
				t.Fatalf("flagged payload %s (%v)", out, err)
			}
		}
	})
}
