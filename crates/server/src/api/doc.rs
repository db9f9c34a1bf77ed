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
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AtQuery {
    /// The as-of date, YYYY-MM-DD (default today): nothing after it is counted.
    #[param(format = Date)]
    pub at: Option<String>,
}

/// A report's output format.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FormatQuery {
    /// `json` (default) or `csv` (UTF-8, one row per line).
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RangeQuery {
    /// First day, YYYY-MM-DD.
    #[param(format = Date)]
    pub from: String,
    /// Last day, YYYY-MM-DD (cut at the as-of date; the answer keeps `requested_to`).
    #[param(format = Date)]
    pub to: String,
    /// segment, touch_model, product, partner or owner (adds a `group`; "all" first).
    #[param(pattern = "^(segment|touch_model|product|partner|owner)$")]
    pub by: Option<String>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MonthRangeQuery {
    /// First month, YYYY-MM.
    #[param(pattern = r"^\d{4}-\d{2}$")]
    pub from: String,
    /// Last month, YYYY-MM.
    #[param(pattern = r"^\d{4}-\d{2}$")]
    pub to: String,
    /// segment, touch_model, product, partner or owner.
    #[param(pattern = "^(segment|touch_model|product|partner|owner)$")]
    pub by: Option<String>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CohortQuery {
    /// month (default), quarter or year.
    #[param(pattern = "^(month|quarter|year)$")]
    pub period: Option<String>,
    /// logos (default) or mrr.
    #[param(pattern = "^(logos|mrr)$")]
    pub measure: Option<String>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct LtvQuery {
    /// month (default), quarter or year.
    #[param(pattern = "^(month|quarter|year)$")]
    pub period: Option<String>,
    /// Annual discount rate, 0 to 10 (default 0.1).
    pub discount_rate: Option<f64>,
    /// Gross margin, 0 to 1 (default 1).
    pub margin: Option<f64>,
    /// Renewals already made counted in DERL (default 1).
    pub renewals: Option<u32>,
    /// segment, touch_model, product, partner or owner.
    #[param(pattern = "^(segment|touch_model|product|partner|owner)$")]
    pub by: Option<String>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ByQuery {
    /// segment, touch_model, product, partner or owner.
    #[param(pattern = "^(segment|touch_model|product|partner|owner)$")]
    pub by: Option<String>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DashboardQuery {
    /// First month, YYYY-MM (default: eleven months before `to`).
    #[param(pattern = r"^\d{4}-\d{2}$")]
    pub from: Option<String>,
    /// Last month, YYYY-MM (default: the month of `at`).
    #[param(pattern = r"^\d{4}-\d{2}$")]
    pub to: Option<String>,
}

/// Observation window of backtests, calibration and forecasts.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct WindowQuery {
    /// First observation date, YYYY-MM-DD.
    #[param(format = Date)]
    pub from: String,
    /// Last observation date, YYYY-MM-DD (cut to the as-of date minus the horizon).
    #[param(format = Date)]
    pub to: String,
    /// Days between observation dates, `7d` or `7` (default 7d); at most 104 dates over HTTP.
    #[param(pattern = r"^[0-9]+d?$")]
    pub every: Option<String>,
    /// Days after each observation in which churn counts, `28d` (default).
    #[param(pattern = r"^[0-9]+d?$")]
    pub horizon: Option<String>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CalibrateQuery {
    /// Usage metrics to fit on, comma-separated (default every defined one).
    pub metrics: Option<String>,
    /// L2 penalty, 0.0001 to 10000 (default 1).
    pub l2: Option<f64>,
    /// Name of the proposed scorecard (default `calibrated`).
    pub name: Option<String>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SaveQuery {
    /// Save the proposed scorecard under this name.
    pub save: Option<String>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ScorecardQuery {
    /// The scorecard to replay (default `default`).
    pub scorecard: Option<String>,
}
