// Package wire turns a configuration (cmd/config) into running clients and
// servers: the production logger, the Prometheus registry, franz-go options
// (seeds, TLS, SASL, kzap, kprom), the one serve-until-done-then-shutdown
// function, the small admin server (/healthz, /readyz, /metrics) both
// ingest and enrich use, ingest's listeners and connection limit, and the
// two services themselves ([Ingest], [Enrich]), tracing, the HTTP probe of
// shell-less containers ([Probe]), the Aurora sandbox as `leadbridge sandbox
// aurora` serves it ([Sandbox], [SandboxBanner]), the tail consumer
// ([Tail]), the HTTP client for Aurora's API ([APIClient]), ingest's GC
// setting ([TuneIngestGC]), and the configuration mapped onto the operator
// packages' types ([OperateTopics], [SubscriptionTenants]). cmd/leadbridge, the dev stack and
// the benchmarks all start ingest and enrich through here, so none of them
// copies the wiring.
//
// Data walks: config -> wire -> ingest / enrich (plain structs). ingest and
// enrich never import wire or config.
package wire
