package config

import (
	"fmt"
	"io"
	"os"
)

// MaxFileBytes bounds every file the configuration is read from: the
// configuration file itself, the *_file secrets and kafka.tls's PEM files.
// A megabyte holds thousands of tenants or a whole CA bundle; a path that
// names something larger (a log, a device) is refused, not read whole.
const MaxFileBytes = 1 << 20

// ReadFile reads the file at path, refusing one over MaxFileBytes. Its
// errors never quote the content.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("over %d bytes", MaxFileBytes)
	}
	return b, nil
}
