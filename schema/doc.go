// Package schema is leadbridge's shared vocabulary: the CloudEvent that ingest
// writes to the raw topic and enrich reads back, its Kafka binary-mode codec,
// the Aurora webhook event table, and the canonical lead record with its JSON
// Schema.
//
// Data walks one way, provider -> ingest -> schema -> Kafka raw -> enrich ->
// schema -> Kafka leads, and both ingest and enrich import this package but
// never each other. Everything here is pure: no I/O, no logging, no globals
// that change after init, so every function is safe for concurrent use.
package schema
