// Package golden compares test output with golden files (testdata/<name>),
// the exact CloudEvents and lead records leadbridge emits: its public
// contract. `go test -update` rewrites them from the current output. It is
// for tests only; schema's and ingest's golden tests share it.
package golden
