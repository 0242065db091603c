package topics

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var tailTime = time.Date(2026, 5, 1, 10, 0, 0, 123e6, time.UTC)

func TestTailWriteRecord(t *testing.T) {
	tests := map[string]struct {
		rec  *kgo.Record
		want string
	}{
		"cloudevent": {
			rec: &kgo.Record{Topic: "leads.raw", Partition: 3, Offset: 17, Timestamp: tailTime,
				Key: []byte("aurora:t1:l1"),
				Headers: []kgo.RecordHeader{
					{Key: "ce_specversion", Value: []byte("1.0")},
					{Key: "ce_type", Value: []byte("com.aurorasolar.webhook.lead_created")},
					{Key: "content-type", Value: []byte("application/json")},
					{Key: "traceparent", Value: []byte("00-abc-01")},
				},
				Value: []byte(`{"event":"lead_created","attributes":{"lead_id":"l1"}}`)},
			want: `--- leads.raw partition 3 offset 17 at 2026-05-01T10:00:00.123Z
key: aurora:t1:l1
headers:
  ce_specversion: 1.0
  ce_type: com.aurorasolar.webhook.lead_created
  content-type: application/json
  traceparent: 00-abc-01
value:
{
  "event": "lead_created",
  "attributes": {
    "lead_id": "l1"
  }
}

`,
		},
		"text value, no key, no headers": {
			rec: &kgo.Record{Topic: "x", Timestamp: tailTime, Value: []byte("plain text")},
			want: `--- x partition 0 offset 0 at 2026-05-01T10:00:00.123Z
key: (none)
value (not JSON, 10 bytes):
plain text

`,
		},
		"binary key, header and value are quoted": {
			rec: &kgo.Record{Topic: "x", Timestamp: tailTime, Key: []byte{0xff, 'k'},
				Headers: []kgo.RecordHeader{{Key: "bin", Value: []byte{0, 1}}}, Value: []byte("a\x1b[31mb")},
			want: `--- x partition 0 offset 0 at 2026-05-01T10:00:00.123Z
key: "\xffk"
headers:
  bin: "\x00\x01"
value (not JSON, 7 bytes):
"a\x1b[31mb"

`,
		},
		"tombstone": {
			rec: &kgo.Record{Topic: "leads", Offset: 9, Timestamp: tailTime, Key: []byte("aurora:t:l")},
			want: `--- leads partition 0 offset 9 at 2026-05-01T10:00:00.123Z
key: aurora:t:l
value: null (a tombstone)

`,
		},
		"empty value": {
			rec: &kgo.Record{Topic: "x", Timestamp: tailTime, Key: []byte("k"), Value: []byte{}},
			want: `--- x partition 0 offset 0 at 2026-05-01T10:00:00.123Z
key: k
value: (empty)

`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteRecord(&b, tc.rec); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}
