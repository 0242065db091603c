// Command leadbridge receives Aurora and LeadPro lead webhooks, publishes
// them as CloudEvents to Kafka and enriches them into canonical lead records.
// See README.md; `leadbridge --help` lists the commands.
//
// This package is where configuration is read (config.go) and everything is
// wired (wiring.go: loggers, franz-go clients, metrics registries, servers);
// the packages it wires (ingest, enrich, enrich/aurora, schema) get plain
// structs. main only calls run(ctx, args, getenv, stdout), one file per
// subcommand, so main_test drives the real program end to end.
package main
