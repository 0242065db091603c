// Package config reads leadbridge's user configuration: a YAML file (with
// ${VAR} expanded from the environment) or, without one, the single-tenant
// LEADBRIDGE_* variables; LEADBRIDGE_* overrides apply to both. It is the one
// place configuration is read. Commands in cmd/leadbridge, the dev stack and
// the benchmarks call [Load] and [Config.Validate]; the wiring (cmd/wire)
// turns the result into the plain structs ingest and enrich take.
//
// Defaults are not repeated here when a package owns them: they are read
// from ingest.Default*, enrich.DefaultConfig and cmd/topics' Defaults.
//
// Errors name the key (the YAML path, or the LEADBRIDGE_* variable the value
// came from) and the line, and never a value: a secret that lands in the
// wrong place must not be printed.
package config
