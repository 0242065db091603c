package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// Config loads the TLS settings' files into a client configuration: the CA
// bundle and the client certificate pair, each read with ReadFile. Its
// errors name the key and never quote a file's content. Validate calls it
// for the commands with a Kafka client (Need.Kafka), so a file that cannot
// be read is a configuration problem like any other.
func (t TLS) Config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("kafka.tls.ca_file: no PEM certificate in it")
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		certPEM, err := ReadFile(t.CertFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file: %w", err)
		}
		keyPEM, err := ReadFile(t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.key_file: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls: load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
