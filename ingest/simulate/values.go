package simulate

// documented holds, per Aurora event, a documented value of each URL
// attribute that is not an id (ids get a new UUID per delivery, see
// newIDs), so a simulated delivery is one Aurora could send and ingest
// flags nothing. The quotes are from Aurora's webhook events reference.
var documented = map[string]map[string]string{
	// its filter values: sent, viewed, signed, cancel-pending, canceled, declined, error
	"agreement_status_changed": {"status": "signed"},
	// "One of succeeded, failed"
	"ahj_lookup_completed": {"status": "succeeded"},
	// "The <STATUS> field can have a value of enabled or disabled."
	"app_status_changed": {"status": "enabled"},
	// "One of Design DXF, Design Layout, CAD Screenshot, ..."
	"asset_created": {"asset_type": "Design Layout"},
	// status, its filter values: succeeded, failed; source, "One of app, api"
	"auto_designer_job_completed": {"status": "succeeded", "source": "app"},
	// "One of app, api, or expert_design_service"
	"design_created": {"source": "app"},
	// "Fires upon design request status changing to designer_completed."
	"design_request_completed": {"status": "designer_completed"},
	// "One of app, api"
	"design_request_created": {"source": "app"},
	// "Fires upon design request status changing to designer_rejected."
	"design_request_rejected": {"status": "designer_rejected"},
	// status, its filter values: succeeded, failed; source, only "api"
	"fire_pathway_placement_job_completed": {"status": "succeeded", "source": "api"},
	// "The SOURCE of a lead can either be lcai or api based on if the lead
	// was made through LCAI or manually via API": a new lead comes from
	// Lead Capture AI.
	"lead_created": {"source": "lcai"},
	// its filter values: succeeded, failed
	"lead_solar_estimation_job_completed": {"status": "succeeded"},
	// status, its filter values: succeeded, failed; source, "One of app, api"
	"panel_irradiance_analysis_job_completed": {"status": "succeeded", "source": "app"},
	"performance_simulation_job_completed":    {"status": "succeeded", "source": "app"},
	// its filter values: submitted, completed, rejected
	"plan_set_request_status_changed": {"status": "submitted"},
	// source, "One of app, api"; attributes, "Comma separated list of the
	// attributes that were modified" (status is one of those it fires on)
	"project_changed": {"source": "app", "attributes": "status"},
	// "One of app, api"
	"project_created": {"source": "app"},
	"project_deleted": {"source": "app"},
	// "Unlike other webhook statuses, a project status can be any string."
	"project_status_changed": {"status": "Design Completed"},
	// "Currently only supports completed status."
	"site_survey_status_changed": {"status": "completed"},
	// "One of app, api"
	"web_proposal_url_created": {"source": "app"},
}
