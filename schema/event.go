package schema

import (
	"encoding/json"
	"time"
)

// CloudEvents attribute values and Kafka header names (CloudEvents 1.0, Kafka
// protocol binding, binary content mode: every attribute is a "ce_" header and
// the record value is the event data).
const (
	SpecVersion = "1.0"

	HeaderSpecVersion  = "ce_specversion"
	HeaderID           = "ce_id"
	HeaderSource       = "ce_source"
	HeaderType         = "ce_type"
	HeaderTime         = "ce_time"
	HeaderSubject      = "ce_subject"
	HeaderPartitionKey = "ce_partitionkey"
	HeaderDataSchema   = "ce_dataschema"
	HeaderContentType  = "content-type"

	ContentTypeJSON = "application/json"
)

// Event types and source prefixes of the raw topic.
const (
	// AuroraTypePrefix + the Aurora event name is the ce_type of an Aurora delivery.
	AuroraTypePrefix = "com.aurorasolar.webhook."
	// LeadProTypePrefix + the LeadPro event ("lead.created", "lead.updated").
	LeadProTypePrefix = "pro.lead.webhook."

	LeadProLeadCreated = "lead.created"
	LeadProLeadUpdated = "lead.updated"

	ProviderAurora  = "aurora"
	ProviderLeadPro = "leadpro"
)

// Event is one CloudEvent as leadbridge carries it. The zero value is not a
// valid event; ingest fills every field but Subject, which is empty only for an
// unknown Aurora event that carries no id attribute.
type Event struct {
	ID           string    // ce_id: a UUIDv7 per delivery
	Source       string    // ce_source: /aurora/tenants/<id> or /leadpro/accounts/<id>
	Type         string    // ce_type
	Subject      string    // ce_subject: the main id
	Time         time.Time // ce_time: when leadbridge received the delivery (UTC)
	PartitionKey string    // ce_partitionkey, also the Kafka record key
	// DataSchema is ce_dataschema, optional (set on lead records).
	DataSchema string
	// Extensions are further CloudEvents attributes, written as ce_<name>
	// headers. Names are lower-case letters and digits (CloudEvents 1.0 §3.1.1).
	Extensions map[string]string
	Data       json.RawMessage // the event data, JSON (content-type application/json)
}

// AuroraData is the data of an Aurora delivery on the raw topic. An
// authenticated delivery is never refused for what it carries: what is odd
// about it is kept and listed in Problems.
type AuroraData struct {
	// Event is the event name as sent (path segment, else aurora_event); ""
	// when the delivery names none.
	Event    string `json:"event"`
	TenantID string `json:"tenant_id"`
	// Attributes holds every query parameter but aurora_event, decoded: the
	// first value of a repeated one. Empty when the query cannot be decoded.
	Attributes map[string]string `json:"attributes"`
	// Repeated holds every value, in order, of each parameter given more
	// than once.
	Repeated map[string][]string `json:"repeated,omitempty"`
	// RawQuery is the query string exactly as received, undecoded.
	RawQuery string `json:"raw_query"`
	// Problems lists what is odd about the delivery, sorted by field; absent
	// when nothing is.
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one thing odd about an accepted delivery (raw topic) or one
// provider rule a lead breaks (lead record). Field names the value: a query
// parameter, "event", "query", "content-type", or a dotted path in the
// provider's JSON with [i] for array items. Problem says what is wrong
// without repeating the value.
type Problem struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// ProblemsField is the member ingest appends to a LeadPro payload object
// (and the field of AuroraData) that lists an accepted delivery's problems.
const ProblemsField = "problems"

// InvalidEventName replaces, in ce_type, an event name that is missing or not
// of the provider's form: com.aurorasolar.webhook.invalid-name,
// pro.lead.webhook.invalid-name. The hyphen keeps it apart from every real
// name; the name as sent stays in the data.
const InvalidEventName = "invalid-name"

// AuroraSource is the ce_source of deliveries for tenantID.
func AuroraSource(tenantID string) string { return "/aurora/tenants/" + tenantID }

// LeadProSource is the ce_source of deliveries for accountID.
func LeadProSource(accountID string) string { return "/leadpro/accounts/" + accountID }

// AuroraKey is the record key (and lead key) of an Aurora object id of a tenant.
func AuroraKey(tenantID, id string) string { return ProviderAurora + ":" + tenantID + ":" + id }

// LeadProKey is the record key (and lead key) of a LeadPro lead of an account.
func LeadProKey(accountID, leadID string) string {
	return ProviderLeadPro + ":" + accountID + ":" + leadID
}

// LeadEventType is the ce_type of a record on the leads topic. Its ce_id and
// ce_source are those of the raw event it reflects (they name that event),
// ce_rawtype carries the raw event's type, ce_dataschema is LeadSchemaID.
const LeadEventType = "dev.leadbridge.lead"

// Erasure events on the raw topic, written by `leadbridge forget`: keyed by
// the lead key (so they land on the partition of the lead's webhooks and
// enrich meets them in order with the lead's other events), ce_source
// ForgetSource, data {"key","action","time"} (no PII). enrich marks the key
// erased and writes the tombstone on leads, or clears the mark.
const (
	EraseEventType   = "dev.leadbridge.erase"
	UneraseEventType = "dev.leadbridge.unerase"
	ForgetSource     = "/leadbridge/forget"
)

// ErasureEvent is the raw-topic event that erases lead key (erase) or lifts
// its erasure, made at at, with ce_id id. Its data is {"key","action","time"},
// action "forget" or "unforget", as the erasures topic's audit record.
func ErasureEvent(id, key string, erase bool, at time.Time) Event {
	typ, action := EraseEventType, "forget"
	if !erase {
		typ, action = UneraseEventType, "unforget"
	}
	at = at.UTC()
	data, _ := json.Marshal(struct {
		Key    string    `json:"key"`
		Action string    `json:"action"`
		Time   time.Time `json:"time"`
	}{key, action, at}) // strings and a time: cannot fail
	return Event{ID: id, Source: ForgetSource, Type: typ, Subject: key, Time: at, PartitionKey: key, Data: data}
}

// ExtRawType is the CloudEvents extension (header ce_rawtype) on lead records
// naming the raw event's type.
const ExtRawType = "rawtype"

// DLQ headers, added to the raw record (otherwise unchanged) on the DLQ topic.
const (
	HeaderDLQReason       = "leadbridge_dlq_reason"        // a DLQReason, e.g. not_found
	HeaderDLQError        = "leadbridge_dlq_error"         // the error, with ids but no PII or secrets
	HeaderDLQAttempts     = "leadbridge_dlq_attempts"      // decimal count of attempts made
	HeaderDLQFirstFailure = "leadbridge_dlq_first_failure" // RFC 3339 time of the first failure
	HeaderDLQLastFailure  = "leadbridge_dlq_last_failure"  // RFC 3339 time of the last failure
	HeaderDLQTopic        = "leadbridge_dlq_topic"         // where the record came from
	HeaderDLQPartition    = "leadbridge_dlq_partition"
	HeaderDLQOffset       = "leadbridge_dlq_offset"
	HeaderDLQTruncated    = "leadbridge_dlq_truncated" // the value's size in bytes, when the record goes without it (too large)
)

// Retry headers, added by enrich (exactly-once) to the raw record (otherwise
// unchanged) it moves to the retry topic when a lead keeps failing; the
// record comes back to the main path when they say.
const (
	HeaderRetryAttempt      = "leadbridge_retry_attempt"       // decimal count of attempts made so far
	HeaderRetryNotBefore    = "leadbridge_retry_not_before"    // RFC 3339 time before which it is not tried again
	HeaderRetryFirstFailure = "leadbridge_retry_first_failure" // RFC 3339 time of the first failure
	// HeaderRetryRawOffset is the raw record's offset (its partition is the
	// retry record's), so a DLQ record names the raw record it came from.
	HeaderRetryRawOffset = "leadbridge_retry_raw_offset"
)
