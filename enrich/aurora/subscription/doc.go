// Package subscription provisions leadbridge's Aurora webhook subscriptions
// through Aurora's Webhooks API: `leadbridge aurora subscriptions sync` and
// `... list` are thin wrappers around [Sync] and [List].
//
//	configured tenants --Sync--> Aurora Webhooks API --webhooks--> leadbridge ingest
//
// For every tenant, Sync makes sure there is exactly one subscription per
// wanted event pointing at ingest's public URL: a url_template carrying every
// attribute of the event, header auth with the tenant's first webhook token
// (basic auth when the tenant uses basic), enabled. It creates what is
// missing, updates what drifted (URL, auth after a rotation, a subscription
// Aurora disabled after 48 h of failures) and deletes only with Prune. A
// second run makes no write.
//
// The subscriptions it manages are recognised by their description, which
// starts with "leadbridge " and carries a short fingerprint of the auth
// credential: Aurora never reads secrets back, so the fingerprint is how a
// token rotation is noticed. The fingerprint is a truncated SHA-256 of a
// high-entropy token; the token itself is never printed, logged or put in an
// error (dry runs show <redacted>).
//
// Every call goes through one rate limiter per API token at the configured
// requests per minute (Aurora's default budget is 90), and a 429 waits for
// its Retry-After. The wire shapes of the Webhooks API live in api.go only;
// the client reads both wrapped ({"webhooks": [...]}, {"webhook": {...}}) and
// bare answers, since the List/Retrieve/Update bodies are not documented.
package subscription
