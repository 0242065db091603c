package schema

// Headers the operator commands write (leadbridge dlq redrive, replay,
// forget). Like every header leadbridge writes, each is described in
// asyncapi.yaml, and a test keeps it so.
const (
	// HeaderRedriveCount is added by `dlq redrive` to a record it puts back on
	// raw: how many times the record has been redriven (decimal).
	HeaderRedriveCount = "leadbridge_redrive_count"
	// HeaderReplay is added by `replay` to a raw record it re-produces: when
	// it was replayed (RFC 3339).
	HeaderReplay = "leadbridge_replay"
	// HeaderErasedAt is on the tombstone enrich writes to the leads topic
	// for an erasure event: when the erasure was made (RFC 3339, the
	// event's ce_time).
	HeaderErasedAt = "leadbridge_erased_at"
)
