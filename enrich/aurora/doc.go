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
// fields, nothing dropped) and maps each failure onto enrich's vocabulary
// (enrich.ErrNotFound, ErrUnauthorized, ErrThrottled, ErrUnavailable, in an
// *enrich.FetchError with the status and Retry-After), as WTF Dial's http
// package maps statuses onto its domain's error codes: the adapter imports
// the domain, never the other way round. [IsRetryable], [IsNotFound],
// [IsAuth] and [RetryAfter] are the HTTP side of that table. It does no
// retrying and no rate limiting of its own; both belong to the consumer,
// which knows its budget per API token.
//
// Errors and logs carry tenant and lead ids, status codes and sizes, never the
// API token and never a response body (it holds the homeowner's PII).
package aurora
