package schema

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// checkAgrees fails when CheckLead and ValidateLead disagree on l; ok says
// whether l encodes at all (CheckLead is only defined for those).
func checkAgrees(tb testing.TB, l Lead) (valid, ok bool) {
	tb.Helper()
	b, err := json.Marshal(l)
	if err != nil {
		return false, false
	}
	schemaErr, checkErr := ValidateLead(b), CheckLead(l)
	if (schemaErr == nil) != (checkErr == nil) {
		tb.Fatalf("ValidateLead: %v\nCheckLead: %v\nrecord: %s", schemaErr, checkErr, b)
	}
	return schemaErr == nil, true
}

func validLeads(tb testing.TB) []Lead {
	tb.Helper()
	aurora, err := LeadFromAurora(auroraLeadEvent(tb, testTenant), testTenant, AuroraWebhook{Source: "lcai"}, readTestdata(tb, "aurora-retrieve-lead.json"))
	if err != nil {
		tb.Fatal(err)
	}
	leads := []Lead{aurora}
	for _, f := range []string{"leadpro-lead-created.json", "leadpro-lead-updated.json"} {
		l, err := LeadFromLeadPro(leadProEvent(tb, readTestdata(tb, f)))
		if err != nil {
			tb.Fatal(err)
		}
		leads = append(leads, l)
	}
	return leads
}

// Every rule CheckLead adds, broken one at a time on each golden lead:
// both checks refuse it (and accept the golden itself).
func TestCheckLeadEqualsSchemaOnEachRule(t *testing.T) {
	breaks := map[string]func(l *Lead){
		"none":                    func(*Lead) {},
		"empty key":               func(l *Lead) { l.Key = "" },
		"key of another lead":     func(l *Lead) { l.Key += "x" },
		"other provider's key":    func(l *Lead) { l.Key = strings.Replace(l.Key, l.Provider, "hubspot", 1) },
		"unknown provider":        func(l *Lead) { l.Provider = "hubspot" },
		"empty provider":          func(l *Lead) { l.Provider = "" },
		"empty lead_id":           func(l *Lead) { l.LeadID = "" },
		"empty status":            func(l *Lead) { l.Status = "" },
		"both tenant and account": func(l *Lead) { l.TenantID, l.AccountID = "t1", "a1" },
		"neither tenant nor acct": func(l *Lead) { l.TenantID, l.AccountID = "", "" },
		"type":                    func(l *Lead) { l.Type = "sale" },
		"property":                func(l *Lead) { l.Property = Address{Postcode: "N1"} },
		"property coordinates":    func(l *Lead) { l.Property = Address{Latitude: "1.5"} },
		"project_id":              func(l *Lead) { l.ProjectID = "p1" },
		"contact address":         func(l *Lead) { l.Contact.Address = "1 Main St" },
		"bad created_at":          func(l *Lead) { l.CreatedAt = "2022-07-07 21:16:20Z" },
		"bad updated_at":          func(l *Lead) { l.UpdatedAt = "yesterday" },
		"leap second":             func(l *Lead) { l.UpdatedAt = "2016-12-31T23:59:60Z" },
		"misplaced leap second":   func(l *Lead) { l.UpdatedAt = "2016-12-31T22:59:60Z" },
		"offset date-time":        func(l *Lead) { l.CreatedAt = "2022-07-07t21:16:20.5+01:00" },
		"empty source_event.id":   func(l *Lead) { l.SourceEvent.ID = "" },
		"empty source_event.type": func(l *Lead) { l.SourceEvent.Type = "" },
		"empty source_event.time": func(l *Lead) { l.SourceEvent.Time = "" },
		"bad source_event.time":   func(l *Lead) { l.SourceEvent.Time = "2026-02-30T10:00:00Z" },
		"empty problem field":     func(l *Lead) { l.ValidationProblems = []ValidationProblem{{Field: "", Problem: "x"}} },
		"empty problem":           func(l *Lead) { l.ValidationProblems = []ValidationProblem{{Field: "x", Problem: ""}} },
		"a problem":               func(l *Lead) { l.ValidationProblems = []ValidationProblem{{Field: "x", Problem: "y"}} },
		"no provider_fields":      func(l *Lead) { l.ProviderFields = nil },
		"array provider_fields":   func(l *Lead) { l.ProviderFields = json.RawMessage(`[{}]`) },
		"string provider_fields":  func(l *Lead) { l.ProviderFields = json.RawMessage(`"{}"`) },
		"spaced provider_fields":  func(l *Lead) { l.ProviderFields = json.RawMessage(" \n{}") },
	}
	for _, base := range validLeads(t) {
		if valid, _ := checkAgrees(t, base); !valid {
			t.Fatalf("golden %s is not valid", base.Key)
		}
		for name, breakIt := range breaks {
			t.Run(base.Provider+"/"+name, func(t *testing.T) {
				l := base
				l.ValidationProblems = slices.Clone(l.ValidationProblems)
				breakIt(&l)
				checkAgrees(t, l)
			})
		}
	}
}

// The struct's JSON names are exactly the schema's properties, at every
// level: that is what lets CheckLead skip additionalProperties and types.
func TestLeadStructIsSchemaProperties(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(leadSchemaJSON, &doc); err != nil {
		t.Fatal(err)
	}
	props := func(obj any) []string {
		var names []string
		for name := range obj.(map[string]any)["properties"].(map[string]any) {
			names = append(names, name)
		}
		slices.Sort(names)
		return names
	}
	fields := func(v any) []string {
		var names []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			names = append(names, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
		}
		slices.Sort(names)
		return names
	}
	top := doc["properties"].(map[string]any)
	addr := doc["$defs"].(map[string]any)["address"]
	for _, c := range []struct {
		what   string
		schema any
		value  any
	}{
		{"lead", doc, Lead{}},
		{"contact", top["contact"], Contact{}},
		{"address", addr, Address{}},
		{"source_event", top["source_event"], SourceEvent{}},
		{"validation_problems item", top["validation_problems"].(map[string]any)["items"], ValidationProblem{}},
	} {
		if got, want := fields(c.value), props(c.schema); !slices.Equal(got, want) {
			t.Errorf("%s: struct fields %v, schema properties %v", c.what, got, want)
		}
		if c.schema.(map[string]any)["additionalProperties"] != false {
			t.Errorf("%s: the schema allows additional properties; CheckLead assumes it does not", c.what)
		}
	}
}

// Random leads built from values near every rule's edge: both checks agree
// on each, and both verdicts occur often.
func TestCheckLeadEqualsSchemaOnRandomLeads(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 12))
	var valid, invalid int
	for range 4000 {
		if ok, encodes := checkAgrees(t, randomLead(rng, validLeads(t))); encodes && ok {
			valid++
		} else if encodes {
			invalid++
		}
	}
	if valid < 200 || invalid < 200 {
		t.Fatalf("%d valid and %d invalid leads: the generator misses one side", valid, invalid)
	}
}

func FuzzCheckLead(f *testing.F) {
	f.Add(uint64(1), "aurora:t:1", "t", "", "1", "2022-07-07T21:16:20.411Z", "{}")
	f.Add(uint64(2), "leadpro:9:1", "", "9", "1", "2016-12-31T23:59:60+00:00", `{"a":1}`)
	f.Fuzz(func(t *testing.T, seed uint64, key, tenant, account, leadID, when, fields string) {
		bases := validLeads(t)
		l := bases[seed%uint64(len(bases))]
		l.Key, l.TenantID, l.AccountID, l.LeadID = key, tenant, account, leadID
		l.UpdatedAt, l.SourceEvent.Time = when, when
		l.ProviderFields = json.RawMessage(fields)
		checkAgrees(t, l)
		checkAgrees(t, randomLead(rand.New(rand.NewPCG(seed, 0)), bases))
	})
}

// randomLead changes a few fields of one of bases to values picked at the
// edges of the schema's rules.
func randomLead(rng *rand.Rand, bases []Lead) Lead {
	l := bases[rng.IntN(len(bases))]
	l.ValidationProblems = slices.Clone(l.ValidationProblems)
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	times := []string{"", "2022-07-07T21:16:20Z", "2022-07-07T21:16:20.411Z", "2022-07-07t21:16:20z",
		"2022-07-07T21:16:20+05:30", "2022-07-07T21:16:20-24:00", "2022-07-07T21:16:20", "2022-13-07T21:16:20Z",
		"2016-12-31T23:59:60Z", "2016-12-31T23:59:60-01:00", "2016-12-31T22:59:60-01:00", "2022-07-07T21:16:20.Z",
		"2022-07-07T21:16:20.5\xffZ", "\xff2022-07-07T21:16:20Z", "2022-07-07T21:16:2Z"}
	ids := []string{"", "1", "t", "a:b", "\xff", "é", " "}
	for range 1 + rng.IntN(3) {
		switch rng.IntN(14) {
		case 0:
			l.Provider = pick(ProviderAurora, ProviderLeadPro, "", "other")
		case 1:
			l.TenantID = pick(ids...)
		case 2:
			l.AccountID = pick(ids...)
		case 3:
			l.LeadID = pick(ids...)
		case 4: // a key that matches, or nearly
			owner := l.TenantID
			if l.Provider == ProviderLeadPro {
				owner = l.AccountID
			}
			l.Key = pick(l.Provider+":"+owner+":"+l.LeadID, "", l.Key, "aurora:"+owner+":"+l.LeadID, "leadpro:"+owner+":"+l.LeadID, l.Key+"\n")
		case 5:
			l.Status = pick("", "open", "\xff")
		case 6:
			l.Type = pick("", "sale")
			l.ProjectID = pick("", "p")
		case 7:
			l.Contact.Address = pick("", "x")
			l.Contact.Email = pick("", "not an email")
		case 8:
			l.Property = [](Address){{}, {Line: "x"}, {Latitude: "1e3"}}[rng.IntN(3)]
		case 9:
			l.CreatedAt, l.UpdatedAt = pick(times...), pick(times...)
		case 10:
			l.SourceEvent.Time = pick(times...)
		case 11:
			l.SourceEvent.ID, l.SourceEvent.Type = pick(ids...), pick(ids...)
		case 12:
			l.ValidationProblems = append(l.ValidationProblems, ValidationProblem{Field: pick(ids...), Problem: pick(ids...)})
		case 13:
			l.ProviderFields = json.RawMessage(pick("", "{}", "[]", "null", " {\"a\":[1]}", `"x"`, "1", "{"))
		}
	}
	return l
}

// libraryDateTime is the schema library's own date-time format check, the
// one ValidateLead applies.
var libraryDateTime = sync.OnceValue(func() *jsonschema.Schema {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("date-time.json", map[string]any{"format": "date-time"}); err != nil {
		panic(err)
	}
	return c.MustCompile("date-time.json")
})

func dateTimeAgrees(t *testing.T, s string) bool {
	t.Helper()
	want := libraryDateTime().Validate(s) == nil
	if got := isDateTime(s); got != want {
		t.Fatalf("isDateTime(%q) = %v, the schema library says %v", s, got, want)
	}
	return want
}

var dateTimeSeeds = []string{
	"2022-07-07T21:16:20Z", "2022-07-07T21:16:20.411Z", "2026-11-22T10:00:00.123456789Z", "2022-07-07t21:16:20z",
	"2022-07-07T21:16:20+05:30", "2022-07-07T21:16:20-23:59", "2022-07-07T21:16:20-24:00", "2022-07-07T21:16:20+00:60",
	"2016-12-31T23:59:60Z", "2016-12-31T23:59:60-00:00", "2016-12-31T22:59:60-01:00", "2016-12-31T23:59:60-01:00",
	"2017-01-01T00:59:60+01:00", "2016-12-31T23:59:61Z", "2022-07-07T24:00:00Z", "2022-07-07T21:60:00Z",
	"2022-07-07T21:16:20.Z", "2022-07-07T21:16:20.5", "2022-07-07T21:16:20", "2022-07-07 21:16:20Z",
	"2022-13-07T21:16:20Z", "2022-02-29T21:16:20Z", "2024-02-29T21:16:20Z", "2022-7-07T21:16:20Z",
	"2022-07-07T+1:16:20Z", "2022-07-07T-0:16:20Z", "2022-07-07T-1:16:20Z", "2022-07-07T21:16:20+-1:00",
	"2022-07-07T21:16:20+1::00", "2022-07-07T21:16:20+01:+5", "2022-07-07T2::16:20Z", "2022-07-07T21:16:2Z",
	"2022-07-07T21:16:20.5\xffZ", "\xff2022-07-07T21:16:20Z", "2022-07-07T21:16:20.١Z", "", "2022-07-07T",
	// The date alone: leap years by 4, 100 and 400, month lengths, zeros, signs.
	"2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "0000-02-29T00:00:00Z", "2100-02-28T00:00:00Z",
	"2022-04-31T00:00:00Z", "2022-04-30T00:00:00Z", "2022-12-31T00:00:00Z", "2022-00-10T00:00:00Z",
	"2022-01-00T00:00:00Z", "+022-01-01T00:00:00Z", "2022-+1-01T00:00:00Z", "2022-01-+1T00:00:00Z",
}

func TestIsDateTimeIsTheSchemaFormat(t *testing.T) {
	var valid int
	for _, s := range dateTimeSeeds {
		if dateTimeAgrees(t, s) {
			valid++
		}
	}
	if valid < 10 || valid == len(dateTimeSeeds) {
		t.Fatalf("%d of %d seeds valid: the seeds miss one side", valid, len(dateTimeSeeds))
	}
}

func FuzzIsDateTime(f *testing.F) {
	for _, s := range dateTimeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { dateTimeAgrees(t, s) })
}
