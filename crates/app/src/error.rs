//! The application layer's one error. Every variant is typed: the server turns each into an
//! HTTP status and a message in the reader's language; the CLI prints it in English.

use crate::access::Denied;
use crate::accounts::ActivityError;
use crate::planning::PlanError;
use crate::users::UserError;
use crate::ParamError;
use chrono::NaiveDate;
use kizuna_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The actor may not do this (403).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// No such account, or not one the actor may see: the same answer either way (404).
    #[error("account {0:?} not found")]
    AccountNotFound(String),
    /// The account was not paying on the day asked for, so it has no score (404).
    #[error("account {id:?} was not paying on {at}, so it has no health score")]
    NotPaying { id: String, at: NaiveDate },
    /// A note, meeting or call that cannot be logged (400).
    #[error(transparent)]
    Activity(#[from] ActivityError),
    /// A user that cannot be created or changed (400).
    #[error(transparent)]
    User(#[from] UserError),
    /// A CTA that is not there (404) or cannot be opened or changed as asked (400).
    #[error(transparent)]
    Cta(#[from] crate::ctas::CtaError),
    /// An onboarding plan or template that is not there (404) or a change that cannot be
    /// made (400); a shared link that is not genuine or has expired.
    #[error(transparent)]
    Onboarding(#[from] crate::onboarding::OnboardingError),
    /// A saved view that cannot be saved (400) or is not there (404).
    #[error(transparent)]
    View(crate::accounts::ViewError),
    /// No active API key with that id (400 on the page, an error on the command line).
    #[error("no active key {0:?} (see `kizuna keys list`)")]
    NoKey(String),
    /// A planning scenario that is missing or wrong.
    #[error(transparent)]
    Plan(PlanError),
    /// A CTA configuration (types, reasons, playbooks, signal thresholds) that cannot be used
    /// (400): typed, so the editor page says why in the reader's language.
    #[error("CTA configuration: {0}")]
    Playbooks(kizuna_domain::ctas::ConfigError),
    /// An edited list of journey stages that cannot be used (400): typed, so the editor page
    /// says why in the reader's language.
    #[error("journey: {0}")]
    Journey(kizuna_domain::journey::JourneyError),
    /// Scorecards that cannot be used (400): typed, so the editor page says why in the
    /// reader's language.
    #[error("{0}")]
    Scorecards(kizuna_domain::health::ScorecardError),
    /// Usage metric definitions or trait rules that cannot be used (400): typed, so the editor
    /// page says why in the reader's language.
    #[error("{0}")]
    Usage(kizuna_domain::usage::metrics::DefinitionError),
    /// A saved setting (CTA configuration, journey, onboarding templates) that no longer reads:
    /// what people type is checked by its own typed error before it is saved (400).
    #[error("{0}")]
    Config(String),
    /// A parameter with a wrong value (400), naming it and what was expected.
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PlanError> for AppError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Store(s) => AppError::Store(s),
            PlanError::Param(p) => AppError::Param(p),
            other => AppError::Plan(other),
        }
    }
}
