package schema

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func sampleEvent() Event {
	return Event{
		ID:           "0192f0c4-7b1e-7cc1-9f00-000000000001",
		Source:       AuroraSource("t1"),
		Type:         AuroraTypePrefix + "lead_created",
		Subject:      "L1",
		Time:         time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC),
		PartitionKey: AuroraKey("t1", "L1"),
		Data:         json.RawMessage(`{"event":"lead_created","tenant_id":"t1","attributes":{"lead_id":"L1"}}`),
	}
}

func TestRecordRoundTrip(t *testing.T) {
	tests := map[string]func(*Event){
		"aurora":           func(*Event) {},
		"no subject":       func(e *Event) { e.Subject = "" },
		"extensions":       func(e *Event) { e.Extensions = map[string]string{"rawtype": "x", "a1": "y"} },
		"rawtype alone":    func(e *Event) { e.Extensions = map[string]string{ExtRawType: "x"} },
		"other alone":      func(e *Event) { e.Extensions = map[string]string{"a1": "y"} },
		"dataschema":       func(e *Event) { e.DataSchema = "https://leadbridge.dev/schema/lead.schema.json" },
		"non-UTC time in":  func(e *Event) { e.Time = e.Time.In(time.FixedZone("X", 3600)) },
		"array data value": func(e *Event) { e.Data = json.RawMessage(`[1,2]`) },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			e := sampleEvent()
			mutate(&e)
			r := e.Record()
			if string(r.Key) != e.PartitionKey {
				t.Fatalf("key %q, want %q", r.Key, e.PartitionKey)
			}
			got, err := DecodeRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(e.Time) {
				t.Fatalf("time %v, want %v", got.Time, e.Time)
			}
			got.Time, e.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
			}
		})
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	base := sampleEvent().Record()
	tests := map[string]func(r *kgo.Record){
		"no specversion": func(r *kgo.Record) { r.Headers = dropHeader(r.Headers, HeaderSpecVersion) },
		"specversion 0.3": func(r *kgo.Record) {
			r.Headers = setHeader(r.Headers, HeaderSpecVersion, "0.3")
		},
		"no id":          func(r *kgo.Record) { r.Headers = dropHeader(r.Headers, HeaderID) },
		"no source":      func(r *kgo.Record) { r.Headers = dropHeader(r.Headers, HeaderSource) },
		"no type":        func(r *kgo.Record) { r.Headers = dropHeader(r.Headers, HeaderType) },
		"no time":        func(r *kgo.Record) { r.Headers = dropHeader(r.Headers, HeaderTime) },
		"bad time":       func(r *kgo.Record) { r.Headers = setHeader(r.Headers, HeaderTime, "yesterday") },
		"xml":            func(r *kgo.Record) { r.Headers = setHeader(r.Headers, HeaderContentType, "application/xml") },
		"value not json": func(r *kgo.Record) { r.Value = []byte("{") },
		"duplicate id": func(r *kgo.Record) {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderID, Value: []byte("2")})
		},
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			r := *base
			r.Headers = append([]kgo.RecordHeader(nil), base.Headers...)
			mutate(&r)
			if _, err := DecodeRecord(&r); !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("err = %v, want ErrInvalidEvent", err)
			}
		})
	}
}

func dropHeader(hs []kgo.RecordHeader, key string) []kgo.RecordHeader {
	var out []kgo.RecordHeader
	for _, h := range hs {
		if h.Key != key {
			out = append(out, h)
		}
	}
	return out
}

func setHeader(hs []kgo.RecordHeader, key, v string) []kgo.RecordHeader {
	out := dropHeader(hs, key)
	return append(out, kgo.RecordHeader{Key: key, Value: []byte(v)})
}

// FuzzDecodeRecord: decoding never panics, and whatever decodes re-encodes to
// a record that decodes to the same event (Decode(Encode(e)) == e).
func FuzzDecodeRecord(f *testing.F) {
	e := sampleEvent()
	f.Add(e.ID, e.Source, e.Type, e.Subject, e.Time.Format(time.RFC3339Nano), e.PartitionKey, "ce_x", "1", []byte(e.Data))
	f.Add("", "", "", "", "", "", "", "", []byte("{"))
	f.Fuzz(func(t *testing.T, id, src, typ, subj, tm, pk, extK, extV string, val []byte) {
		r := &kgo.Record{Value: val, Headers: []kgo.RecordHeader{
			{Key: HeaderSpecVersion, Value: []byte(SpecVersion)},
			{Key: HeaderID, Value: []byte(id)},
			{Key: HeaderSource, Value: []byte(src)},
			{Key: HeaderType, Value: []byte(typ)},
			{Key: HeaderTime, Value: []byte(tm)},
			{Key: HeaderSubject, Value: []byte(subj)},
			{Key: HeaderPartitionKey, Value: []byte(pk)},
			{Key: extK, Value: []byte(extV)},
			{Key: HeaderContentType, Value: []byte(ContentTypeJSON)},
		}}
		ev, err := DecodeRecord(r)
		if err != nil {
			return
		}
		again, err := DecodeRecord(ev.Record())
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if !again.Time.Equal(ev.Time) {
			t.Fatalf("time changed: %v -> %v", ev.Time, again.Time)
		}
		again.Time, ev.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(again, ev) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, ev)
		}
	})
}

// An erasure event is a CloudEvent keyed by the lead key, its data the audit
// shape without PII.
func TestErasureEvent(t *testing.T) {
	at := time.Date(2026, 11, 30, 5, 0, 0, 0, time.FixedZone("x", 3600))
	for erase, want := range map[bool][2]string{true: {EraseEventType, "forget"}, false: {UneraseEventType, "unforget"}} {
		r := ErasureEvent("id-1", "aurora:t1:L1", erase, at).Record()
		ev, err := DecodeRecord(r)
		if err != nil || string(r.Key) != "aurora:t1:L1" || ev.Type != want[0] || ev.Source != ForgetSource || !ev.Time.Equal(at) {
			t.Fatalf("erase %v: %v %+v", erase, err, ev)
		}
		if d := string(ev.Data); d != `{"key":"aurora:t1:L1","action":"`+want[1]+`","time":"2026-11-30T04:00:00Z"}` {
			t.Errorf("erase %v: data %s", erase, d)
		}
	}
}

// BenchmarkLeadRecord encodes a lead record's CloudEvent as enrich does for
// every record it writes: a data schema and the one extension ce_rawtype.
func BenchmarkLeadRecord(b *testing.B) {
	e := sampleEvent()
	e.Type, e.DataSchema = LeadEventType, LeadSchemaID
	e.Extensions = map[string]string{ExtRawType: AuroraTypePrefix + "lead_created"}
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Record()
	}
}
