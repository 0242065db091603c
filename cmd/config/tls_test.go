package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kafka.tls's PEM files are configuration files: one over
// MaxFileBytes is refused, not read whole.
func TestTLSFilesAreReadUpToTheLimit(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.pem")
	if err := os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]TLS{
		"ca_file":   {Enabled: true, CAFile: big},
		"cert_file": {Enabled: true, CertFile: big, KeyFile: big},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Config(); err == nil || !strings.Contains(err.Error(), "over") {
				t.Fatalf("a PEM file over MaxFileBytes: %v", err)
			}
		})
	}
}
