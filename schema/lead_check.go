package schema

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// CheckLead reports, without encoding l, what ValidateLead reports for l's
// JSON encoding: whether it is valid against lead.schema.json with a
// matching key. It holds for every l that encoding/json encodes (an invalid
// json.Number or ProviderFields fails the encoding first). The Lead struct
// already gives most of the schema: exactly its properties, every value of
// its type, optional fields omitted when empty. What is left is checked
// here: non-empty required values, the provider's own fields, the
// date-times (with the schema library's own date-time format) and
// provider_fields being an object. Tests hold it equal to ValidateLead over
// the goldens, every single-rule violation and fuzzed leads.
//
// It costs a small fraction of ValidateLead, which decodes the record into
// generic values and walks the schema: enrich checks every record it writes
// with it. The error wraps ErrInvalidLead and names the JSON pointer of each
// violation, never a value.
func CheckLead(l Lead) error {
	var errs []error
	bad := func(pointer, problem string) {
		errs = append(errs, fmt.Errorf("at '%s': %s", pointer, problem))
	}
	if l.Status == "" {
		bad("/status", "empty")
	}
	switch l.Provider {
	case ProviderAurora:
		switch {
		case l.TenantID == "":
			bad("", "aurora without tenant_id")
		case l.AccountID != "":
			bad("/account_id", "not allowed for aurora")
		}
		if l.Type != "" {
			bad("/type", "not allowed for aurora")
		}
		if l.Property != (Address{}) {
			bad("/property", "not allowed for aurora")
		}
	case ProviderLeadPro:
		switch {
		case l.AccountID == "":
			bad("", "leadpro without account_id")
		case l.TenantID != "":
			bad("/tenant_id", "not allowed for leadpro")
		}
		if l.ProjectID != "" {
			bad("/project_id", "not allowed for leadpro")
		}
		if l.Contact.Address != "" {
			bad("/contact/address", "not allowed for leadpro")
		}
	}
	if err := CheckLeadKey(l); err != nil {
		bad("/key", "does not match provider, tenant or account and lead_id")
	}
	for _, t := range []struct{ pointer, value string }{
		{"/created_at", l.CreatedAt}, {"/updated_at", l.UpdatedAt},
	} {
		if t.value != "" && !isDateTime(t.value) {
			bad(t.pointer, "not an RFC 3339 date-time")
		}
	}
	if l.SourceEvent.ID == "" {
		bad("/source_event/id", "empty")
	}
	if l.SourceEvent.Type == "" {
		bad("/source_event/type", "empty")
	}
	if !isDateTime(l.SourceEvent.Time) {
		bad("/source_event/time", "not an RFC 3339 date-time")
	}
	for i, p := range l.ValidationProblems {
		if p.Field == "" {
			bad(fmt.Sprintf("/validation_problems/%d/field", i), "empty")
		}
		if p.Problem == "" {
			bad(fmt.Sprintf("/validation_problems/%d/problem", i), "empty")
		}
	}
	// encoding/json writes a nil RawMessage as null, and any other as the
	// (valid) JSON it holds.
	if fields := bytes.TrimLeft(l.ProviderFields, " \t\r\n"); len(fields) == 0 || fields[0] != '{' {
		bad("/provider_fields", "not an object")
	}
	if errs == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidLead, errors.Join(errs...))
}

// dateTimeSchema asserts the schema library's date-time format on a string,
// the rule lead.schema.json's "format": "date-time" applies, so CheckLead
// and ValidateLead cannot disagree on what a date-time is.
var dateTimeSchema = sync.OnceValue(func() *jsonschema.Schema {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("date-time.json", map[string]any{"format": "date-time"}); err != nil {
		panic(err) // a constant schema: a bug, caught by every test
	}
	return c.MustCompile("date-time.json")
})

func isDateTime(s string) bool { return dateTimeSchema().Validate(s) == nil }
