package operate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/schema"
)

// ForgetOptions configure Forget.
type ForgetOptions struct {
	Kafka  []kgo.Opt // cluster options: seeds, TLS, SASL, logger
	Topics Topics    // Raw gets the erasure events, Erasures the audit records
	// Unforget lifts an erasure: the raw event clears the erased flag (enrich
	// writes nothing on leads), and the audit record says "unforget".
	Unforget bool
	// Known reports whether a well-formed key's tenant or account is
	// configured; nil accepts every well-formed key.
	Known func(provider, owner string) bool
	Now   func() time.Time // default time.Now
}

// Erasure is one audit record: the key, what was done and when. No PII.
type Erasure struct {
	Key    string    `json:"key"`
	Action string    `json:"action"` // forget or unforget
	Time   time.Time `json:"time"`
}

// Problem is a key Forget refused; the others still proceed.
type Problem struct {
	Index  int    // position in the input, from 1
	Key    string // empty when the key is malformed (it is not echoed)
	Reason string
}

// ForgetReport is what Forget did.
type ForgetReport struct {
	Done     []Erasure
	Problems []Problem
}

// leadKey is schema's lead key: provider, owner (tenant or account) and id,
// with no control characters or spaces.
var leadKey = regexp.MustCompile(`^(aurora|leadpro):([^:\s]{1,128}):([^\s]{1,256})$`)

// Forget erases lead keys: per key an erasure event on the raw topic, keyed
// by the lead key (the default partitioner, as ingest, replay and redrive
// use: it lands on the partition of the lead's webhooks) and an audit record
// on the erasures topic, all in one transaction. The enrich member owning the
// partition meets the event in order with the lead's other events and writes
// the tombstone on leads and the erased flag in its state; it is the only
// writer of both. Malformed or unknown keys are reported as Problems and the
// others proceed; the error is for the write itself (then nothing was
// written).
func Forget(ctx context.Context, keys []string, opts ForgetOptions) (ForgetReport, error) {
	var rep ForgetReport
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	action := "forget"
	if opts.Unforget {
		action = "unforget"
	}
	seen := map[string]bool{}
	var good []string
	for i, k := range keys {
		m := leadKey.FindStringSubmatch(k)
		switch {
		case m == nil:
			rep.Problems = append(rep.Problems, Problem{Index: i + 1, Reason: "malformed: want aurora:<tenant>:<lead id> or leadpro:<account>:<id>"})
		case opts.Known != nil && !opts.Known(m[1], m[2]):
			rep.Problems = append(rep.Problems, Problem{Index: i + 1, Key: k, Reason: "unknown " + owner(m[1]) + " " + m[2]})
		case !seen[k]:
			seen[k] = true
			good = append(good, k)
		}
	}
	if len(good) == 0 {
		return rep, nil
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	cl, err := kgo.NewClient(append(opts.Kafka[:len(opts.Kafka):len(opts.Kafka)],
		kgo.TransactionalID("leadbridge-forget-"+hex.EncodeToString(id)),
		kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return rep, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return rep, fmt.Errorf("begin erasure transaction: %w", err)
	}
	at := now().UTC()
	var rs []*kgo.Record
	var done []Erasure
	for _, k := range good {
		e := Erasure{Key: k, Action: action, Time: at}
		audit, _ := json.Marshal(e) // strings and a time: cannot fail
		evID, err := uuid.NewV7()
		if err != nil {
			return rep, fmt.Errorf("event id: %w", err)
		}
		ev := schema.ErasureEvent(evID.String(), k, !opts.Unforget, at).Record()
		ev.Topic = opts.Topics.Raw
		rs = append(rs, ev)
		rs = append(rs, &kgo.Record{Topic: opts.Topics.Erasures, Key: []byte(k), Value: audit,
			Headers: []kgo.RecordHeader{{Key: schema.HeaderContentType, Value: []byte(schema.ContentTypeJSON)}}})
		done = append(done, e)
	}
	var prodErr error
	for _, r := range cl.ProduceSync(ctx, rs...) {
		if r.Err != nil {
			prodErr = topicError(r.Record.Topic, r.Err)
			break
		}
	}
	commit := kgo.TransactionEndTry(prodErr == nil)
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := errors.Join(prodErr, cl.EndTransaction(endCtx, commit)); err != nil {
		return rep, fmt.Errorf("write erasures (nothing was written): %w", err)
	}
	rep.Done = done
	return rep, nil
}

func owner(provider string) string {
	if provider == schema.ProviderLeadPro {
		return "account"
	}
	return "tenant"
}

// ReadKeys reads keys from r: one per line, blank lines and lines starting
// with # skipped, surrounding space trimmed.
func ReadKeys(r io.Reader) ([]string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, err
	}
	var out []string
	for l := range strings.Lines(string(b)) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, nil
}

// WriteText prints one audit line per erased key ("forget <key> <time>"),
// then one line per refused key.
func (r ForgetReport) WriteText(w io.Writer) {
	for _, e := range r.Done {
		fmt.Fprintf(w, "%s %s %s\n", e.Action, e.Key, e.Time.Format(time.RFC3339Nano))
	}
	for _, p := range r.Problems {
		if p.Key != "" {
			fmt.Fprintf(w, "failed key %d (%s): %s\n", p.Index, p.Key, p.Reason)
		} else {
			fmt.Fprintf(w, "failed key %d: %s\n", p.Index, p.Reason)
		}
	}
}
