package wire

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener keeps at most max connections open. A connection past the
// limit is not left waiting in the kernel's backlog (where it would time out
// and health checks with it): it is accepted and handed to overflow, where
// a one-request server answers it at once (health normally, everything
// else 503) and closes it. Past max/4 of those as well, it is closed at once.
type limitListener struct {
	net.Listener
	slots    chan struct{}
	overflow *chanListener
	spill    atomic.Int64
	maxSpill int64
}

func newLimitListener(ln net.Listener, max int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max),
		overflow: newChanListener(ln.Addr()), maxSpill: int64(max/4 + 16)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &releaseConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
		}
		if l.spill.Add(1) > l.maxSpill || !l.overflow.put(&releaseConn{Conn: c, release: func() { l.spill.Add(-1) }}) {
			l.spill.Add(-1)
			c.Close()
		}
	}
}

func (l *limitListener) Close() error {
	l.overflow.Close()
	return l.Listener.Close()
}

// overflowServer answers the connections past the limit: health as usual,
// everything else 503 with Retry-After, one request per connection.
func overflowServer(health http.Handler) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /readyz", health)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"too many connections"}` + "\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second,
		WriteTimeout: 5 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	return srv
}

type releaseConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *releaseConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// chanListener is a net.Listener fed by put.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn, 64), done: make(chan struct{})}
}

// put hands c to Accept, or reports false when the listener is closed or full.
func (l *chanListener) put(c net.Conn) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.conns <- c:
		return true
	default:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

var errDraining = errors.New("draining")
