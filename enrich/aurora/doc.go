// Package aurora is leadbridge's client for Aurora Solar's REST API, used by
// the enrichment consumer group.
//
// An Aurora webhook carries only ids (lead_id=...), so ingest puts just those
// on the raw topic; enrich then calls Retrieve Lead
// (GET /tenants/{tenant_id}/leads/{lead_id}) through [Client.RetrieveLead] to
// learn the lead's contact, address and system fields, and builds the
// canonical lead record from that body:
//
//	Kafka leads.raw -> enrich -> aurora.Client -> Aurora REST API
//	                      |
//	                      +-> Kafka leads (or leads.dlq)
//
// The client returns the body verbatim (the lead record keeps the provider's
// fields, nothing dropped) and classifies failures so the consumer can choose
// between retrying with backoff and dead-lettering: see [IsRetryable],
// [IsNotFound], [IsAuth] and [RetryAfter]. It does no retrying and no rate
// limiting of its own; both belong to the consumer, which knows its budget
// per API token.
//
// Errors and logs carry tenant and lead ids, status codes and sizes, never the
// API token and never a response body (it holds the homeowner's PII).
package aurora
