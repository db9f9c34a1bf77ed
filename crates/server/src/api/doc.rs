//! The API document (OpenAPI 3.1), generated from the handlers' `#[utoipa::path]` annotations
//! and the types they return: `GET /api/v1/openapi.json` and `kizuna openapi`. What is shared by
//! many routes lives here: security schemes, the error body and the query parameters.

use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kizuna API",
        description = "Customer success figures, accounts and health scores (`/api/v1`), and Segment-compatible usage ingestion (`/v1`). \
                       Read with an API key (`Authorization: Bearer KEY`, `kizuna keys create`) or a signed-in session; \
                       write usage with a write key as the Basic user name. Every figure is defined in docs/metrics.md.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&Security),
    tags(
        (name = "accounts", description = "Accounts, their timeline and health"),
        (name = "ctas", description = "Calls to action: work on accounts with playbooks, and the daily signals that open them"),
        (name = "onboarding", description = "Onboarding plans per product, their completion-rate KPI and what onboarding does to churn"),
        (name = "metrics", description = "Revenue and retention reports, as of a date"),
        (name = "health", description = "Health scores: scorecards, runs, backtests, calibration, forecast"),
        (name = "usage", description = "Usage metrics, definitions and alerts"),
        (name = "planning", description = "Capacity, hiring, budget, maturity and funnel plans"),
        (name = "admin", description = "Who is calling, the audit log, the document itself"),
        (name = "ingestion", description = "Segment-compatible tracking API (write keys)"),
    )
)]
pub struct ApiDoc;

/// The three ways to call: an API key, a write key (ingestion), a signed-in session.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An API key: `kizuna keys create`. Read-only.")).build()),
        );
        components.add_security_scheme(
            "write_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).description(Some("A write key as the Basic user name, empty password (as Segment's SDKs send it).")).build()),
        );
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description("kizuna_session", "A signed-in session (the web app)."))));
    }
}

/// Answers the edge layer (`edge.rs`) may give before any handler runs, on every route: 400 for
/// a request line with a control character or over the length limits, 413 for a body over
/// the route's limit. Added to each operation that does not list them already.
pub struct EdgeErrors;

impl Modify for EdgeErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        for (path, item) in openapi.paths.paths.iter_mut() {
            let body = if path.starts_with("/v1/") { "IngestErrorBody" } else { "ErrorBody" };
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                let mut add = |code: &str, why: &str| {
                    if !op.responses.responses.contains_key(code) {
                        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(body))).build();
                        let answer = ResponseBuilder::new().description(why).content("application/json", content).build();
                        op.responses.responses.insert(code.to_string(), answer.into());
                    }
                };
                add("400", "The request line holds a control character or is too long, or a parameter is wrong");
                if op.request_body.is_some() {
                    add("413", "The body is over the route's limit");
                }
            }
        }
    }
}

/// Every error of `/api/v1`: the message in the caller's language (`Accept-Language`) and the
/// request's id, which the server log carries on every line about the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub request_id: Option<String>,
}

/// Errors of `/v1`, as Segment's and RudderStack's libraries read them.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestErrorBody {
    pub success: bool,
    pub code: String,
    pub message: String,
    pub error: String,
    pub request_id: Option<String>,
}

/// `as of` (default today, in the business time zone).
#[derive(Debug, Default, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    /// The as-of date, YYYY-MM-DD (default today): nothing after it is counted.
    #[param(format = Date)]
    pub at: Option<String>,
}

/// A report's output format.
#[derive(Debug, Default, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (default) or `csv` (UTF-8, one row per line).
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}










kizuna_app::lookup!(AtQuery { at });
kizuna_app::lookup!(FormatQuery { format });
