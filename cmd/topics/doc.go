// Package topics knows the three topics leadbridge owns and the settings each
// needs (the leads topic compacted, raw and DLQ deleted by time): it creates
// them, reports drift of existing ones, and waits until a topic's partitions
// have leaders. `leadbridge topics create`, the dev stack, the benchmarks and
// deploy/kafkatest use it.
//
// It is a package of its own rather than part of cmd/wire because it runs
// nothing: it needs an admin client and the topic settings, not servers,
// loggers or metrics, so test helpers and one-shot tools can use it cheaply.
package topics
