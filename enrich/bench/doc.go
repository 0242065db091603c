// Package bench is the enrich benchmark beside enrich (`leadbridge bench
// enrich`): a backlog of Aurora lead events on fresh topics of a real
// broker, drained by enrich members wired as in production (cmd/wire)
// against the Aurora sandbox. It reports the drain rate against the bound
// the scenario sets (API latency or the aggregate quota), as a ratio. A Plan
// is the command's scenarios and settings; Run is one drain, DoCompared
// the exactly-once against at-least-once rounds, DoPoison the poison
// scenario against its baseline. E2E
// (`leadbridge bench e2e`) adds ingest in front and measures freshness: from
// sending a webhook to its lead record being readable.
package bench
