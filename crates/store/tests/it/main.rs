//! The integration tests of kizuna-store, in one test binary: cargo builds and links a
//! binary for each file directly under tests/, so each test file is a module here instead.

mod account_list;
mod conformance;
mod cta_list;
mod jobs;
mod outbox;
mod time_zone;
mod unit_of_work;
