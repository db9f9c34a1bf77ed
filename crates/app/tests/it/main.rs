//! The integration tests of kizuna-app, in one test binary: cargo builds and links a
//! binary for each file directly under tests/, so each test file is a module here instead.

mod access;
mod ctas;
mod health;
mod journey;
mod onboarding;
mod jobs;
mod planning;
mod reports;
mod usage;
