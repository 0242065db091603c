package wire

import (
	"testing"

	"github.com/leadbridge/leadbridge/cmd/config"
)

// ListenIngest opens the admin listener only when http.admin_addr is set,
// and fails when one address is taken.
func TestListenIngest(t *testing.T) {
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	l, err := ListenIngest(cfg)
	if err != nil || l.Public == nil || l.Admin != nil {
		t.Fatalf("without admin_addr: %+v, %v", l, err)
	}
	l.Public.Close()

	cfg.HTTP.AdminAddr = "127.0.0.1:0"
	l, err = ListenIngest(cfg)
	if err != nil || l.Public == nil || l.Admin == nil {
		t.Fatalf("with admin_addr: %+v, %v", l, err)
	}
	l.Admin.Close()

	// The first public address is still held: as admin_addr it fails.
	cfg.HTTP.Addr, cfg.HTTP.AdminAddr = "127.0.0.1:0", l.Public.Addr().String()
	defer l.Public.Close()
	if _, err := ListenIngest(cfg); err == nil {
		t.Fatal("a busy admin_addr: no error")
	}
}
