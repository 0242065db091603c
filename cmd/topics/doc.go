// Package topics knows the six topics leadbridge owns and the settings each
// needs (leads and enrich's state compacted; raw, DLQ and retry deleted by
// time; the erasure audit kept): it creates
// them, reports drift of existing ones, and waits until a topic's partitions
// have leaders. `leadbridge topics create`, the dev stack, the benchmarks and
// deploy/kafkatest use it. tail.go prints a topic's records for a human
// (`leadbridge tail`; [Config.Resolve] maps its raw, leads and dlq aliases).
//
// It owns the topics part of the configuration ([Config], [Defaults]),
// which cmd/config embeds. It is a package of its own rather than part of
// cmd/wire because it runs nothing and imports nothing of leadbridge: test
// helpers below ingest and enrich (deploy/kafkatest) can use it.
package topics
