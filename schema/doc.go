// Package schema is leadbridge's shared vocabulary: the CloudEvent that ingest
// writes to the raw topic and enrich reads back (event.go), its Kafka
// binary-mode codec (codec.go), the Aurora webhook event table (aurora.go),
// the canonical lead record with its JSON Schema (lead*.go,
// lead.schema.json), enrich's per-key state record (state.go), the reasons
// a raw record goes to the DLQ for (dlq.go), the headers the operator
// commands write (operate.go), the Secret type, and the Retry-After and
// bearer-token helpers both HTTP faces share (http.go).
// asyncapi.yaml describes every topic and header leadbridge writes; its
// tests keep it true to the code. Golden-file comparison for tests is
// schema/golden.
//
// Data walks one way, provider -> ingest -> schema -> Kafka raw -> enrich ->
// schema -> Kafka leads, and both ingest and enrich import this package but
// never each other. Everything here is pure: no I/O, no logging, no globals
// that change after init, so every function is safe for concurrent use.
package schema
