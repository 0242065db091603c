// Command leadbridge receives Aurora and LeadPro lead webhooks, publishes
// them as CloudEvents to Kafka and enriches them into canonical lead records.
// See README.md; `leadbridge --help` lists the commands.
//
// This package only wires: main calls run(ctx, args, getenv, stdout), which
// looks the command up in one table (main.go); each command is a short file
// that parses its flags, loads the configuration (cmd/config) and calls a
// package: cmd/wire runs ingest, enrich, the sandbox and the tail consumer,
// cmd/topics creates the topics, cmd/dev is the dev stack, and each tool's
// package checks its own settings (simulate.Load.Check, ingest/bench's
// Ingest.Check, enrich/bench's Plan.Check). The preamble every command
// shares (flags, configuration, logger, the http(s) URL check) is in
// flags.go; the operator commands' repeatable and time flags in opsflags.go. Adding a command is a file with its
// run function and one line in the table.
package main
