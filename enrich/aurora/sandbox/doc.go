// Package sandbox is a local stand-in for Aurora Solar's REST API: the
// Retrieve Lead endpoint enrich calls, a lead store to feed it, and Aurora's
// Webhooks API, which fires GET webhooks at leadbridge ingest the way Aurora
// does (URL templates, header or basic auth, filters, the retry schedule).
//
// One implementation serves two uses:
//
//   - the test double for enrich and end-to-end tests, with fault injection
//     (latency, status sequences per lead, a per-token rate limit) and
//     measurement (call counters, a per-token call log, delivery records);
//   - the `leadbridge sandbox aurora` dev command, which serves Handler() on
//     a port so the whole flow runs on a laptop without Aurora.
//
// Either way it sits at both ends of the Aurora half of the data flow:
//
//	sandbox --webhook GET--> ingest --> leads.raw --> enrich --> leads
//	   ^                                                 |
//	   +---------- GET /tenants/{t}/leads/{id} ----------+
//
// It is a library: New builds a Server, Handler serves it, Close stops the
// background webhook deliveries. Every method is safe for concurrent use.
// Logs carry route templates, ids, statuses and durations; never lead
// fields, tokens, webhook secrets or query strings.
package sandbox
