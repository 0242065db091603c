package topics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Tail prints what client consumes until ctx ends, limit records were
// printed (0: no limit), or idle passed without one (0: never).
func Tail(ctx context.Context, client *kgo.Client, w io.Writer, limit int, idle time.Duration) error {
	printed := 0
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if idle > 0 {
			pctx, cancel = context.WithTimeout(ctx, idle)
		}
		fetches := client.PollFetches(pctx)
		timedOut := pctx.Err() != nil
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil // interrupted: a normal way to stop tailing
		}
		got := 0
		var ferr error
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("fetch %s partition %d: %w", topic, partition, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		for it := fetches.RecordIter(); !it.Done(); {
			if err := WriteRecord(w, it.Next()); err != nil {
				return err
			}
			got++
			printed++
			if limit > 0 && printed >= limit {
				return nil
			}
		}
		if got == 0 && timedOut {
			if limit > 0 {
				return fmt.Errorf("no record for %s after %d of %d", idle, printed, limit)
			}
			return nil
		}
	}
}

// WriteRecord prints one record for a human: a header line, the key, the
// headers in record order, and the value (indented JSON, else text; bytes
// that are not printable UTF-8 are Go-quoted so a terminal stays sane).
func WriteRecord(w io.Writer, r *kgo.Record) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "--- %s partition %d offset %d at %s\n", r.Topic, r.Partition, r.Offset,
		r.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	if r.Key == nil {
		b.WriteString("key: (none)\n")
	} else {
		fmt.Fprintf(&b, "key: %s\n", printable(r.Key))
	}
	if len(r.Headers) > 0 {
		b.WriteString("headers:\n")
		for _, h := range r.Headers {
			fmt.Fprintf(&b, "  %s: %s\n", printable([]byte(h.Key)), printable(h.Value))
		}
	}
	switch {
	case r.Value == nil:
		b.WriteString("value: null (a tombstone)\n")
	case len(r.Value) == 0:
		b.WriteString("value: (empty)\n")
	case json.Valid(r.Value):
		b.WriteString("value:\n")
		if err := json.Indent(&b, bytes.TrimSpace(r.Value), "", "  "); err != nil {
			return fmt.Errorf("indent value: %w", err) // cannot happen: json.Valid said yes
		}
		b.WriteByte('\n')
	default:
		fmt.Fprintf(&b, "value (not JSON, %d bytes):\n%s\n", len(r.Value), printable(r.Value))
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// printable returns p as text when it is valid UTF-8 without control
// characters (newlines and tabs allowed), else Go-quoted.
func printable(p []byte) string {
	s := string(p)
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\t'
	}) {
		return strconv.Quote(s)
	}
	return s
}
