package aurora

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

// readBody returns what io.ReadAll returns whatever the size hint says.
func TestReadBodyAnyHint(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 1500, 4096, 70000} {
		want := bytes.Repeat([]byte("ab"), n)[:n]
		for _, hint := range []int64{-1, 0, 1, int64(n) - 1, int64(n), int64(n) + 1, 10 * int64(n), MaxBodyBytes + 1} {
			for _, r := range []io.Reader{bytes.NewReader(want), iotest.OneByteReader(bytes.NewReader(want)), iotest.HalfReader(bytes.NewReader(want))} {
				got, err := readBody(r, hint)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("n %d, hint %d: %d bytes, %v", n, hint, len(got), err)
				}
			}
		}
	}
	boom := errors.New("boom")
	if _, err := readBody(iotest.ErrReader(boom), 10); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

// BenchmarkRetrieveLead is one call against a local server answering a
// lead of about 1.5 KB with its Content-Length.
func BenchmarkRetrieveLead(b *testing.B) {
	body := []byte(`{"id":"` + testLead + `","pad":"` + strings.Repeat("x", 1500) + `"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c := NewClient(srv.URL, srv.Client(), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.RetrieveLead(b.Context(), testTenant, testToken, testLead); err != nil {
			b.Fatal(err)
		}
	}
}
