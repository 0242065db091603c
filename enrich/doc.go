// Package enrich is leadbridge's consumer group: it reads CloudEvents from the
// raw topic and writes one canonical lead record per lead key to the
// compacted leads topic, or the raw record to the DLQ when it cannot.
//
// The flow of one record, file by file:
//
//	poll (enricher.go) -> decode and classify (pipeline.go) -> per-key queue (pipeline.go)
//	     -> Aurora lead events: quota wait (quota.go) -> Retrieve Lead through a
//	        LeadFetcher (fetcher.go, fetch.go) with retries (backoff.go);
//	        LeadPro events: the verified payload
//	     -> schema.Lead -> the key's state (state.go): erased, older or unchanged
//	        records are not produced -> produce to leads (output.go) -> mark done
//	     -> commit the partition's offset once everything before it is done
//	        (partition.go, commit.go)
//
// enrich declares what it needs from a provider API, LeadFetcher, and the
// failures it understands (ErrNotFound, ErrUnauthorized, ErrUnavailable,
// ErrThrottled in a FetchError); the Aurora client in enrich/aurora maps HTTP
// onto them, and enrich never imports it. Config holds every default
// (DefaultConfig); New applies and validates them.
//
// Order is kept per lead key, never per partition: a lead waiting for its
// tenant's quota or a slow API call does not hold up other leads. Events for
// the same lead that wait together are served by one API call (the call
// returns the current state). Offsets are committed only after the lead or
// DLQ record was acknowledged, so a crash re-processes and never skips
// (at-least-once; duplicates are possible, losses are not).
//
// An Enricher is one member of the group; run as many as the load needs. The
// Aurora request budget (requests_per_minute per API token) holds for the
// whole group: each member takes the share of it that matches its share of
// the raw topic's partitions, re-computed on every rebalance.
package enrich
