//! The integration tests of kizuna, in one test binary: cargo builds and links a
//! binary for each file directly under tests/, so each test file is a module here instead.

mod backup;
mod cli;
mod crash;
mod disk;
mod sdk;
mod servers;
