// Package ingest is leadbridge's HTTP edge. It receives Aurora and LeadPro
// webhooks, authenticates them, turns each delivery into a schema.Event and
// hands it to a Publisher, answering the provider 200 only after the broker
// acknowledged the event on the raw topic.
//
// The flow of one request: route -> tenant/account lookup and authentication
// (auth.go, one 401 for every failure) -> the provider's handler and parser,
// side by side (aurora.go, leadpro.go) -> schema.Event -> Publisher.Publish
// with the ack deadline -> 200 {"id": ...}, or the status the error table in
// errors.go gives (400 for a body that cannot be read, 401, 413, 503; the
// router answers 404 and 405).
//
// An authenticated delivery is never refused for what it says: the parsers
// never fail, and what is odd is kept and listed in the raw value's
// "problems" (outcome accepted_with_problems in the metrics). The request log
// follows Config.AccessLog; the raw topic, with each ce_id, is the record of
// every accepted delivery.
//
// A Server is safe for concurrent use; it owns no Kafka client, only the
// Publisher it is given (KafkaPublisher in production, publisher.go). The
// ack deadline is ackwait.go's, ce_ids are UUIDv7s (id.go), and SignLeadPro
// (leadprosign.go) signs tokens as LeadPro does, for the simulator and tests.
package ingest
