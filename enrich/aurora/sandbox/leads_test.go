package sandbox_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/leadbridge/leadbridge/enrich/aurora/sandbox"
)

func TestCreateLead(t *testing.T) {
	tests := map[string]struct {
		body       any
		wantStatus int
	}{
		"wrapped":                   {body: map[string]any{"lead": tutorialLead()}, wantStatus: 200},
		"bare":                      {body: tutorialLead(), wantStatus: 200},
		"server fields are ignored": {body: withFields(tutorialLead(), map[string]any{"id": "mine", "created_at": "2001-01-01T00:00:00Z"}), wantStatus: 200},
		"not JSON":                  {body: "{", wantStatus: 400},
		"array":                     {body: "[]", wantStatus: 400},
		"null":                      {body: "null", wantStatus: 400},
		"two values":                {body: "{} {}", wantStatus: 400},
		"too large":                 {body: `{"x":"` + strings.Repeat("a", 1<<20) + `"}`, wantStatus: 413},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			s, base, _ := start(t, sandbox.Options{Now: clk.Now})

			resp := call(t, http.MethodPost, base+"/tenants/"+tenant+"/leads", token, tc.body)

			if resp.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.status, tc.wantStatus, resp.body)
			}
			if tc.wantStatus != 200 {
				return
			}
			got := decode(t, resp.body)["lead"].(map[string]any)
			id, _ := got["id"].(string)
			if _, err := uuid.Parse(id); err != nil {
				t.Fatalf("id %q is not a UUID", id)
			}
			const wantTime = "2026-11-22T10:00:00.000Z"
			if got["created_at"] != wantTime || got["updated_at"] != wantTime {
				t.Errorf("timestamps %v, %v, want %s", got["created_at"], got["updated_at"], wantTime)
			}
			want := withFields(tutorialLead(), map[string]any{"id": id, "created_at": wantTime, "updated_at": wantTime})
			if !reflect.DeepEqual(got, want) {
				t.Errorf("lead\n got %v\nwant %v", got, want)
			}
			if stored, ok := s.Lead(tenant, id); !ok || !reflect.DeepEqual(stored, want) {
				t.Errorf("stored %v, %v", stored, ok)
			}
		})
	}
}

// TestRetrieveLeadShape pins the Retrieve Lead answer to the tutorial's
// "HTTP 200 response": the bare lead object, numbers exactly as stored.
func TestRetrieveLeadShape(t *testing.T) {
	s, base, _ := start(t, sandbox.Options{})
	id := s.PutLead(tenant, withFields(tutorialLead(), map[string]any{"id": "lead-1", "updated_at": "2022-07-07T21:16:20.411Z"}))

	resp := call(t, http.MethodGet, leadURL(base, tenant, id), token, nil)

	if resp.status != 200 {
		t.Fatalf("status %d", resp.status)
	}
	if ct := resp.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	got := decode(t, resp.body)
	if _, wrapped := got["lead"]; wrapped {
		t.Fatal(`answer is wrapped in "lead"`)
	}
	for _, k := range []string{"id", "address", "project_id", "latitude", "longitude", "customer", "created_at", "updated_at"} {
		if _, ok := got[k]; !ok {
			t.Errorf("field %s missing", k)
		}
	}
	if !strings.Contains(string(resp.body), `"latitude":37.77960043`) {
		t.Errorf("latitude not verbatim in %s", resp.body)
	}
	if got["updated_at"] != "2022-07-07T21:16:20.411Z" || got["created_at"] != "2022-07-07T21:16:20.411Z" {
		t.Errorf("pinned timestamps not kept: %v %v", got["created_at"], got["updated_at"])
	}
	if resp := call(t, http.MethodGet, leadURL(base, tenant, "missing"), token, nil); resp.status != 404 {
		t.Errorf("unknown lead: status %d", resp.status)
	}
	if resp := call(t, http.MethodGet, leadURL(base, tenant2, id), token2, nil); resp.status != 404 {
		t.Errorf("other tenant's lead: status %d", resp.status)
	}
}

func TestUpdateLead(t *testing.T) {
	for _, method := range []string{http.MethodPut, http.MethodPatch} {
		t.Run(method, func(t *testing.T) {
			clk := newClock()
			s, base, _ := start(t, sandbox.Options{Now: clk.Now})
			id := s.PutLead(tenant, tutorialLead())
			before, _ := s.Lead(tenant, id)

			// Same clock reading: updated_at must still move forward.
			resp := call(t, method, leadURL(base, tenant, id), token, map[string]any{"lead": map[string]any{
				"customer":     map[string]any{"customer_email": "new@example.com", "customer_phone": nil},
				"project_id":   nil,
				"module_count": 24,
				"id":           "hijack",
				"created_at":   "2001-01-01T00:00:00Z",
			}})

			if resp.status != 200 {
				t.Fatalf("status %d: %s", resp.status, resp.body)
			}
			got := decode(t, resp.body)["lead"].(map[string]any)
			want := withFields(before, map[string]any{"module_count": json.Number("24"), "updated_at": "2026-11-22T10:00:00.001Z"})
			delete(want, "project_id")
			cust := want["customer"].(map[string]any)
			cust["customer_email"] = "new@example.com"
			delete(cust, "customer_phone")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("lead\n got %v\nwant %v", got, want)
			}

			clk.Add(time.Hour)
			got, ok := s.UpdateLead(tenant, id, map[string]any{"status": "contacted"})
			if !ok || got["updated_at"] != "2026-11-22T11:00:00.000Z" || got["status"] != "contacted" {
				t.Errorf("UpdateLead = %v, %v", got, ok)
			}
			if resp := call(t, method, leadURL(base, tenant, "missing"), token, map[string]any{}); resp.status != 404 {
				t.Errorf("unknown lead: status %d", resp.status)
			}
			if resp := call(t, method, leadURL(base, tenant, id), token, "nope"); resp.status != 400 {
				t.Errorf("bad body: status %d", resp.status)
			}
		})
	}
}

func TestLeadGoMethods(t *testing.T) {
	s, _, _ := start(t, sandbox.Options{})
	id := s.PutLead(tenant, map[string]any{"n": 1})
	got, _ := s.Lead(tenant, id)
	got["n"] = "mutated"
	if again, _ := s.Lead(tenant, id); again["n"] != json.Number("1") {
		t.Errorf("Lead returned shared state: %v", again["n"])
	}
	if s.PutLead(tenant, map[string]any{"bad": make(chan int)}) != "" {
		t.Error("PutLead of a non-JSON value returned an id")
	}
	if _, ok := s.UpdateLead(tenant, "missing", map[string]any{}); ok {
		t.Error("UpdateLead of a missing lead ok")
	}
	if !s.DeleteLead(tenant, id) || s.DeleteLead(tenant, id) {
		t.Error("DeleteLead")
	}
	if _, ok := s.Lead(tenant, id); ok {
		t.Error("deleted lead still there")
	}
}

func TestConcurrentUse(t *testing.T) {
	s, base, _ := start(t, sandbox.Options{RateLimit: 1000})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				id := s.PutLead(tenant, map[string]any{"i": i})
				s.UpdateLead(tenant, id, map[string]any{"j": i})
				call(t, http.MethodGet, leadURL(base, tenant, id), token, nil)
				s.FailNext(id, sandbox.Fault{Status: 503})
				call(t, http.MethodGet, leadURL(base, tenant, id), token, nil)
				_ = s.Stats()
				_ = s.MaxCallsInWindow(token, time.Minute)
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if st.ByRoute[sandbox.RouteRetrieveLead] != 8*20*2 || st.ByStatus[503] != 8*20 {
		t.Errorf("stats %+v", st)
	}
}

func withFields(m map[string]any, add map[string]any) map[string]any {
	out := make(map[string]any, len(m)+len(add))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range add {
		out[k] = v
	}
	return out
}
