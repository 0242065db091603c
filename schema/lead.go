package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// LeadSchemaID is the $id of the lead record's JSON Schema, and the
// ce_dataschema of every record on the leads topic. A breaking change to the
// record gets a new id (v2), never an edit of v1.
const LeadSchemaID = "https://leadbridge.dev/schema/lead/v1.json"

// Status values leadbridge itself fills in; any other status is the
// provider's own, as sent.
const (
	// StatusOpen: an Aurora lead with no status and no project yet.
	StatusOpen = "open"
	// StatusConverted: an Aurora lead with no status whose project exists.
	StatusConverted = "converted"
	// StatusUnknown: a LeadPro lead sent without a usable status.
	StatusUnknown = "unknown"
)

var (
	// ErrInvalidLead is wrapped by every ValidateLead error.
	ErrInvalidLead = errors.New("invalid lead record")
	// ErrUnmappableLead is wrapped by every LeadFromAurora and LeadFromLeadPro
	// error: the provider data cannot become a lead record at all (not a JSON
	// object, no lead id). It is permanent; retrying will not help.
	ErrUnmappableLead = errors.New("unmappable lead")
)

//go:embed lead.schema.json
var leadSchemaJSON []byte

// LeadSchema returns the lead record's JSON Schema (draft 2020-12), a copy
// the caller may keep.
func LeadSchema() []byte { return bytes.Clone(leadSchemaJSON) }

// Lead is the canonical lead record, the value on the compacted leads topic;
// lead.schema.json describes its JSON, field for field and in the same order.
// Optional fields are omitted when empty.
type Lead struct {
	Key       string `json:"key"`                  // AuroraKey or LeadProKey
	Provider  string `json:"provider"`             // ProviderAurora or ProviderLeadPro
	TenantID  string `json:"tenant_id,omitempty"`  // Aurora only
	AccountID string `json:"account_id,omitempty"` // LeadPro only
	LeadID    string `json:"lead_id"`
	// Status is in the provider's vocabulary; see LeadFromAurora and
	// LeadFromLeadPro for what fills it when the provider sends none.
	Status string `json:"status"`
	// Source is where the provider says the lead came from: Aurora's
	// lead_created source (lcai, api), LeadPro's source ("homepage" when the
	// payload gives none, as LeadPro's field table says).
	Source string `json:"source,omitempty"`
	// Type is LeadPro's lead type (sale, vendor, landlord, let,
	// mortgage_request) as sent; Aurora has none.
	Type    string  `json:"type,omitempty"`
	Contact Contact `json:"contact,omitzero"`
	// Address is the lead's own address: Aurora's lead address (the site,
	// with coordinates), LeadPro's address and postcode (the contact's).
	Address Address `json:"address,omitzero"`
	// Property is the advertised property a LeadPro sale or let lead enquires
	// about (advert_address, advert_postcode), distinct from Address.
	Property  Address `json:"property,omitzero"`
	ProjectID string  `json:"project_id,omitempty"` // Aurora, once converted
	// CreatedAt and UpdatedAt are the provider's times, normalised to RFC 3339
	// in UTC (the provider's own text stays in ProviderFields).
	CreatedAt   string      `json:"created_at,omitempty"`
	UpdatedAt   string      `json:"updated_at,omitempty"`
	SourceEvent SourceEvent `json:"source_event"`
	// ValidationProblems lists every provider rule the lead breaks. The
	// offending value is kept, never dropped.
	ValidationProblems []ValidationProblem `json:"validation_problems,omitempty"`
	// ProviderFields is everything the provider gave: Aurora's whole Retrieve
	// Lead response, LeadPro's whole data object, nothing dropped. The mappers
	// store it compacted (json.Compact: whitespace gone, every other byte as
	// sent, numbers and duplicate names included). json.Marshal then also
	// escapes <, > and & as \u003c and so on; an Encoder with
	// SetEscapeHTML(false) keeps those bytes too. Either way the value is the
	// provider's.
	ProviderFields json.RawMessage `json:"provider_fields"`
}

// Contact is the person behind a lead. Every field is optional.
type Contact struct {
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	FullName  string `json:"full_name,omitempty"`
	Title     string `json:"title,omitempty"`
	Email     string `json:"email,omitempty"` // as sent, even when not a valid address
	Phone     string `json:"phone,omitempty"` // as sent; digits only when sent as a number
	// Address is the contact's mailing address as sent (Aurora's
	// customer.customer_address); it is not the lead's Address.
	Address string `json:"address,omitempty"`
}

// Address is where a lead's property is. Every field is optional. Latitude
// and Longitude are JSON numbers kept as the provider wrote them, so no
// precision is lost on the way through.
type Address struct {
	Line      string      `json:"line,omitempty"`
	Postcode  string      `json:"postcode,omitempty"`
	Latitude  json.Number `json:"latitude,omitempty"`
	Longitude json.Number `json:"longitude,omitempty"`
}

// SourceEvent names the raw CloudEvent a lead record reflects.
type SourceEvent struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Time string `json:"time"` // RFC 3339 in UTC
}

// ValidationProblem is one broken provider rule. Field is the value's path in
// ProviderFields (dotted, [i] for array items); Problem says what is wrong
// without repeating the value.
type ValidationProblem = Problem

// LeadUpdatedAt returns the provider's update time of l. ok is false when the
// provider states none (LeadPro never does): then only the raw topic's order
// decides which record is newer.
func LeadUpdatedAt(l Lead) (t time.Time, ok bool) {
	if l.UpdatedAt == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, l.UpdatedAt)
	return t, err == nil
}

// leadSchema compiles the embedded schema once. A compile error is a bug in
// lead.schema.json, which the tests catch; ValidateLead reports it.
var leadSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(leadSchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("read lead schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	// Draft 2020-12 treats format as an annotation by default. leadbridge
	// writes every date-time itself, so a malformed one is our bug: assert
	// the formats. Provider values that break a format (an email) are kept
	// as sent and carry no format in the schema.
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(LeadSchemaID, doc); err != nil {
		return nil, fmt.Errorf("add lead schema: %w", err)
	}
	s, err := c.Compile(LeadSchemaID)
	if err != nil {
		return nil, fmt.Errorf("compile lead schema: %w", err)
	}
	return s, nil
})

// CheckLeadKey reports whether l.Key is the key its provider, tenant or
// account and lead id make: AuroraKey(TenantID, LeadID) or
// LeadProKey(AccountID, LeadID). A record keyed otherwise would land beside
// another lead on the compacted topic. The error wraps ErrInvalidLead and
// names no value.
func CheckLeadKey(l Lead) error {
	var want string
	switch l.Provider {
	case ProviderAurora:
		want = AuroraKey(l.TenantID, l.LeadID)
	case ProviderLeadPro:
		want = LeadProKey(l.AccountID, l.LeadID)
	default:
		return fmt.Errorf("%w: unknown provider", ErrInvalidLead)
	}
	if l.LeadID == "" || l.Key != want {
		return fmt.Errorf("%w: key does not match provider, tenant or account and lead_id", ErrInvalidLead)
	}
	return nil
}

// ValidateLead checks that b is a lead record valid against lead.schema.json
// whose key matches its provider, tenant or account and lead id
// (CheckLeadKey). The error wraps ErrInvalidLead and joins one error per
// violation, sorted, each naming the JSON pointer of the value it is about.
// It is safe for concurrent use.
func ValidateLead(b []byte) error {
	s, err := leadSchema()
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: not JSON: %w", ErrInvalidLead, err)
	}
	err = s.Validate(inst)
	if err == nil {
		var l Lead
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidLead, err)
		}
		return CheckLeadKey(l)
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("%w: %w", ErrInvalidLead, err)
	}
	var msgs []string
	leafErrors(ve, &msgs)
	slices.Sort(msgs)
	msgs = slices.Compact(msgs)
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		errs[i] = errors.New(m)
	}
	return fmt.Errorf("%w: %w", ErrInvalidLead, errors.Join(errs...))
}

// leafErrors flattens the validator's tree of causes to its leaves, the
// violations themselves; the inner nodes only say "allOf failed" and the like.
func leafErrors(e *jsonschema.ValidationError, out *[]string) {
	if len(e.Causes) == 0 {
		// A copy without causes prints just this violation, with its location.
		*out = append(*out, (&jsonschema.ValidationError{
			InstanceLocation: e.InstanceLocation,
			ErrorKind:        e.ErrorKind,
		}).Error())
		return
	}
	for _, c := range e.Causes {
		leafErrors(c, out)
	}
}
