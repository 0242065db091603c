// Package dev is `leadbridge dev`: everything in one process for
// development, on the production code paths. An in-process Kafka-compatible
// broker (franz-go's kfake, data kept on disk), leadbridge's topics
// (cmd/topics), ingest and an enrich member (cmd/wire, as in production)
// and the Aurora sandbox with webhook subscriptions pointing at ingest.
package dev
