package wire

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/cmd/config"
)

// The API client keeps a connection per call in flight: waves of
// max_in_flight concurrent calls reuse the first wave's connections
// instead of dialing again (net/http's default keeps only 2 idle).
func TestAPIClientKeepsConnections(t *testing.T) {
	const inFlight, waves = 16, 4
	var dials atomic.Int64
	release := make(chan struct{})
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release // hold every call of a wave until all of it is in flight
		io.WriteString(w, "{}")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	cfg := config.Default()
	cfg.Enrich.MaxInFlight = inFlight
	client := APIClient(cfg)
	for range waves {
		arrived.Add(inFlight)
		var calls sync.WaitGroup
		for range inFlight {
			calls.Go(func() {
				resp, err := client.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		arrived.Wait()
		for range inFlight {
			release <- struct{}{}
		}
		calls.Wait()
	}
	if n := dials.Load(); n > inFlight {
		t.Errorf("%d connections for %d waves of %d calls, want at most %d", n, waves, inFlight, inFlight)
	}
}

// The API client leaves a call's deadline to its context, enrich's
// request_timeout: a client Timeout cut every call at its own value,
// whatever request_timeout said, and with tracing on cost each call a
// goroutine and timer of net/http's.
func TestAPIClientLeavesTheDeadlineToTheCall(t *testing.T) {
	cfg := config.Default()
	cfg.Enrich.RequestTimeout = 30 * time.Second
	if c := APIClient(cfg); c.Timeout != 0 {
		t.Errorf("APIClient's Timeout is %s; enrich.request_timeout %s would be cut at it", c.Timeout, cfg.Enrich.RequestTimeout)
	}
}
