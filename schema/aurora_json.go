package schema

import (
	"slices"
	"unicode/utf8"
)

// AppendJSON appends d encoded exactly as json.Marshal(d) encodes it, byte
// for byte (the fuzz test holds it to that), without reflection: ingest
// encodes one on every Aurora delivery.
func (d AuroraData) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"event":`...)
	dst = appendJSONString(dst, d.Event)
	dst = append(dst, `,"tenant_id":`...)
	dst = appendJSONString(dst, d.TenantID)
	dst = append(dst, `,"attributes":`...)
	if d.Attributes == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '{')
		var keys [16]string
		for i, k := range sortedKeys(d.Attributes, keys[:0]) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, d.Attributes[k])
		}
		dst = append(dst, '}')
	}
	if len(d.Repeated) > 0 {
		dst = append(dst, `,"repeated":{`...)
		var keys [16]string
		for i, k := range sortedKeys(d.Repeated, keys[:0]) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			vs := d.Repeated[k]
			if vs == nil {
				dst = append(dst, "null"...)
				continue
			}
			dst = append(dst, '[')
			for j, v := range vs {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, v)
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"raw_query":`...)
	dst = appendJSONString(dst, d.RawQuery)
	if len(d.Problems) > 0 {
		dst = append(dst, `,"problems":[`...)
		for i, p := range d.Problems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"field":`...)
			dst = appendJSONString(dst, p.Field)
			dst = append(dst, `,"problem":`...)
			dst = appendJSONString(dst, p.Problem)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as encoding/json writes a string: HTML
// characters (<, >, &) and control characters escaped, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// sortedKeys appends m's keys to buf and sorts them: with buf on the
// caller's stack, a delivery's few attributes cost no allocation (this runs
// on every webhook).
func sortedKeys[V any](m map[string]V, buf []string) []string {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}
