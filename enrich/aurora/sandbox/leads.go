package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
)

// timeFormat is how Aurora writes created_at and updated_at:
// "2022-07-07T21:16:20.411Z".
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// Fields the server owns: a create or update body cannot set them.
var serverFields = []string{"id", "created_at", "updated_at"}

type lead struct {
	fields  map[string]any // the object Retrieve Lead answers, id and timestamps included
	updated time.Time
}

// handleCreateLead is POST /tenants/{tenant_id}/leads. The body is
// {"lead": {...}} or the bare object; id, created_at and updated_at are
// assigned by the server. It answers 200 {"lead": {...}} and fires
// lead_created with source=api.
func (s *Server) handleCreateLead(w http.ResponseWriter, r *http.Request, tenant string) {
	obj, code := decodeObject(w, r, "lead")
	if code != 0 {
		writeError(w, code)
		return
	}
	for _, k := range serverFields {
		delete(obj, k)
	}
	snap, _ := s.storeLead(tenant, obj)
	writeJSON(w, http.StatusOK, map[string]any{"lead": snap})
	s.Fire(r.Context(), tenant, "lead_created", map[string]string{"lead_id": snap["id"].(string), "source": "api"})
}

// handleRetrieveLead is Retrieve Lead, GET /tenants/{tenant_id}/leads/{lead_id}.
// It answers the bare lead object, the shape of the 200 response in Aurora's
// Retrieve Leads tutorial (no {"lead": ...} wrapper), or a queued fault.
func (s *Server) handleRetrieveLead(w http.ResponseWriter, r *http.Request, tenant string) {
	id := r.PathValue("lead_id")
	if f, ok := s.takeFault(id); ok && s.writeFault(w, f) {
		return
	}
	snap, ok := s.Lead(tenant, id)
	if !ok {
		writeError(w, http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

// handleUpdateLead is PUT or PATCH /tenants/{tenant_id}/leads/{lead_id}: the
// body ({"lead": {...}} or bare) is merged into the lead as a JSON merge
// patch (RFC 7386: objects merge, null deletes), updated_at moves forward,
// and lead_changed fires. It answers 200 {"lead": {...}}.
func (s *Server) handleUpdateLead(w http.ResponseWriter, r *http.Request, tenant string) {
	patch, code := decodeObject(w, r, "lead")
	if code != 0 {
		writeError(w, code)
		return
	}
	id := r.PathValue("lead_id")
	snap, ok := s.updateLead(tenant, id, patch)
	if !ok {
		writeError(w, http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"lead": snap})
	s.Fire(r.Context(), tenant, "lead_changed", map[string]string{"lead_id": id})
}

// PutLead stores a lead for tests and returns its id. Unlike the HTTP create,
// it keeps an "id", "created_at" or "updated_at" the caller sets (strings;
// timestamps in RFC 3339), so a test can pin ids and provider times; missing
// ones are assigned. Putting an id that exists replaces that lead and fires
// lead_changed; a new one fires lead_created with source=api. Values go
// through JSON, so numbers read back as json.Number. It returns "" if lead
// cannot be encoded as JSON.
func (s *Server) PutLead(tenantID string, lead map[string]any) (id string) {
	obj, err := normalize(lead)
	if err != nil {
		s.log.Error("sandbox put lead: not JSON", zap.String("tenant", tenantID), zap.Error(err))
		return ""
	}
	snap, created := s.storeLead(tenantID, obj)
	id = snap["id"].(string)
	if created {
		s.Fire(s.ctx, tenantID, "lead_created", map[string]string{"lead_id": id, "source": "api"})
	} else {
		s.Fire(s.ctx, tenantID, "lead_changed", map[string]string{"lead_id": id})
	}
	return id
}

// UpdateLead merges fields into a stored lead like the HTTP update (JSON merge
// patch; id and timestamps cannot be set), moves updated_at forward and fires
// lead_changed. It returns the updated lead, or false if there is none.
func (s *Server) UpdateLead(tenantID, id string, fields map[string]any) (map[string]any, bool) {
	patch, err := normalize(fields)
	if err != nil {
		s.log.Error("sandbox update lead: not JSON", zap.String("tenant", tenantID), zap.Error(err))
		return nil, false
	}
	snap, ok := s.updateLead(tenantID, id, patch)
	if ok {
		s.Fire(s.ctx, tenantID, "lead_changed", map[string]string{"lead_id": id})
	}
	return snap, ok
}

// Lead returns a copy of a stored lead, as Retrieve Lead would answer it.
func (s *Server) Lead(tenantID, id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leads[tenantID][id]
	if !ok {
		return nil, false
	}
	return deepCopy(l.fields).(map[string]any), true
}

// DeleteLead removes a lead, so Retrieve Lead answers 404 for it. Aurora has
// no lead deletion webhook, so nothing fires.
func (s *Server) DeleteLead(tenantID, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.leads[tenantID][id]
	delete(s.leads[tenantID], id)
	return ok
}

// storeLead inserts obj (or replaces the lead with obj's "id") and returns a
// copy of what is stored. Server fields obj does not carry are assigned.
func (s *Server) storeLead(tenant string, obj map[string]any) (snap map[string]any, created bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC().Truncate(time.Millisecond)
	id, _ := obj["id"].(string)
	if id == "" {
		id = uuid.NewString()
	}
	if s.leads[tenant] == nil {
		s.leads[tenant] = make(map[string]*lead)
	}
	prev, exists := s.leads[tenant][id]

	updated := now
	if exists {
		updated = nextUpdate(prev.updated, now)
	}
	if v, ok := obj["updated_at"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			updated = t.UTC()
		}
	}
	obj["id"] = id
	obj["updated_at"] = updated.Format(timeFormat)
	if _, ok := obj["created_at"].(string); !ok {
		switch {
		case exists:
			obj["created_at"] = prev.fields["created_at"]
		default:
			obj["created_at"] = updated.Format(timeFormat)
		}
	}
	s.leads[tenant][id] = &lead{fields: obj, updated: updated}
	return deepCopy(obj).(map[string]any), !exists
}

func (s *Server) updateLead(tenant, id string, patch map[string]any) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leads[tenant][id]
	if !ok {
		return nil, false
	}
	for _, k := range serverFields {
		delete(patch, k)
	}
	mergePatch(l.fields, patch)
	l.updated = nextUpdate(l.updated, s.now().UTC().Truncate(time.Millisecond))
	l.fields["updated_at"] = l.updated.Format(timeFormat)
	return deepCopy(l.fields).(map[string]any), true
}

// nextUpdate is now, or one millisecond after prev when the clock has not
// moved past it: updated_at strictly increases with every update, so tests
// of "never replaced by older provider state" see distinct times.
func nextUpdate(prev, now time.Time) time.Time {
	if now.After(prev) {
		return now
	}
	return prev.Add(time.Millisecond)
}

// mergePatch applies patch to dst as RFC 7386 describes.
func mergePatch(dst, patch map[string]any) {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			dv, ok := dst[k].(map[string]any)
			if !ok {
				dv = make(map[string]any)
				dst[k] = dv
			}
			mergePatch(dv, pv)
		default:
			dst[k] = deepCopy(v)
		}
	}
}

// normalize turns any JSON-encodable map into the decoded-JSON form the
// store holds (map[string]any, []any, json.Number, ...), a private copy.
func normalize(m map[string]any) (map[string]any, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	out := make(map[string]any)
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if out == nil { // m was nil
		out = make(map[string]any)
	}
	return out, nil
}

// deepCopy copies decoded JSON; leaves (strings, numbers, bools, nil) are
// immutable and shared.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}
