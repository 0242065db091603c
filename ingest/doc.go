// Package ingest is leadbridge's HTTP edge. It receives Aurora and LeadPro
// webhooks, authenticates them, turns each delivery into a schema.Event and
// hands it to a Publisher, answering the provider 200 only after the broker
// acknowledged the event on the raw topic.
//
// The flow of one request: route -> tenant/account lookup and authentication
// (auth.go, one 401 for every failure) -> provider parsing (aurora.go,
// leadpro.go) -> schema.Event -> Publisher.Publish with the ack deadline ->
// 200 {"id": ...}, or the status the error table in errors.go gives.
//
// A Server is safe for concurrent use; it owns no Kafka client, only the
// Publisher it is given (KafkaPublisher in production).
package ingest
