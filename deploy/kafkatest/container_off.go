//go:build !testcontainers

package kafkatest

import (
	"fmt"
	"testing"
)

// Without the testcontainers build tag the container fallback is not
// compiled: testcontainers-go (and its ~47 modules) stays out of `go build
// ./...`. `go test -tags testcontainers ./...` turns it on.
func startContainer(testing.TB) ([]string, error) {
	return nil, fmt.Errorf("%w: built without -tags testcontainers", errNoDocker)
}

func containerImage() string { return "(none: built without -tags testcontainers)" }
