package simulate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// Generate never sends request i before start + i/rate.
func TestGenerateLoadRate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	client := NewClient(4, 5*time.Second)
	res := Generate(t.Context(), client, 6, 4, 50, func(int) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, srv.URL, nil)
	})
	if res.Requests != 6 || res.OK() != 6 || res.Errors() != 0 {
		t.Fatalf("result %+v", res)
	}
	if least := 5 * time.Second / 50; res.Elapsed < least {
		t.Fatalf("6 requests at 50/s took %v, less than %v", res.Elapsed, least)
	}
	if res.Percentile(0.5) > res.Percentile(1) || res.Percentile(1) <= 0 {
		t.Fatalf("percentiles out of order: p50 %v, max %v", res.Percentile(0.5), res.Percentile(1))
	}
}

// A canceled context stops the load early; what was sent is counted.
func TestGenerateLoadCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	res := Generate(ctx, NewClient(1, time.Second), 1000, 1, 0, func(i int) (*http.Request, error) {
		if i == 9 {
			cancel()
		}
		return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	})
	if res.Requests != 10 || res.OK() != 9 || res.NoAnswer != 1 {
		t.Fatalf("want 10 sent, 9 answered, 1 canceled; got %d, %d, %d", res.Requests, res.OK(), res.NoAnswer)
	}
}

// An answer is read up to maxAnswerBytes, whatever the target sends: a
// wrong --url pointing at a large download does not stream it all.
func TestGenerateReadsAnswersUpToTheLimit(t *testing.T) {
	const sent = 64 << 20
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for written.Load() < sent {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	res := Generate(t.Context(), NewClient(1, 30*time.Second), 1, 1, 0, func(int) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, srv.URL, nil)
	})
	if res.OK() != 1 {
		t.Fatalf("result %+v", res)
	}
	srv.Close() // waits for the handler
	if n := written.Load(); n >= sent {
		t.Fatalf("the whole %d-byte answer was read", n)
	}
}
