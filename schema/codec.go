package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrInvalidEvent is wrapped by every DecodeRecord error: the record is not a
// CloudEvent leadbridge can read. It is permanent; retrying will not help.
var ErrInvalidEvent = errors.New("invalid cloudevent")

// Record encodes e in CloudEvents binary content mode. The record's key is
// e.PartitionKey; its Topic is left for the caller to set. Headers come in a
// fixed order so that encoding is deterministic.
func (e Event) Record() *kgo.Record {
	// Every header value and the key share one buffer: one allocation
	// instead of one per header (this runs on every delivery).
	size := len(SpecVersion) + len(e.ID) + len(e.Source) + len(e.Type) + len(time.RFC3339Nano) + 8 +
		len(e.Subject) + 2*len(e.PartitionKey) + len(e.DataSchema) + len(ContentTypeJSON)
	for k, v := range e.Extensions {
		size += len(k) + len(v)
	}
	buf := make([]byte, 0, size)
	h := make([]kgo.RecordHeader, 0, 9+len(e.Extensions))
	value := func(start int) []byte { return buf[start:len(buf):len(buf)] }
	add := func(k, v string) {
		start := len(buf)
		buf = append(buf, v...)
		h = append(h, kgo.RecordHeader{Key: k, Value: value(start)})
	}
	add(HeaderSpecVersion, SpecVersion)
	add(HeaderID, e.ID)
	add(HeaderSource, e.Source)
	add(HeaderType, e.Type)
	start := len(buf)
	buf = e.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
	h = append(h, kgo.RecordHeader{Key: HeaderTime, Value: value(start)})
	if e.Subject != "" {
		add(HeaderSubject, e.Subject)
	}
	if e.PartitionKey != "" {
		add(HeaderPartitionKey, e.PartitionKey)
	}
	if e.DataSchema != "" {
		add(HeaderDataSchema, e.DataSchema)
	}
	switch len(e.Extensions) {
	case 0: // the sort allocates even for an empty map
	case 1: // a lead record's one, ce_rawtype: nothing to sort
		for k, v := range e.Extensions {
			add(extHeader(k), v)
		}
	default:
		for _, k := range slices.Sorted(maps.Keys(e.Extensions)) {
			add(extHeader(k), e.Extensions[k])
		}
	}
	add(HeaderContentType, ContentTypeJSON)
	var key []byte
	if e.PartitionKey != "" {
		start := len(buf)
		buf = append(buf, e.PartitionKey...)
		key = value(start)
	}
	return &kgo.Record{Key: key, Value: e.Data, Headers: h}
}

// extHeader is the header of the extension k; the known one without
// building the string (enrich writes it on every lead record).
func extHeader(k string) string {
	if k == ExtRawType {
		return "ce_" + ExtRawType
	}
	return "ce_" + k
}

// DecodeRecord reads a CloudEvent in binary content mode from r. It requires
// ce_specversion 1.0, ce_id, ce_source, ce_type, a valid ce_time, JSON content
// and a value that is valid JSON; every error wraps ErrInvalidEvent. The
// returned Data aliases r.Value.
func DecodeRecord(r *kgo.Record) (Event, error) {
	var (
		e    Event
		errs []error
		seen = make(map[string]bool, len(r.Headers))
	)
	for _, h := range r.Headers {
		k := strings.ToLower(h.Key)
		if seen[k] {
			errs = append(errs, fmt.Errorf("duplicate header %q", k))
			continue
		}
		seen[k] = true
		v := string(h.Value)
		switch k {
		case HeaderSpecVersion:
			if v != SpecVersion {
				errs = append(errs, fmt.Errorf("unsupported specversion %q", v))
			}
		case HeaderID:
			e.ID = v
		case HeaderSource:
			e.Source = v
		case HeaderType:
			e.Type = v
		case HeaderTime:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				errs = append(errs, fmt.Errorf("bad ce_time: %w", err))
			}
			e.Time = t.UTC()
		case HeaderSubject:
			e.Subject = v
		case HeaderPartitionKey:
			e.PartitionKey = v
		case HeaderDataSchema:
			e.DataSchema = v
		case HeaderContentType:
			if mt, _, _ := strings.Cut(v, ";"); strings.TrimSpace(mt) != ContentTypeJSON {
				errs = append(errs, fmt.Errorf("unsupported content-type %q", v))
			}
		default:
			if name, ok := strings.CutPrefix(k, "ce_"); ok {
				if e.Extensions == nil {
					e.Extensions = make(map[string]string)
				}
				e.Extensions[name] = v
			}
		}
	}
	for name, ok := range map[string]bool{
		HeaderSpecVersion: seen[HeaderSpecVersion],
		HeaderID:          e.ID != "",
		HeaderSource:      e.Source != "",
		HeaderType:        e.Type != "",
		HeaderTime:        seen[HeaderTime],
	} {
		if !ok {
			errs = append(errs, fmt.Errorf("missing %s", name))
		}
	}
	if !json.Valid(r.Value) {
		errs = append(errs, errors.New("value is not JSON"))
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return Event{}, fmt.Errorf("%w: %w", ErrInvalidEvent, errors.Join(errs...))
	}
	e.Data = r.Value
	return e, nil
}

// Header returns the value of the first header named key in r, or "".
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
