//! Kizuna's pure domain logic: the data model, field validation and the revenue metrics.
//! Nothing here does IO, so every rule can be unit-tested with hand-computed figures.

pub mod access;
pub mod ctas;
pub mod fields;
pub mod health;
pub mod jobs;
pub mod journey;
pub mod links;
pub mod metrics;
pub mod model;
pub mod onboarding;
pub mod planning;
pub mod money;
pub mod portfolio;
pub mod search;
pub mod time;
pub mod usage;

pub use fields::FieldError;
pub use model::*;
pub use money::Cents;
