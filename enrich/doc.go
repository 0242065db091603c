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
//	     -> exactly-once: commit the batch's records and offsets in one
//	        transaction (txn.go); at-least-once: commit the partition's
//	        offset once everything before it is done (partition.go, commit.go)
//
// enrich declares what it needs from a provider API, LeadFetcher, and the
// failures it understands (ErrNotFound, ErrUnauthorized, ErrUnavailable,
// ErrThrottled in a FetchError); the Aurora client in enrich/aurora maps HTTP
// onto them, and enrich never imports it. Config holds every default
// (DefaultConfig); New applies and validates them.
//
// Erasure (leadbridge forget): an erasure event on raw, keyed by the lead key,
// reaches the key's queue in order with its webhooks (pipeline.go, erase.go).
// Erase marks the key erased in its state and writes the tombstone (null
// value) on leads, with the raw offset (one transaction, exactly-once); the
// key's later events produce nothing and never call the API. Unerase clears
// the mark and writes nothing on leads; the key's next event produces its
// record. The member owning a key's partition is the one writer of its lead
// and state records. At-least-once, the mark lives in memory only (it
// survives eviction, not a restart or rebalance).
//
// Order is kept per lead key, never per partition: a lead waiting for its
// tenant's quota or a slow API call does not hold up other leads. Events for
// the same lead that wait together are served by one API call (the call
// returns the current state).
//
// Exactly-once (the default; txn.go): a member polls a batch, restores the
// key state of partitions new to it from the state topic (restore.go, after
// fencing a dead owner's open transaction), processes the batch with
// per-key workers, and commits the batch's lead, DLQ, retry and state
// records with its raw offsets in one transaction (franz-go's
// GroupTransactSession). A batch is sized by its work (txnsize.go: about
// batch_for/2 of it in a backlog), and records that arrive in its first
// quarter join it (txnfill.go), so live records wait for one transaction,
// not two. A lead still failing when the batch's time is up,
// or waiting out a backoff once the rest of its batch is done, goes to the
// retry topic (retry.go), co-partitioned with raw (the range balancer gives
// partition p of both to one member), and comes back when its not-before
// header says: the member pauses a retry partition until its first pending
// record is due (one taken over, once its poll has passed the last owner's
// records). At-least-once (Config.AtLeastOnce; commit.go): records are
// acknowledged one by one and offsets committed over the done prefix, so a
// crash re-processes and never skips, and the key state lives in memory.
//
// An Enricher is one member of the group; run as many as the load needs. The
// Aurora request budget (requests_per_minute per API token) holds for the
// whole group: each member takes the share of it that matches its share of
// the raw topic's partitions, re-computed on every rebalance.
package enrich
