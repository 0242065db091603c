package enrich

import (
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/leadbridge/leadbridge/schema"
)

// isLeadKey reports whether key is a lead key: provider, owner and id, as
// schema.AuroraKey and schema.LeadProKey make them.
func isLeadKey(key string) bool {
	parts := strings.SplitN(key, ":", 3)
	return len(parts) == 3 && (parts[0] == schema.ProviderAurora || parts[0] == schema.ProviderLeadPro) &&
		parts[1] != "" && parts[2] != ""
}

// erased reports whether the lead key of it is erased now (in the open transaction,
// exactly-once).
func (e *Enricher) erased(it *item) bool {
	if it.part.state == nil {
		return false
	}
	k, ok := it.part.state.get(idOf(it.key))
	return ok && k.erased
}

// applyErasure handles an erasure event in its key's order. Erase: the key's
// state becomes erased (and nothing else: were it lifted, the key starts
// afresh, since downstream holds no record for it) and a tombstone goes to
// leads, both with the raw offset (in one transaction, exactly-once). A key
// already erased gets no second tombstone. Unerase: the flag is cleared and
// nothing goes to leads; the key's next lead event produces its record.
func (e *Enricher) applyErasure(it *item) {
	id := idOf(it.key)
	prev, seen := it.part.state.get(id)
	provider := strings.SplitN(it.key, ":", 2)[0]
	outcome := "unerase"
	if it.erase {
		outcome = "erase"
		if !seen || !prev.erased {
			rec := &kgo.Record{Topic: e.cfg.LeadsTopic, Key: []byte(it.key), Value: nil,
				Headers: []kgo.RecordHeader{hdr(schema.HeaderErasedAt, it.ev.Time.UTC().Format(time.RFC3339Nano))}}
			if ok, err := e.out.write(it.part, []*item{it}, rec); !ok {
				if refusedForGood(err) { // left undone, it would hold its partition's offsets back for good
					e.deadLetter([]*item{it}, schema.DLQReasonUnproducible, err, 1, e.cfg.Now())
				}
				return // revoked or stopping: the group reads the event again
			}
		}
	}
	if !seen || prev != (keyState{erased: it.erase}) {
		e.putState(it.part, it.key, id, keyState{erased: it.erase})
	}
	e.m.records.WithLabelValues(provider, outcome).Inc()
	it.done()
}
