// Package simulate is the provider simulator beside ingest: it sends Aurora
// and LeadPro webhooks to an ingest the way each provider does. creds.go
// finds the credentials (flags, then the configuration ingest reads),
// payload.go builds and signs the deliveries, load.go sends one or many
// (closed-loop workers, an optional rate) and measures them, run.go is one
// `leadbridge simulate` run (Simulator.Run with a checked Load).
// `leadbridge simulate` and the ingest benchmark (ingest/bench) use it.
package simulate
