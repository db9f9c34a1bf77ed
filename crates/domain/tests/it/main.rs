//! The integration tests of kizuna-domain, in one test binary: cargo builds and links a
//! binary for each file directly under tests/, so each test file is a module here instead.

mod fuzz;
mod onboarding_run;
