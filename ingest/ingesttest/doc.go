// Package ingesttest holds test doubles for ingest's dependencies (WTF
// Dial's mock/ style): func fields a test sets to script behaviour. The
// ingest tests and the command's simulate tests use its Publisher in place
// of Kafka where the broker is not the point of the test.
package ingesttest
