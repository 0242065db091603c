package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/leadbridge/leadbridge/cmd/config"
)

// Listen opens addr; a port already in use is a clear error.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// ListenAll opens every addr, or none: on an error the ones opened are closed.
func ListenAll(addrs ...string) ([]net.Listener, error) {
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := Listen(a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// ListenIngest opens ingest's listeners: http.addr, and http.admin_addr
// when set; both or none.
func ListenIngest(cfg config.Config) (IngestListeners, error) {
	addrs := []string{cfg.HTTP.Addr}
	if cfg.HTTP.AdminAddr != "" {
		addrs = append(addrs, cfg.HTTP.AdminAddr)
	}
	lns, err := ListenAll(addrs...)
	if err != nil {
		return IngestListeners{}, err
	}
	l := IngestListeners{Public: lns[0]}
	if len(lns) > 1 {
		l.Admin = lns[1]
	}
	return l, nil
}

// Serve serves srv on ln until ctx ends, then shuts it down: no new
// connections, in-flight requests get grace (5 s when 0). It returns nil
// after a clean shutdown. srv without a ReadHeaderTimeout gets 5 s.
func Serve(ctx context.Context, ln net.Listener, srv *http.Server, grace time.Duration) error {
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = 5 * time.Second
	}
	if grace <= 0 {
		grace = 5 * time.Second
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// ServeHandler is Serve for a plain handler.
func ServeHandler(ctx context.Context, ln net.Listener, h http.Handler) error {
	return Serve(ctx, ln, &http.Server{Handler: h}, 0)
}

// Admin is the small admin server of ingest and enrich: GET /healthz (the
// process answers), GET /readyz (ready returns nil; nil ready: always) and
// GET /metrics (reg). Handler serves all three; Health serves the first two.
type Admin struct {
	ready  func(context.Context) error
	reg    *prometheus.Registry
	logger *zap.Logger
}

// NewAdmin returns the admin endpoints of a service.
func NewAdmin(ready func(context.Context) error, reg *prometheus.Registry, logger *zap.Logger) *Admin {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Admin{ready: ready, reg: reg, logger: logger}
}

// Health is /healthz and /readyz.
func (a *Admin) Health() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", a.readyz)
	return mux
}

// Handler is /healthz, /readyz and /metrics.
func (a *Admin) Handler() *http.ServeMux {
	mux := a.Health()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	return mux
}

func (a *Admin) readyz(w http.ResponseWriter, r *http.Request) {
	if a.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.ready(ctx); err != nil {
			a.logger.Warn("not ready", zap.Error(err))
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
	}
	fmt.Fprintln(w, "ready")
}
