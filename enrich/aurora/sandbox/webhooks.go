package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/leadbridge/leadbridge/schema"
)

// Mask replaces write-only secrets (header_auth_value, basic_auth_password)
// in every answer. Sending it back in an update keeps the stored secret, so a
// client can round-trip a subscription it read.
const Mask = "********"

// MaxWebhooksPerEvent is Aurora's limit of subscriptions per event per tenant.
const MaxWebhooksPerEvent = 5

// Webhook is a subscription, in the JSON shape of Aurora's Webhooks API.
type Webhook struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	// Event is an Aurora event name ([a-z0-9_]{1,64}). Names outside
	// schema.AuroraEventNames are accepted, to simulate events Aurora adds later.
	Event string `json:"event"`
	// URLTemplate is an absolute http(s) URL with placeholders such as
	// <LEAD_ID>: the upper-case attribute names of the event, in angle
	// brackets, replaced by the query-escaped attribute value when fired
	// (by "" when the event does not carry the attribute).
	URLTemplate string `json:"url_template"`
	// Enabled subscriptions fire. The HTTP API defaults it to true when the
	// create body leaves it out; AddWebhook takes it as given.
	Enabled bool `json:"enabled"`

	// Header auth: the header sent with each webhook. Value is write-only.
	HeaderAuthKey   string `json:"header_auth_key,omitempty"`
	HeaderAuthValue string `json:"header_auth_value,omitempty"`
	// Basic auth, the alternative to header auth. Password is write-only.
	BasicAuthUsername string `json:"basic_auth_username,omitempty"`
	BasicAuthPassword string `json:"basic_auth_password,omitempty"`

	// Filters allow-list attribute values: {"<STATUS>": ["In Progress"]}
	// fires only when every filtered attribute has one of its listed values.
	// Keys are stored as "<NAME>"; "NAME" and "name" are accepted too.
	Filters map[string][]string `json:"filters,omitempty"`
}

// masked returns a copy safe to answer with.
func (w Webhook) masked() Webhook {
	if w.HeaderAuthValue != "" {
		w.HeaderAuthValue = Mask
	}
	if w.BasicAuthPassword != "" {
		w.BasicAuthPassword = Mask
	}
	w.Filters = cloneFilters(w.Filters)
	return w
}

func cloneFilters(f map[string][]string) map[string][]string {
	if f == nil {
		return nil
	}
	out := make(map[string][]string, len(f))
	for k, v := range f {
		out[k] = slices.Clone(v)
	}
	return out
}

// webhookInput is a create or update body; nil fields are left as they are
// (update) or take their defaults (create).
type webhookInput struct {
	Description       *string              `json:"description"`
	Event             *string              `json:"event"`
	URLTemplate       *string              `json:"url_template"`
	Enabled           *bool                `json:"enabled"`
	HeaderAuthKey     *string              `json:"header_auth_key"`
	HeaderAuthValue   *string              `json:"header_auth_value"`
	BasicAuthUsername *string              `json:"basic_auth_username"`
	BasicAuthPassword *string              `json:"basic_auth_password"`
	Filters           *map[string][]string `json:"filters"`
}

func (in webhookInput) applyTo(w *Webhook) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setSecret := func(dst *string, src *string) {
		if src != nil && *src != Mask {
			*dst = *src
		}
	}
	set(&w.Description, in.Description)
	set(&w.Event, in.Event)
	set(&w.URLTemplate, in.URLTemplate)
	if in.Enabled != nil {
		w.Enabled = *in.Enabled
	}
	set(&w.HeaderAuthKey, in.HeaderAuthKey)
	setSecret(&w.HeaderAuthValue, in.HeaderAuthValue)
	set(&w.BasicAuthUsername, in.BasicAuthUsername)
	setSecret(&w.BasicAuthPassword, in.BasicAuthPassword)
	if in.Filters != nil {
		w.Filters = cloneFilters(*in.Filters)
	}
}

// decodeWebhook reads {"webhook": {...}} or the bare object.
func decodeWebhook(w http.ResponseWriter, r *http.Request) (webhookInput, int) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			return webhookInput{}, http.StatusRequestEntityTooLarge
		}
		return webhookInput{}, http.StatusBadRequest
	}
	var wrapped struct {
		Webhook *webhookInput `json:"webhook"`
	}
	if err := json.Unmarshal(b, &wrapped); err != nil {
		return webhookInput{}, http.StatusBadRequest
	}
	if wrapped.Webhook != nil {
		return *wrapped.Webhook, 0
	}
	var bare webhookInput
	if err := json.Unmarshal(b, &bare); err != nil {
		return webhookInput{}, http.StatusBadRequest
	}
	return bare, 0
}

var (
	placeholder = regexp.MustCompile(`<([A-Z0-9_]+)>`)
	headerName  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// attributeOf maps a placeholder or filter name to the attribute it stands
// for: "LEAD_ID" -> "lead_id". Aurora's design request events name their id
// <DESIGN_REQUEST_ID_IN_AURORA>, and the attribute is design_request_id.
func attributeOf(name string) string {
	name = strings.Trim(name, "<>")
	if name == "DESIGN_REQUEST_ID_IN_AURORA" || name == "design_request_id_in_aurora" {
		return "design_request_id"
	}
	return strings.ToLower(name)
}

// expandURL substitutes the placeholders of a URL template with the
// query-escaped attribute values.
func expandURL(template string, attrs map[string]string) string {
	return placeholder.ReplaceAllStringFunc(template, func(m string) string {
		return url.QueryEscape(attrs[attributeOf(m)])
	})
}

// matches reports whether a subscription fires for an event with attrs.
func (w *Webhook) matches(event string, attrs map[string]string) bool {
	if !w.Enabled || w.Event != event {
		return false
	}
	for name, allowed := range w.Filters {
		v, ok := attrs[attributeOf(name)]
		if !ok || !slices.Contains(allowed, v) {
			return false
		}
	}
	return true
}

// validate checks w and normalises its filter keys. Messages name fields,
// never their values.
func (w *Webhook) validate() error {
	var errs []error
	if !schema.ValidAuroraEventName(w.Event) {
		errs = append(errs, errors.New("event must match [a-z0-9_]{1,64}"))
	}
	u, err := url.Parse(expandURL(w.URLTemplate, nil))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("url_template must be an absolute http(s) URL"))
	}
	header := w.HeaderAuthKey != "" || w.HeaderAuthValue != ""
	basic := w.BasicAuthUsername != "" || w.BasicAuthPassword != ""
	switch {
	case header && basic:
		errs = append(errs, errors.New("use header auth or basic auth, not both"))
	case header && (w.HeaderAuthKey == "" || w.HeaderAuthValue == ""):
		errs = append(errs, errors.New("header_auth_key and header_auth_value go together"))
	case header && !headerName.MatchString(w.HeaderAuthKey):
		errs = append(errs, errors.New("header_auth_key must be an HTTP header name"))
	case basic && (w.BasicAuthUsername == "" || w.BasicAuthPassword == ""):
		errs = append(errs, errors.New("basic_auth_username and basic_auth_password go together"))
	}
	if strings.ContainsAny(w.HeaderAuthValue, "\r\n") {
		errs = append(errs, errors.New("header_auth_value must be one line"))
	}
	known, isKnown := schema.AuroraEventNamed(w.Event)
	filters := make(map[string][]string, len(w.Filters))
	for name, allowed := range w.Filters {
		attr := attributeOf(name)
		switch {
		case len(allowed) == 0:
			errs = append(errs, fmt.Errorf("filter %s lists no value", strings.ToUpper(attr)))
		case isKnown && !known.HasAttribute(attr):
			errs = append(errs, fmt.Errorf("filter %s is not an attribute of %s", strings.ToUpper(attr), w.Event))
		}
		key := "<" + strings.ToUpper(strings.Trim(name, "<>")) + ">"
		filters[key] = append(filters[key], allowed...)
	}
	if len(filters) > 0 {
		w.Filters = filters
	} else {
		w.Filters = nil
	}
	return errors.Join(errs...)
}

// errTooMany is the 422 for a sixth subscription to one event.
var errTooMany = fmt.Errorf("at most %d webhooks per event per tenant", MaxWebhooksPerEvent)

// AddWebhook creates a subscription for tests, validated like the HTTP
// create (ID is assigned; Enabled is taken as given). It returns the stored
// subscription with its secrets masked.
func (s *Server) AddWebhook(tenantID string, w Webhook) (Webhook, error) {
	w.ID = ""
	w.Filters = cloneFilters(w.Filters)
	return s.addWebhook(tenantID, w)
}

func (s *Server) addWebhook(tenant string, w Webhook) (Webhook, error) {
	if err := w.validate(); err != nil {
		return Webhook{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.countEventLocked(tenant, w.Event, "") >= MaxWebhooksPerEvent {
		return Webhook{}, errTooMany
	}
	w.ID = uuid.NewString()
	if s.hooks[tenant] == nil {
		s.hooks[tenant] = make(map[string]*Webhook)
	}
	s.hooks[tenant][w.ID] = &w
	s.hookOrder[tenant] = append(s.hookOrder[tenant], w.ID)
	return w.masked(), nil
}

func (s *Server) countEventLocked(tenant, event, except string) int {
	n := 0
	for id, w := range s.hooks[tenant] {
		if id != except && w.Event == event {
			n++
		}
	}
	return n
}

// Webhooks returns a tenant's subscriptions in creation order, secrets masked.
func (s *Server) Webhooks(tenantID string) []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, 0, len(s.hookOrder[tenantID]))
	for _, id := range s.hookOrder[tenantID] {
		out = append(out, s.hooks[tenantID][id].masked())
	}
	return out
}

// DeleteWebhook removes a subscription; its pending retries stop.
func (s *Server) DeleteWebhook(tenantID, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.hooks[tenantID][id]; !ok {
		return false
	}
	delete(s.hooks[tenantID], id)
	s.hookOrder[tenantID] = slices.DeleteFunc(s.hookOrder[tenantID], func(x string) bool { return x == id })
	return true
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request, tenant string) {
	in, code := decodeWebhook(w, r)
	if code != 0 {
		writeError(w, code)
		return
	}
	hook := Webhook{Enabled: true}
	in.applyTo(&hook)
	created, err := s.addWebhook(tenant, hook)
	if err != nil {
		writeInvalid(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhook": created})
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, _ *http.Request, tenant string) {
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": s.Webhooks(tenant)})
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request, tenant string) {
	s.mu.Lock()
	hook, ok := s.hooks[tenant][r.PathValue("webhook_id")]
	var out Webhook
	if ok {
		out = hook.masked()
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhook": out})
}

// handleUpdateWebhook changes the fields the body carries. Deliveries in
// their retry schedule use the new definition from their next attempt, as
// Aurora's do.
func (s *Server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request, tenant string) {
	in, code := decodeWebhook(w, r)
	if code != 0 {
		writeError(w, code)
		return
	}
	updated, status, err := s.updateWebhook(tenant, r.PathValue("webhook_id"), in)
	switch {
	case status == http.StatusNotFound:
		writeError(w, status)
	case err != nil:
		writeInvalid(w, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"webhook": updated})
	}
}

func (s *Server) updateWebhook(tenant, id string, in webhookInput) (Webhook, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.hooks[tenant][id]
	if !ok {
		return Webhook{}, http.StatusNotFound, nil
	}
	next := *cur
	next.Filters = cloneFilters(cur.Filters)
	in.applyTo(&next)
	if err := next.validate(); err != nil {
		return Webhook{}, http.StatusUnprocessableEntity, err
	}
	if next.Event != cur.Event && s.countEventLocked(tenant, next.Event, id) >= MaxWebhooksPerEvent {
		return Webhook{}, http.StatusUnprocessableEntity, errTooMany
	}
	s.hooks[tenant][id] = &next
	return next.masked(), http.StatusOK, nil
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, tenant string) {
	if !s.DeleteWebhook(tenant, r.PathValue("webhook_id")) {
		writeError(w, http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
