use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A message people read, by i18n key: the API answers in English, pages in the reader's
/// language. Arguments fill `%{name}`; a [`Arg::Key`] argument is itself translated.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub key: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Key(String),
    /// Already said in each language: (English, Japanese).
    Said(String, String),
}

impl Msg {
    pub fn new(key: &'static str) -> Self {
        Msg { key, args: Vec::new() }
    }

    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, Arg::Text(value.to_string())));
        self
    }

    /// An argument shown by its translation (`role.csm` → CSM).
    pub fn arg_key(mut self, name: &'static str, key: impl ToString) -> Self {
        self.args.push((name, Arg::Key(key.to_string())));
        self
    }

    pub fn render(&self, lang: &str) -> String {
        let mut text = crate::i18n::t(self.key, lang);
        for (name, value) in &self.args {
            let v = match value {
                Arg::Text(t) => t.clone(),
                Arg::Key(k) => crate::i18n::t(k, lang),
                Arg::Said(en, ja) => if lang == "ja" { ja.clone() } else { en.clone() },
            };
            text = text.replace(&format!("%{{{name}}}"), &v);
        }
        text
    }
}

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render("en"))
    }
}

/// The one error type handlers return; it becomes the HTTP response (JSON for the API; pages
/// turn it into an HTML page in the reader's language, see `views::html_errors`).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or body field is wrong; the message names it and what was expected.
    #[error("{0}")]
    BadRequest(String),
    /// Bad input described for people (400).
    #[error("{0}")]
    Invalid(Msg),
    /// Not allowed (403).
    #[error("{0}")]
    Denied(Msg),
    /// Not there, or not visible to this principal (404).
    #[error("{0}")]
    Missing(Msg),
    /// Was there and is no more: an expired shared link (410).
    #[error("{0}")]
    Gone(Msg),
    /// Changed by someone else since the caller read it (409): read it again.
    #[error("{0}")]
    Conflict(Msg),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The request body is over its route's limit (413).
    #[error("{0}")]
    TooLarge(Msg),
    /// Too many attempts or too much at once from this caller; retry after that many seconds (429).
    #[error("{0}")]
    TooMany(Msg, u64),
    /// Expensive work the server will not start or finish now: at its limit, or past the time
    /// limit (503, with the reason shown: it is the caller's to act on).
    #[error("{0}")]
    Busy(Msg),
    /// A body in an encoding the server does not read (415).
    #[error("{0}")]
    UnsupportedEncoding(String),
    #[error(transparent)]
    Store(#[from] kizuna_store::StoreError),
    /// A use case's error not described for people (a parameter's problem, in English).
    #[error(transparent)]
    App(kizuna_app::AppError),
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
    /// A failure that is not the caller's (500); logged, not shown.
    #[error("{0}")]
    Internal(String),
    /// The database cannot take writes for now (503 with `Retry-After`): the same request may
    /// succeed later. Logged, not shown.
    #[error("{0}")]
    Unavailable(String),
}

impl From<kizuna_app::AppError> for ApiError {
    /// Each of the application's errors as the reader is told it (by i18n key) and its status.
    fn from(e: kizuna_app::AppError) -> Self {
        use kizuna_app::accounts::ActivityError;
        use kizuna_app::users::UserError;
        use kizuna_app::planning::PlanError;
        use kizuna_app::{AppError, Denied};
        match e {
            AppError::Denied(Denied::KeyReadOnly) => ApiError::Denied(Msg::new("err.key_read_only")),
            AppError::Denied(Denied::Role(role)) => ApiError::Denied(Msg::new("err.forbidden").arg_key("role", format!("role.{role}"))),
            AppError::AccountNotFound(id) => ApiError::Missing(Msg::new("err.account_not_found").arg("id", id)),
            AppError::NotPaying { id, at } => ApiError::Missing(Msg::new("err.not_paying").arg("id", id).arg("at", at)),
            AppError::Activity(a) => ApiError::Invalid(match a {
                ActivityError::Kind(v) => Msg::new("err.activity_kind").arg("value", v),
                ActivityError::Empty => Msg::new("err.activity_empty"),
                ActivityError::TooLong => Msg::new("err.activity_long"),
                ActivityError::Visibility(v) => Msg::new("err.activity_visibility").arg("value", v),
                ActivityError::Time(v) => Msg::new("err.timestamp").arg("field", "occurred_at").arg("value", v),
            }),
            AppError::User(u) => match u {
                UserError::Email(_) => ApiError::Invalid(Msg::new("err.email")),
                UserError::PartnerNeeded => ApiError::Invalid(Msg::new("err.partner_required")),
                UserError::Password(p) => password_error(p),
                UserError::Exists(email) => ApiError::Invalid(Msg::new("err.user_exists").arg("email", email)),
                UserError::NoUser(email) => ApiError::Invalid(Msg::new("err.no_user").arg("email", email)),
                UserError::SelfDemote => ApiError::Invalid(Msg::new("err.self_demote")),
                UserError::SelfDeactivate => ApiError::Invalid(Msg::new("err.self_deactivate")),
            },
            AppError::Cta(c) => {
                use kizuna_app::ctas::CtaError;
                match c {
                    CtaError::NotFound(id) => ApiError::Missing(Msg::new("err.cta_not_found").arg("id", id)),
                    CtaError::UnknownType(t) => ApiError::Invalid(Msg::new("err.cta_type").arg("value", t)),
                    CtaError::UnknownReason(t, r) => ApiError::Invalid(Msg::new("err.cta_reason").arg("type", t).arg("value", r)),
                    CtaError::AlreadyOpen { account, cta_id } => ApiError::Invalid(Msg::new("err.cta_open").arg("account", account).arg("id", cta_id)),
                    CtaError::SnoozeNeedsDate => ApiError::Invalid(Msg::new("err.cta_snooze")),
                    CtaError::CloseNeedsOutcome => ApiError::Invalid(Msg::new("err.cta_outcome")),
                    CtaError::Field { field, value, expected } => ApiError::Invalid(Msg::new("err.cta_field").arg("field", field).arg("value", value).arg("expected", expected)),
                    CtaError::NoTask(n) => ApiError::Invalid(Msg::new("err.cta_task").arg("id", n)),
                    CtaError::TooLong(field) => ApiError::Invalid(Msg::new("err.cta_long").arg("field", field)),
                    CtaError::Changed { cta_id, at, revision } => {
                        ApiError::Conflict(Msg::new("err.cta_changed").arg("id", cta_id).arg("at", at).arg("revision", revision))
                    }
                }
            }
            AppError::Onboarding(o) => {
                use kizuna_app::onboarding::OnboardingError;
                match o {
                    OnboardingError::NotFound(id) => ApiError::Missing(Msg::new("err.plan_not_found").arg("id", id)),
                    OnboardingError::NoTask { plan, task } => ApiError::Missing(Msg::new("err.plan_task").arg("plan", plan).arg("id", task)),
                    OnboardingError::Blocked { task, waiting_on } => ApiError::Invalid(Msg::new("err.plan_blocked").arg("id", task).arg("waiting", waiting_on)),
                    OnboardingError::NoTemplate(id) => ApiError::Invalid(Msg::new("err.plan_template").arg("id", id)),
                    // The problem's text first: its `%{value}` is filled by the argument after it.
                    OnboardingError::Template(e) => ApiError::Invalid(
                        match &e.task {
                            Some(task) => Msg::new("err.plan_template_task_bad").arg("template", format!("{:?}", e.template)).arg("task", format!("{task:?}")),
                            None => Msg::new("err.plan_template_bad").arg("template", format!("{:?}", e.template)),
                        }
                        .arg_key("problem", e.problem.key())
                        .arg("value", e.problem.value().unwrap_or_default()),
                    ),
                    OnboardingError::LinkInvalid => ApiError::Missing(Msg::new("err.link_invalid")),
                    OnboardingError::LinkExpired(day) => ApiError::Gone(Msg::new("err.link_expired").arg("day", day)),
                    OnboardingError::Cancelled(id) => ApiError::Invalid(Msg::new("err.plan_cancelled").arg("id", id)),
                }
            }
            AppError::View(v) => {
                use kizuna_app::accounts::ViewError;
                match v {
                    ViewError::Name => ApiError::Invalid(Msg::new("err.view_name")),
                    ViewError::TooLong => ApiError::Invalid(Msg::new("err.view_long")),
                    ViewError::Query(why) => ApiError::Invalid(Msg::new("err.view_query").arg("why", why)),
                    ViewError::NotFound(id) => ApiError::Missing(Msg::new("err.view_not_found").arg("id", id)),
                }
            }
            AppError::NoKey(id) => ApiError::Invalid(Msg::new("err.no_key").arg("id", id)),
            AppError::Plan(PlanError::NotFound(name)) => ApiError::Missing(Msg::new("err.scenario_not_found").arg("name", format!("{name:?}"))),
            AppError::Plan(PlanError::Name(name)) => ApiError::Invalid(Msg::new("err.scenario_name").arg("name", format!("{name:?}"))),
            AppError::Plan(PlanError::Scenario(e)) => ApiError::Invalid(scenario_error(&e)),
            AppError::Plan(other) => ApiError::BadRequest(other.to_string()),
            // The error's text first: its `%{...}` are filled by the arguments after it.
            AppError::Playbooks(e) => ApiError::Invalid(e.args().into_iter().fold(Msg::new("err.cta_config").arg_key("problem", e.key()), |m, (name, v)| m.arg(name, v))),
            AppError::Scorecards(e) => ApiError::Invalid(scorecard_error(&e)),
            AppError::Usage(e) => ApiError::Invalid(e.args().into_iter().fold(Msg::new(e.key()), |m, (name, v)| m.arg(name, v))),
            AppError::Journey(e) => ApiError::Invalid(e.args().into_iter().fold(Msg::new("err.journey").arg_key("problem", e.key()), |m, (name, v)| m.arg(name, v))),
            AppError::Config(text) => ApiError::BadRequest(text),
            AppError::Param(e) => ApiError::Invalid(param_msg(&e)),
            AppError::Store(s) => ApiError::Store(s),
        }
    }
}

/// Scorecards that cannot be used, said in the reader's language. The problem's text goes in
/// first: its `%{...}` are filled by the arguments after it.
fn scorecard_error(e: &kizuna_domain::health::ScorecardError) -> Msg {
    use kizuna_domain::health::ScorecardError;
    let msg = match e {
        ScorecardError::Toml(detail) => return Msg::new("err.scorecards_toml").arg("detail", detail),
        ScorecardError::Measure { card, input, .. } => Msg::new("err.scorecard_measure").arg("card", format!("{card:?}")).arg("input", format!("{input:?}")),
        ScorecardError::Card { card, .. } => Msg::new("err.scorecard_card").arg("card", format!("{card:?}")),
        ScorecardError::Other(_) => Msg::new("err.scorecards"),
    };
    let problem = e.problem().expect("every error but the TOML reader's has a problem");
    problem.args().into_iter().fold(msg.arg_key("problem", problem.key()), |m, (name, v)| m.arg(name, v))
}

/// A scenario that cannot be used, said as `scenario: <key>: <problem>` in the reader's language.
/// The problem's text goes in first: its `%{...}` are filled by the arguments after it.
fn scenario_error(e: &kizuna_domain::planning::scenario::ScenarioError) -> Msg {
    use kizuna_domain::planning::scenario::ScenarioError;
    match e {
        ScenarioError::Toml(detail) => Msg::new("err.scenario_toml").arg("detail", detail),
        ScenarioError::Invalid { key, problem } => problem
            .args()
            .into_iter()
            .fold(Msg::new("err.scenario_value").arg("key", key).arg_key("problem", problem.key()), |m, (name, v)| m.arg(name, v)),
    }
}

impl From<kizuna_app::ParamError> for ApiError {
    fn from(e: kizuna_app::ParamError) -> Self {
        ApiError::Invalid(param_msg(&e))
    }
}

/// A refused parameter in the reader's language. In English it reads as it always did
/// (`from "2024-13" is not a month (YYYY-MM)`); in Japanese the common problems are said in
/// Japanese, the rare ones stay in English after the Japanese frame.
fn param_msg(e: &kizuna_app::ParamError) -> Msg {
    let ja = param_problem_ja(&e.problem).unwrap_or_else(|| format!(": {}", e.problem));
    let mut msg = Msg::new("err.param").arg("name", &e.name).arg("value", format!("{:?}", e.value));
    msg.args.push(("problem", Arg::Said(e.problem.clone(), ja)));
    msg
}

/// The Japanese of a parameter problem the use cases word the same way each time.
fn param_problem_ja(problem: &str) -> Option<String> {
    let (head, tail) = problem.split_once(':').map_or((problem, ""), |(h, t)| (h, t.trim()));
    Some(match head {
        "is required" => "は必須です".to_string(),
        "is not a date (YYYY-MM-DD)" => "は日付（YYYY-MM-DD）ではありません".to_string(),
        "is not a month (YYYY-MM)" => "は月（YYYY-MM）ではありません".to_string(),
        "is more than 100 years after from" => "は from から100年を超えています".to_string(),
        "is not one of" => format!("は次のいずれかにしてください: {tail}"),
        _ => {
            if let Some(range) = problem.strip_prefix("is not a whole number from ") {
                let (lo, hi) = range.split_once(" to ")?;
                format!("は{lo}〜{hi}の整数にしてください")
            } else if let Some(range) = problem.strip_prefix("is not a number from ") {
                let (lo, hi) = range.split_once(" to ")?;
                format!("は{lo}〜{hi}の数にしてください")
            } else if let Some(rest) = problem.strip_prefix("is before ") {
                format!("は {rest} より前です")
            } else if let Some(rest) = head.strip_prefix("is after the as-of date ") {
                format!("は基準日 {rest} より後です（その後のことはまだ起きていません）")
            } else if let Some(rest) = head.strip_prefix("is after the month of the as-of date ") {
                format!("は基準日 {rest} の月より後です（その後のことはまだ起きていません）")
            } else if head.starts_with("is after today") {
                "は今日より後です（まだ来ていない日です）".to_string()
            } else {
                return None;
            }
        }
    })
}

impl From<kizuna_app::Denied> for ApiError {
    fn from(e: kizuna_app::Denied) -> Self {
        kizuna_app::AppError::Denied(e).into()
    }
}

impl From<kizuna_app::planning::PlanError> for ApiError {
    fn from(e: kizuna_app::planning::PlanError) -> Self {
        kizuna_app::AppError::from(e).into()
    }
}

/// A password the policy refuses, said for people.
pub fn password_error(e: kizuna_domain::access::PasswordError) -> ApiError {
    use kizuna_domain::access::{PasswordError, MIN_PASSWORD_CHARS, MIN_PASSWORD_SCORE};
    match e {
        PasswordError::TooShort(n) => ApiError::Invalid(Msg::new("err.password_short").arg("count", n).arg("min", MIN_PASSWORD_CHARS)),
        PasswordError::Blank => ApiError::Invalid(Msg::new("err.password_blank")),
        PasswordError::Weak(score) => ApiError::Invalid(Msg::new("err.password_weak").arg("score", score).arg("min", MIN_PASSWORD_SCORE)),
        other => ApiError::Internal(other.to_string()),
    }
}

/// Seconds a client is asked to wait before retrying a 503.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Put on error responses so the page layer can show the message in HTML.
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Denied(_) => StatusCode::FORBIDDEN,
            ApiError::Missing(_) => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooMany(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::App(kizuna_app::AppError::Store(e)) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::App(kizuna_app::AppError::Store(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::App(_) => StatusCode::BAD_REQUEST,
            ApiError::Store(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) | ApiError::Template(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What the caller is told: internal details go to the log, not to the browser.
    pub fn public_message(&self) -> String {
        if let ApiError::Busy(m) = self {
            return m.to_string();
        }
        match self.status() {
            StatusCode::SERVICE_UNAVAILABLE => {
                tracing::error!("{self}");
                format!("the database cannot take this request right now (the server log says why); retry in {RETRY_AFTER_SECONDS} seconds")
            }
            s if s.is_server_error() => {
                tracing::error!("{self}");
                "internal error: the server log has the details".to_string()
            }
            _ => self.to_string(),
        }
    }

    /// The headers an answer with this error carries.
    pub fn headers(&self, h: &mut header::HeaderMap) {
        if let ApiError::TooMany(_, secs) = self {
            h.insert(header::RETRY_AFTER, header::HeaderValue::from((*secs).max(1)));
        }
        match self.status() {
            StatusCode::UNAUTHORIZED => drop(h.insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"))),
            StatusCode::SERVICE_UNAVAILABLE => drop(h.insert(header::RETRY_AFTER, header::HeaderValue::from(RETRY_AFTER_SECONDS))),
            _ => {}
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.public_message();
        let msg = match &self {
            ApiError::Invalid(m) | ApiError::Denied(m) | ApiError::Missing(m) | ApiError::Gone(m) | ApiError::Conflict(m) | ApiError::TooLarge(m) | ApiError::TooMany(m, _) | ApiError::Busy(m) => {
                Some(m.clone())
            }
            _ => None,
        };
        let mut resp = (status, Json(serde_json::json!({ "error": message, "request_id": crate::request_id() }))).into_response();
        if let Some(m) = msg {
            resp.extensions_mut().insert(m);
        }
        self.headers(resp.headers_mut());
        resp.extensions_mut().insert(ErrorMessage(message));
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kizuna_domain::onboarding::{Problem, TemplateError};

    /// Every way a CTA configuration is refused reads in Japanese on the page, and in English
    /// as the API and the CLI have said it.
    #[test]
    fn cta_configuration_errors_read_in_both_languages() {
        use kizuna_domain::ctas::ConfigError;
        let errors = [
            ConfigError::Toml("TOML parse error at line 3, column 1".into()),
            ConfigError::BadName("Risk".into()),
            ConfigError::DuplicateType("risk".into()),
            ConfigError::MissingType("opportunity"),
            ConfigError::DuplicateReason("risk".into(), "health_red".into()),
            ConfigError::MissingReason("renewal", "upcoming"),
            ConfigError::PlaybookType("nope".into()),
            ConfigError::PlaybookReason("risk".into(), "nope".into()),
            ConfigError::TaskTitle("risk".into()),
            ConfigError::TaskDue("risk".into(), "call".into(), 300),
            ConfigError::Threshold("renewal_days 0 must be 1 to 730".into()),
        ];
        for e in errors {
            let app = kizuna_app::AppError::Playbooks(e.clone());
            let english = app.to_string();
            let ApiError::Invalid(msg) = ApiError::from(app) else { panic!("a refused configuration is a 400") };
            assert_eq!(msg.render("en"), english, "{e:?}");
            let ja = msg.render("ja");
            assert!(ja.starts_with("CTAの設定: ") && !ja.contains("%{"), "{e:?}: {ja}");
            for (_, v) in e.args() {
                assert!(ja.contains(&v), "{e:?}: {ja} names {v}");
            }
        }
    }

    /// Every way a template is refused reads in Japanese on the pages, and in English as the
    /// domain words it (what the API and the CLI say).
    #[test]
    fn template_problems_read_in_both_languages() {
        let problems = [
            Problem::TooManyTemplates(101),
            Problem::Id,
            Problem::Twice,
            Problem::Name,
            Problem::Product,
            Problem::Thresholds,
            Problem::TouchModel("low".into()),
            Problem::TaskCount(0),
            Problem::NoRequiredTask,
            Problem::Phase("p1".into()),
            Problem::TaskId,
            Problem::Title,
            Problem::DueDays,
            Problem::DependsOn("kickoff".into()),
            Problem::Event,
            Problem::Metric,
            Problem::CriterionName,
            Problem::ContactRole("boss".into()),
            Problem::Milestone("nope".into()),
            Problem::OptionalMilestone("first_report".into()),
        ];
        for (i, problem) in problems.into_iter().enumerate() {
            let task = (i % 2 == 0).then(|| "connect".to_string());
            let e = TemplateError { template: "core-std".into(), task, problem: problem.clone() };
            let ApiError::Invalid(msg) = ApiError::from(kizuna_app::AppError::Onboarding(kizuna_app::onboarding::OnboardingError::Template(e.clone()))) else {
                panic!("a refused template is a 400")
            };
            assert_eq!(msg.render("en"), e.to_string(), "{problem:?}");
            let ja = msg.render("ja");
            assert!(ja.starts_with("テンプレート \"core-std\"") && !ja.contains("%{") && ja.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)), "{problem:?}: {ja}");
            if let Some(v) = problem.value() {
                assert!(ja.contains(&v), "{problem:?}: {ja} names {v}");
            }
        }
    }

    /// A refused parameter reads in English as it always did, and in Japanese on a Japanese
    /// page: the common problems wholly in Japanese, the rest framed in Japanese.
    #[test]
    fn parameter_errors_read_in_both_languages() {
        use kizuna_app::ParamError;
        let cases = [
            (ParamError::new("from", "2024-13", "is not a month (YYYY-MM)"), "from の値 \"2024-13\" は月（YYYY-MM）ではありません"),
            (ParamError::new("health", "purple", "is not one of: red, yellow, green"), "health の値 \"purple\" は次のいずれかにしてください: red, yellow, green"),
            (ParamError::new("per_page", "0", "is not a whole number from 1 to 200"), "per_page の値 \"0\" は1〜200の整数にしてください"),
            (ParamError::new("to", "2024-01-01", "is before from 2024-02-01"), "to の値 \"2024-01-01\" は from 2024-02-01 より前です"),
            (ParamError::new("from", "2027-01-01", "is after the as-of date 2026-12-07: nothing after it has happened yet"), "from の値 \"2027-01-01\" は基準日 2026-12-07 より後です（その後のことはまだ起きていません）"),
            (ParamError::new("every", "x", "is not a number of days like 7d"), "every の値 \"x\" : is not a number of days like 7d"),
        ];
        for (e, ja) in cases {
            let ApiError::Invalid(msg) = ApiError::from(e.clone()) else { panic!("a refused parameter is a 400 said for people") };
            assert_eq!(msg.render("en"), e.to_string());
            assert_eq!(msg.render("ja"), ja);
        }
    }

    /// Every way a scenario is refused reads in Japanese on the editor page, and in English as
    /// the API said it before (`scenario: <key>: <problem>`).
    #[test]
    fn scenario_errors_read_in_both_languages() {
        use kizuna_app::planning::PlanError;
        use kizuna_domain::planning::scenario::{Problem, ScenarioError};
        let invalid = |key: &str, problem| ScenarioError::Invalid { key: key.into(), problem };
        let errors = [
            ScenarioError::Toml("TOML parse error at line 2, column 1\nunknown field `productive_hours`".into()),
            invalid("capacity.csms_per_ops", Problem::NotPositive(0.0)),
            invalid("capacity.automation_factor", Problem::NotShare(1.5)),
            invalid("budget.roi.expansion_attribution", Problem::NotFraction(2.0)),
            invalid("budget.headcount[0].loaded_cost_per_year", Problem::NotAmount(-1.0)),
            invalid("hiring.months", Problem::Months(0)),
            invalid("hiring.start_month", Problem::NotMonth("2026-13".into())),
            invalid("hiring.new_accounts_per_month", Problem::NewAccounts),
            invalid("hiring.mix_path[1]", Problem::MixShares(1.1)),
            invalid("budget.time_share", Problem::TimeShares(0.9)),
            invalid("maturity.answers.health", Problem::NotQuestion("health_score, playbooks".into())),
        ];
        for e in errors {
            let app: kizuna_app::AppError = PlanError::Scenario(e.clone()).into();
            let english = app.to_string();
            let ApiError::Invalid(msg) = ApiError::from(app) else { panic!("a refused scenario is a 400") };
            assert_eq!(msg.render("en"), english, "{e:?}");
            let ja = msg.render("ja");
            assert!(ja.starts_with("シナリオ: ") && !ja.contains("%{"), "{e:?}: {ja}");
            let values = match &e {
                ScenarioError::Toml(d) => vec![d.clone()],
                ScenarioError::Invalid { key, problem } => std::iter::once(key.clone()).chain(problem.args().into_iter().map(|(_, v)| v)).collect(),
            };
            for v in values {
                assert!(ja.contains(&v), "{e:?}: {ja} names {v}");
            }
        }
        assert_eq!(Problem::MixShares(1.1).args(), vec![("total", "1.100".to_string())]);
        let name: kizuna_app::AppError = PlanError::Name(" ".into()).into();
        let english = name.to_string();
        let ApiError::Invalid(msg) = ApiError::from(name) else { panic!("a blank name is a 400") };
        assert_eq!((msg.render("en"), msg.render("ja")), (english, "シナリオ名 \" \" は1〜100文字にしてください".to_string()));
        let ApiError::Missing(msg) = ApiError::from(kizuna_app::AppError::from(PlanError::NotFound("q3".into()))) else { panic!("a 404") };
        assert_eq!((msg.render("en"), msg.render("ja")), ("scenario \"q3\" not found".to_string(), "シナリオ \"q3\" は保存されていません".to_string()));
    }

    /// Every way an edited journey is refused reads in Japanese on the page, and in English as
    /// the API and the CLI say it.
    #[test]
    fn journey_errors_read_in_both_languages() {
        use kizuna_domain::journey::JourneyError;
        for e in [JourneyError::Count(21), JourneyError::Name("On boarding".into()), JourneyError::Twice("adoption".into()), JourneyError::Label("renewal".into())] {
            let app = kizuna_app::AppError::Journey(e.clone());
            let english = app.to_string();
            let ApiError::Invalid(msg) = ApiError::from(app) else { panic!("a refused journey is a 400") };
            assert_eq!(msg.render("en"), english, "{e:?}");
            let ja = msg.render("ja");
            assert!(ja.starts_with("ジャーニー: ") && !ja.contains("%{"), "{e:?}: {ja}");
            for (_, v) in e.args() {
                assert!(ja.contains(&v), "{e:?}: {ja} names {v}");
            }
        }
    }

    /// Every way scorecards are refused reads in Japanese on the page, and in English as the
    /// API and the CLI have said it.
    #[test]
    fn scorecard_errors_read_in_both_languages() {
        use kizuna_domain::health::scorecard::Problem;
        use kizuna_domain::health::ScorecardError;
        let measure = |problem| ScorecardError::Measure { card: "default".into(), input: "usage.logins_28d".into(), problem };
        let card = |problem| ScorecardError::Card { card: "enterprise".into(), problem };
        let errors = [
            ScorecardError::Toml("TOML parse error at line 3, column 1".into()),
            measure(Problem::Input),
            measure(Problem::Weight(0.0)),
            measure(Problem::Range([40.0, 0.0])),
            measure(Problem::Thresholds(vec![3.0, 14.0, 7.0])),
            measure(Problem::Scores(vec![0.0, 120.0], 3)),
            measure(Problem::RangeAndThresholds),
            measure(Problem::NoRange),
            measure(Problem::ScoresWithoutThresholds),
            card(Problem::Twice),
            card(Problem::Empty),
            card(Problem::GroupWeight("usage".into(), -1.0)),
            ScorecardError::Other(Problem::Bands(50.0, 40.0)),
            ScorecardError::Other(Problem::Grades(80.0, 85.0, 50.0, 35.0)),
            ScorecardError::Other(Problem::OnboardingSteps),
            ScorecardError::Other(Problem::NoScorecard),
            ScorecardError::Other(Problem::NoDefault),
        ];
        for e in errors {
            let app = kizuna_app::AppError::Scorecards(e.clone());
            let english = app.to_string();
            let ApiError::Invalid(msg) = ApiError::from(app) else { panic!("refused scorecards are a 400") };
            assert_eq!(msg.render("en"), english, "{e:?}");
            let ja = msg.render("ja");
            assert!(ja.starts_with("スコアカード") && !ja.contains("%{") && ja.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)), "{e:?}: {ja}");
            for (_, v) in e.problem().map(|p| p.args()).unwrap_or_default() {
                assert!(ja.contains(&v), "{e:?}: {ja} names {v}");
            }
        }
    }

    /// Every way usage definitions are refused reads in Japanese on the page, and in English as
    /// the API and the CLI have said it.
    #[test]
    fn usage_definition_errors_read_in_both_languages() {
        use kizuna_domain::usage::metrics::DefinitionError;
        use kizuna_domain::usage::traits::TraitError;
        let errors = [
            DefinitionError::Toml("TOML parse error at line 3, column 1".into()),
            DefinitionError::Window { name: "logins_30d".into(), days: 30 },
            DefinitionError::Unknown { name: "per_user".into(), what: "numerator", other: "nope".into() },
            DefinitionError::NotWindowed { name: "change".into(), what: "of", other: "days_since_login".into() },
            DefinitionError::Duplicate("logins_28d".into()),
            DefinitionError::Trait(TraitError::Target { name: "plan".into(), to: "plan".into() }),
            DefinitionError::Trait(TraitError::Twice("plan".into())),
        ];
        for e in errors {
            let app = kizuna_app::AppError::Usage(e.clone());
            let english = app.to_string();
            let ApiError::Invalid(msg) = ApiError::from(app) else { panic!("refused definitions are a 400") };
            assert_eq!(msg.render("en"), english, "{e:?}");
            let ja = msg.render("ja");
            assert!(ja.starts_with("利用指標") && !ja.contains("%{"), "{e:?}: {ja}");
            for (_, v) in e.args() {
                assert!(ja.contains(&v), "{e:?}: {ja} names {v}");
            }
        }
    }
}
