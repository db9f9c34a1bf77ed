//! Planning (SPEC §8, seeds 000 and 001): team capacity top-down against bottom-up, the CS
//! budget under the four funding strategies, and the maturity stage with its goals and KPIs.
//! Inputs come from a scenario (TOML); live accounts and ARR can fill the capacity inputs.

pub mod budget;
pub mod capacity;
pub mod funnel;
pub mod hiring;
pub mod maturity;
pub mod scenario;

pub use scenario::{Scenario, ScenarioError};

/// Round a headcount up: 16.25 CSMs of work needs 17 people.
pub fn headcount(fte: f64) -> u32 {
    // Guard against 15.000000000002 from floating point turning into 16.
    let rounded = (fte * 1e9).round() / 1e9;
    rounded.ceil().max(0.0) as u32
}

#[cfg(test)]
mod tests {
    #[test]
    fn headcount_rounds_up_but_not_noise() {
        assert_eq!(super::headcount(16.25), 17);
        assert_eq!(super::headcount(15.0), 15);
        assert_eq!(super::headcount(0.1 + 0.2 + 14.7), 15);
        assert_eq!(super::headcount(0.0), 0);
    }
}
