package schema

import (
	"fmt"
	"slices"
	"strings"
)

// DLQReason is the value of HeaderDLQReason: why enrich dead-lettered a raw
// record, short and machine-readable. Operators filter on it (leadbridge dlq
// redrive --reason) and it labels leadbridge_enrich_dlq_total, so the values
// are part of the contract: they never change, and new ones are added to
// DLQReasons.
type DLQReason string

// The reasons enrich writes. The README's leads.dlq paragraph lists the same.
const (
	// DLQReasonNotFound: the API kept answering that the lead does not exist
	// for as long as enrich waits for a lead to appear (not_found_retry_for).
	DLQReasonNotFound DLQReason = "not_found"
	// DLQReasonUnauthorized: the API refused the tenant's token, at once
	// (retrying cannot fix a token).
	DLQReasonUnauthorized DLQReason = "unauthorized"
	// DLQReasonRetriesExhausted: the API was throttled or unavailable for
	// retry_for.
	DLQReasonRetriesExhausted DLQReason = "retries_exhausted"
	// DLQReasonInvalidEvent: the raw record does not decode as a
	// CloudEvent, an erasure event has no lead key, or an Aurora lead event
	// has no tenant_id.
	DLQReasonInvalidEvent DLQReason = "invalid_event"
	// DLQReasonUnmappable: the API's answer, or a LeadPro event, does not
	// map onto a Lead.
	DLQReasonUnmappable DLQReason = "unmappable"
	// DLQReasonNoAPIToken: an Aurora event of a tenant without an API token
	// in the configuration.
	DLQReasonNoAPIToken DLQReason = "no_api_token"
	// DLQReasonPermanent: the API call failed in a way that is neither
	// retryable nor one of the reasons above.
	DLQReasonPermanent DLQReason = "permanent"
	// DLQReasonSchemaViolation: the lead record would break lead.schema.json
	// (a mapping bug): it is never published.
	DLQReasonSchemaViolation DLQReason = "schema_violation"
	// DLQReasonUnproducible: a record written for the event (its lead
	// record, its erasure's tombstone, or its retry record) was refused by
	// the brokers for good, e.g. over the topic's max.message.bytes.
	DLQReasonUnproducible DLQReason = "unproducible"
	// DLQReasonNoLeadID: a lead event without a usable lead id.
	DLQReasonNoLeadID DLQReason = "no_lead_id"
	// DLQReasonInvalidLeadID: an Aurora lead id that is no plausible URL
	// path segment: it never reaches the API.
	DLQReasonInvalidLeadID DLQReason = "invalid_lead_id"
	// DLQReasonIDMismatch: the API answered with another lead's id; the
	// record is never keyed by the answer.
	DLQReasonIDMismatch DLQReason = "id_mismatch"
	// DLQReasonUnknownEvent: a LeadPro event other than lead.created and
	// lead.updated.
	DLQReasonUnknownEvent DLQReason = "unknown_event"
)

// dlqReasons is every DLQReason, in the README's order.
var dlqReasons = []DLQReason{
	DLQReasonNotFound, DLQReasonUnauthorized, DLQReasonRetriesExhausted, DLQReasonInvalidEvent,
	DLQReasonUnmappable, DLQReasonNoAPIToken, DLQReasonPermanent, DLQReasonSchemaViolation,
	DLQReasonUnproducible, DLQReasonNoLeadID, DLQReasonInvalidLeadID, DLQReasonIDMismatch,
	DLQReasonUnknownEvent,
}

// DLQReasons returns every reason enrich writes, a new slice each call.
func DLQReasons() []DLQReason { return slices.Clone(dlqReasons) }

// ParseDLQReason returns s as a DLQReason, or an error naming the valid ones
// when enrich never writes s (a filter on it would match nothing).
func ParseDLQReason(s string) (DLQReason, error) {
	if r := DLQReason(s); slices.Contains(dlqReasons, r) {
		return r, nil
	}
	return "", fmt.Errorf("unknown DLQ reason %q, want one of: %s", s, strings.Join(dlqReasonNames(), ", "))
}

// dlqReasonNames is DLQReasons as strings, in order.
func dlqReasonNames() []string {
	names := make([]string, len(dlqReasons))
	for i, r := range dlqReasons {
		names[i] = string(r)
	}
	return names
}
