// Package operate holds the operator's commands on the enrich group and its
// topics, from the broker alone: they never reach a member.
//
//	leadbridge status        -> [ReadStatus]: the group, raw lag, DLQ by reason, newest lead
//	leadbridge dlq redrive   -> [Redrive]:    DLQ records back onto raw, exactly once
//	leadbridge replay        -> [Replay]:     a time range of raw through enrich again
//	leadbridge forget        -> [Forget]:     GDPR erasure of lead keys
//
// Data still walks one way: redrive, replay and forget write to raw, as
// ingest does, so their records go through the normal enrich path (its no-op
// suppression and erased flag included); forget's erasure event reaches the
// member owning the key in order with the lead's webhooks, and that member
// writes the tombstone and the erased flag. Each command takes franz-go options for the
// cluster (seeds, TLS, SASL, logger) and builds the clients it needs: an
// admin view (kadm), bounded readers, and for writes an idempotent producer
// in a transaction.
//
// Output names ids, keys, offsets and counts, never a record's value: values
// carry homeowners' PII.
package operate
