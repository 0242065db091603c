package schema

import (
	"iter"
	"maps"
	"slices"
	"strings"
)

// AuroraEvent describes one webhook event of Aurora's event list ("All
// available webhook events"): the URL attributes its suggested template
// carries, as the lower-case query names leadbridge reads. It is read-only:
// the tables behind it cannot be changed from outside the package.
type AuroraEvent struct {
	name  string
	attrs []string // every URL attribute of the event, in the doc's order
}

// Name is the event's name, e.g. lead_created.
func (e AuroraEvent) Name() string { return e.name }

// Attributes yields every URL attribute of the event, in the doc's order.
func (e AuroraEvent) Attributes() iter.Seq[string] { return slices.Values(e.attrs) }

// HasAttribute reports whether a is one of the event's URL attributes.
func (e AuroraEvent) HasAttribute(a string) bool { return slices.Contains(e.attrs, a) }

// Required lists the id attributes of the event, those that name an object
// (a new slice). Status, source, asset_type and attributes are
// informational.
func (e AuroraEvent) Required() []string {
	var ids []string
	for _, a := range e.attrs {
		if strings.HasSuffix(a, "_id") {
			ids = append(ids, a)
		}
	}
	return ids
}

// AuroraAttributes returns the URL attributes of Aurora's suggested
// templates, as the lower-case query names leadbridge reads (a new slice).
func AuroraAttributes() []string { return slices.Clone(auroraAttributes) }

var auroraAttributes = []string{
	"lead_id", "project_id", "design_id", "job_id", "status", "source", "asset_id",
	"asset_type", "agreement_id", "ahj_id", "app_id", "plan_set_request_id",
	"site_survey_request_id", "site_survey_id", "design_request_id", "attributes",
}

// auroraEvents is every event Aurora documents, by name.
var auroraEvents = func() map[string]AuroraEvent {
	m := make(map[string]AuroraEvent)
	for _, e := range []AuroraEvent{
		{"agreement_status_changed", []string{"project_id", "agreement_id", "status"}},
		{"ahj_lookup_completed", []string{"project_id", "ahj_id", "status"}},
		{"app_status_changed", []string{"app_id", "status"}},
		{"asset_created", []string{"design_id", "asset_id", "asset_type"}},
		{"auto_designer_job_completed", []string{"design_id", "job_id", "status", "source"}},
		{"consumption_profile_changed", []string{"project_id"}},
		{"design_created", []string{"project_id", "design_id", "source"}},
		{"design_deleted", []string{"project_id", "design_id"}},
		{"design_request_completed", []string{"design_request_id", "status"}},
		{"design_request_created", []string{"design_request_id", "source"}},
		{"design_request_rejected", []string{"design_request_id", "status"}},
		{"fire_pathway_placement_job_completed", []string{"design_id", "job_id", "status", "source"}},
		{"lead_changed", []string{"lead_id"}},
		{"lead_converted", []string{"lead_id", "project_id"}},
		{"lead_created", []string{"lead_id", "source"}},
		{"lead_solar_estimation_job_completed", []string{"lead_id", "job_id", "status"}},
		{"panel_irradiance_analysis_job_completed", []string{"design_id", "job_id", "status", "source"}},
		{"performance_simulation_job_completed", []string{"design_id", "job_id", "status", "source"}},
		{"plan_set_request_status_changed", []string{"plan_set_request_id", "status"}},
		{"project_changed", []string{"project_id", "source", "attributes"}},
		{"project_created", []string{"project_id", "source"}},
		{"project_deleted", []string{"project_id", "source"}},
		{"project_status_changed", []string{"project_id", "status"}},
		{"site_survey_requested", []string{"site_survey_request_id"}},
		{"site_survey_status_changed", []string{"site_survey_id", "status"}},
		{"web_proposal_url_created", []string{"design_id", "source"}},
	} {
		m[e.name] = e
	}
	return m
}()

// AuroraEventNamed returns the event of Aurora's list called name.
func AuroraEventNamed(name string) (AuroraEvent, bool) {
	e, ok := auroraEvents[name]
	return e, ok
}

// AuroraEventNames returns the names of every event Aurora documents,
// sorted (a new slice).
func AuroraEventNames() []string { return slices.Sorted(maps.Keys(auroraEvents)) }

// IsAuroraAttribute reports whether name is one of AuroraAttributes.
func IsAuroraAttribute(name string) bool { return slices.Contains(auroraAttributes, name) }

// AuroraLeadEvents returns the Aurora events about a lead, the ones enrich
// turns into lead records through Retrieve Lead (a new slice).
func AuroraLeadEvents() []string { return slices.Clone(auroraLeadEvents) }

var auroraLeadEvents = []string{"lead_created", "lead_changed", "lead_converted", "lead_solar_estimation_job_completed"}

// IsAuroraLeadEvent reports whether name is one of AuroraLeadEvents.
func IsAuroraLeadEvent(name string) bool { return slices.Contains(auroraLeadEvents, name) }

// auroraMainIDs orders the id attributes by how well they name the object an
// event is about; the first one present is the event's subject and key.
var auroraMainIDs = []string{
	"lead_id", "project_id", "design_id", "design_request_id", "plan_set_request_id",
	"site_survey_request_id", "site_survey_id", "agreement_id", "asset_id", "job_id",
	"ahj_id", "app_id",
}

// AuroraMainID returns the main id of a delivery's attributes: lead_id, else
// project_id, design_id, and so on. ok is false when no id attribute is present
// (possible only for an event Aurora added after our table was written).
func AuroraMainID(attrs map[string]string) (id string, ok bool) {
	for _, name := range auroraMainIDs {
		if v, found := attrs[name]; found && v != "" {
			return v, true
		}
	}
	return "", false
}

// ValidAuroraEventName reports whether name has the form of an Aurora event
// name, [a-z0-9_]{1,64}, whether or not leadbridge knows it. (A loop, not a
// regexp: it runs on every delivery.)
func ValidAuroraEventName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
