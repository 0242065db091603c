package simulate

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/leadbridge/leadbridge/ingest"
	"github.com/leadbridge/leadbridge/schema"
)

// Simulator builds provider deliveries. Set the fields (or call
// Authenticate), then Prepare; after that Delivery is safe for concurrent use.
type Simulator struct {
	Provider, Event string            // schema.ProviderAurora or ProviderLeadPro; the event name
	Attrs           map[string]string // Aurora query attributes or LeadPro data fields to set
	SameLead        bool              // one set of generated ids for every delivery
	Static          bool              // Aurora: ?aurora_event= instead of the event in the path
	Now             func() time.Time  // default time.Now

	Tenant, Account string
	// Aurora: a header token, or basic auth when BasicUser is set.
	Header, BasicUser string
	Token, BasicPass  schema.Secret
	// LeadPro
	Secret schema.Secret

	fixedIDs map[string]string // SameLead: the Aurora ids of every delivery
	idBase   int64             // LeadPro data.id of delivery 0; delivery i gets idBase+i
}

// Check sets the provider's default event and reports what is wrong with
// the provider, the event or the attributes (named as simulate's flags).
func (s *Simulator) Check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch s.Provider {
	case schema.ProviderAurora:
		s.Event = cmp.Or(s.Event, "lead_created")
		if !schema.ValidAuroraEventName(s.Event) {
			bad("--event %q is not an Aurora event name ([a-z0-9_]{1,64})", s.Event)
		}
	case schema.ProviderLeadPro:
		s.Event = cmp.Or(s.Event, schema.LeadProLeadCreated)
		if s.Event != schema.LeadProLeadCreated && s.Event != schema.LeadProLeadUpdated {
			bad("--event must be lead.created or lead.updated for leadpro")
		}
		if v, ok := s.Attrs["id"]; ok {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				bad("--attr id=...: a LeadPro data.id is a number")
			}
		}
	default:
		bad("--provider must be aurora or leadpro")
	}
	return errors.Join(errs...)
}

// Prepare draws the ids that stay the same across deliveries.
func (s *Simulator) Prepare() {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Attrs == nil {
		s.Attrs = map[string]string{}
	}
	// JSON numbers above 2^53 lose precision in JavaScript; stay well below.
	s.idBase = 1 + rand.Int64N(1<<40)
	if v, ok := s.Attrs["id"]; ok {
		s.idBase, _ = strconv.ParseInt(v, 10, 64) // Check refuses a non-number
	}
	s.fixedIDs = s.newIDs()
}

// newIDs returns a UUID for every id attribute the event requires that --attr does not set.
func (s *Simulator) newIDs() map[string]string {
	ids := map[string]string{}
	if ev, ok := schema.AuroraEventNamed(s.Event); ok {
		for _, a := range ev.Required() {
			if _, set := s.Attrs[a]; !set {
				ids[a] = uuid.NewString()
			}
		}
	}
	return ids
}

// Delivery is one webhook request, ready to be sent to any base URL.
type Delivery struct {
	method string
	path   string // path and query, after the base URL
	header http.Header
	body   []byte
}

func (d Delivery) Request(ctx context.Context, base string) (*http.Request, error) {
	var body io.Reader
	if d.body != nil {
		body = bytes.NewReader(d.body)
	}
	r, err := http.NewRequestWithContext(ctx, d.method, base+d.path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	r.Header = d.header.Clone()
	return r, nil
}

// Delivery builds delivery number i.
func (s *Simulator) Delivery(i int) (Delivery, error) {
	if s.Provider == schema.ProviderLeadPro {
		return s.leadpro(i)
	}
	return s.aurora(), nil
}

func (s *Simulator) aurora() Delivery {
	q := url.Values{}
	for k, v := range documented[s.Event] {
		q.Set(k, v)
	}
	for k, v := range s.Attrs { // --attr wins over a documented value
		q.Set(k, v)
	}
	ids := s.fixedIDs
	if !s.SameLead {
		ids = s.newIDs()
	}
	for k, v := range ids {
		q.Set(k, v)
	}
	p := "/webhooks/aurora/" + url.PathEscape(s.Tenant)
	if s.Static {
		q.Set("aurora_event", s.Event)
	} else {
		p += "/" + url.PathEscape(s.Event)
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	h := http.Header{}
	if s.BasicUser != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.BasicUser+":"+s.BasicPass.Reveal())))
	} else {
		h.Set(s.Header, s.Token.Reveal())
	}
	return Delivery{method: http.MethodGet, path: p, header: h}
}

// people are the leads LeadPro deliveries describe, in turn.
var people = []struct{ first, last, street, town, postcode string }{
	{"Ada", "Lovelace", "12 Analytical Row", "London", "EC1A 1BB"},
	{"Richard", "Branson", "51 Asimov Place", "Starbridge", "N1 3JY"},
	{"Mary", "Somerville", "3 Orbit Lane", "Jedburgh", "TD8 6AB"},
	{"Alan", "Turing", "7 Bletchley Close", "Milton Keynes", "MK3 6EB"},
	{"Rosalind", "Franklin", "22 Helix Street", "Cambridge", "CB2 1TN"},
}

func (s *Simulator) leadpro(i int) (Delivery, error) {
	id := s.idBase
	if !s.SameLead {
		id += int64(i)
	}
	p := people[int(id%int64(len(people)))]
	now := s.Now()
	data := map[string]any{
		"id":         id,
		"first_name": p.first,
		"last_name":  p.last,
		"full_name":  p.first + " " + p.last,
		"email":      fmt.Sprintf("%s.%s+%d@example.com", strings.ToLower(p.first), strings.ToLower(p.last), id),
		// Ofcom's range reserved for drama: a UK mobile number that rings nobody.
		"phone":     fmt.Sprintf("07700 900%03d", id%1000),
		"type":      "vendor",
		"source":    "homepage",
		"address":   p.street + ", " + p.town,
		"postcode":  p.postcode,
		"status":    "UNREAD",
		"createdAt": now.UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	for k, v := range s.Attrs {
		if k != "id" {
			data[k] = v
		}
	}
	payload, err := json.Marshal(map[string]any{"event": s.Event, "data": data, "iat": now.Unix()})
	if err != nil {
		return Delivery{}, fmt.Errorf("encode payload: %w", err)
	}
	// Sign the exact bytes sent as the body: the token's payload is what ingest
	// publishes, and a body that matches it is what LeadPro sends.
	tok, err := ingest.SignLeadPro(payload, s.Secret)
	if err != nil {
		return Delivery{}, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	h.Set("Content-Type", "application/json")
	return Delivery{method: http.MethodPost, path: "/webhooks/leadpro/" + url.PathEscape(s.Account), header: h, body: payload}, nil
}

// SendOne sends delivery 0 and prints the request line, the status and the body.
func (s *Simulator) SendOne(ctx context.Context, client *http.Client, target string, w io.Writer) error {
	d, err := s.Delivery(0)
	if err != nil {
		return err
	}
	req, err := d.Request(ctx, target)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %s\n", req.Method, req.URL.Redacted())
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("send delivery: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	fmt.Fprintf(w, "%s\n%s\n", resp.Status, bytes.TrimRight(body, "\n"))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the delivery was answered %d", resp.StatusCode)
	}
	return nil
}
