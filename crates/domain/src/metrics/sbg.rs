//! The shifted-beta-geometric (sBG) retention model of Fader & Hardie (2007), "How to project
//! customer retention", Journal of Interactive Marketing 21(1).
//!
//! Each customer churns at the end of a period with probability θ, and θ varies across customers
//! as Beta(α, β). Then P(T = 1) = α / (α + β), P(T = t) = P(T = t − 1) · (β + t − 2) / (α + β + t − 1),
//! S(t) = S(t − 1) − P(T = t), and the retention rate r(t) = (β + t − 1) / (α + β + t − 1) rises with
//! t (the sorting effect a plain churn rate misses). (α, β) are fitted by maximum likelihood to
//! survivor counts: LL = Σ_t (n_{t−1} − n_t) ln P(T = t) + n_T ln S(T).
//!
//! Discounted expected lifetime (Fader & Hardie 2010): DEL(d) = Σ_{t≥0} S(t) / (1 + d)^t, and for
//! a customer who has made n − 1 renewals DERL(d) = Σ_{t≥n} [S(t) / S(n − 1)] / (1 + d)^(t − n).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SbgFit {
    pub alpha: f64,
    pub beta: f64,
    pub log_likelihood: f64,
}

/// Log-likelihood of survivor counts (each cohort: n_0, n_1, ..., n_T).
pub fn log_likelihood(alpha: f64, beta: f64, cohorts: &[Vec<f64>]) -> f64 {
    let mut ll = 0.0;
    for n in cohorts {
        let (mut p, mut s) = (alpha / (alpha + beta), 1.0);
        for t in 1..n.len() {
            if t > 1 {
                p *= (beta + t as f64 - 2.0) / (alpha + beta + t as f64 - 1.0);
            }
            s -= p;
            let lost = n[t - 1] - n[t];
            if lost != 0.0 {
                ll += lost * p.ln();
            }
        }
        if n.len() > 1 && n[n.len() - 1] > 0.0 {
            ll += n[n.len() - 1] * s.max(f64::MIN_POSITIVE).ln();
        }
    }
    ll
}

/// Maximum-likelihood fit; `None` without at least one cohort observed for a period.
pub fn fit(cohorts: &[Vec<f64>]) -> Option<SbgFit> {
    if !cohorts.iter().any(|c| c.len() > 1 && c[0] > 0.0) {
        return None;
    }
    // Search over (ln α, ln β) so both stay positive.
    let objective = |x: [f64; 2]| -log_likelihood(x[0].exp(), x[1].exp(), cohorts);
    let best = nelder_mead(objective, [0.0, 0.0], 1e-12, 10_000);
    let best = nelder_mead(objective, best, 1e-14, 10_000); // restart: avoids a collapsed simplex
    let (alpha, beta) = (best[0].exp(), best[1].exp());
    Some(SbgFit { alpha, beta, log_likelihood: log_likelihood(alpha, beta, cohorts) })
}

/// S(t): the share of a starting cohort still active after t periods.
pub fn survival(alpha: f64, beta: f64, t: u32) -> f64 {
    let (mut p, mut s) = (alpha / (alpha + beta), 1.0);
    for k in 1..=t {
        if k > 1 {
            p *= (beta + k as f64 - 2.0) / (alpha + beta + k as f64 - 1.0);
        }
        s -= p;
    }
    s
}

/// r(t) = S(t) / S(t − 1).
pub fn retention_rate(alpha: f64, beta: f64, t: u32) -> f64 {
    (beta + t as f64 - 1.0) / (alpha + beta + t as f64 - 1.0)
}

/// Σ_{t≥0} S(t) x^t with x = 1 / (1 + d), from S(t) = Π_{k=1..t} r(k).
pub fn del(alpha: f64, beta: f64, d: f64) -> f64 {
    if d == 0.0 {
        // Undiscounted: E[T] = Σ_{t≥0} B(α, β + t) / B(α, β) = (α + β − 1) / (α − 1), endless for α ≤ 1.
        return if alpha > 1.0 { (alpha + beta - 1.0) / (alpha - 1.0) } else { f64::INFINITY };
    }
    discounted_sum(alpha, beta, d, 1)
}

/// Residual lifetime of a customer who has made `renewals` (= n − 1) renewals.
pub fn derl(alpha: f64, beta: f64, d: f64, renewals: u32) -> f64 {
    if d == 0.0 {
        // Σ_{t>n} S(t) / S(n) = B(α − 1, β + n + 1) / B(α, β + n) = (β + n) / (α − 1).
        return if alpha > 1.0 { (beta + renewals as f64) / (alpha - 1.0) } else { f64::INFINITY };
    }
    retention_rate(alpha, beta, renewals.saturating_add(1)) * discounted_sum(alpha, beta, d, renewals.saturating_add(2))
}

/// Σ_{j≥0} x^j Π_{k=first..first+j−1} r(k), for d > 0: the series stops when terms vanish.
fn discounted_sum(alpha: f64, beta: f64, d: f64, first: u32) -> f64 {
    let x = 1.0 / (1.0 + d);
    let (mut term, mut sum) = (1.0, 0.0);
    // k as a float: a customer with u32::MAX renewals still has a next period.
    let mut k = first as f64;
    for _ in 0..1_000_000 {
        if term <= 1e-13 {
            break;
        }
        sum += term;
        term *= x * (beta + k - 1.0) / (alpha + beta + k - 1.0);
        k += 1.0;
    }
    sum
}

/// Minimise `f` over two variables (Nelder & Mead 1965, standard coefficients).
fn nelder_mead(f: impl Fn([f64; 2]) -> f64, start: [f64; 2], tol: f64, max_iter: usize) -> [f64; 2] {
    let mut s = [start, [start[0] + 0.5, start[1]], [start[0], start[1] + 0.5]];
    let mut v = s.map(&f);
    for _ in 0..max_iter {
        let mut order = [0, 1, 2];
        order.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
        s = order.map(|i| s[i]);
        v = order.map(|i| v[i]);
        if (v[2] - v[0]).abs() < tol {
            break;
        }
        let c = [(s[0][0] + s[1][0]) / 2.0, (s[0][1] + s[1][1]) / 2.0];
        let at = |t: f64| [c[0] + t * (s[2][0] - c[0]), c[1] + t * (s[2][1] - c[1])];
        let r = at(-1.0);
        let fr = f(r);
        if fr < v[0] {
            let e = at(-2.0);
            let fe = f(e);
            (s[2], v[2]) = if fe < fr { (e, fe) } else { (r, fr) };
        } else if fr < v[1] {
            (s[2], v[2]) = (r, fr);
        } else {
            let k = if fr < v[2] { at(-0.5) } else { at(0.5) };
            let fk = f(k);
            if fk < v[2].min(fr) {
                (s[2], v[2]) = (k, fk);
            } else {
                for i in 1..3 {
                    s[i] = [(s[0][0] + s[i][0]) / 2.0, (s[0][1] + s[i][1]) / 2.0];
                    v[i] = f(s[i]);
                }
            }
        }
    }
    let best = (0..3).min_by(|a, b| v[*a].total_cmp(&v[*b])).unwrap();
    s[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round3(x: f64) -> f64 {
        (x * 1000.0).round() / 1000.0
    }

    #[test]
    fn fader_hardie_2007_regular_customers() {
        let n = vec![1000.0, 631.0, 468.0, 382.0, 326.0, 289.0, 262.0, 241.0];
        let fit = fit(&[n]).unwrap();
        assert_eq!((round3(fit.alpha), round3(fit.beta)), (0.704, 1.182), "{fit:?}");
    }

    #[test]
    fn fader_hardie_2007_high_end_customers() {
        let n = vec![1000.0, 869.0, 743.0, 653.0, 593.0, 551.0, 517.0, 491.0];
        let fit = fit(&[n]).unwrap();
        assert_eq!((round3(fit.alpha), round3(fit.beta)), (0.668, 3.806), "{fit:?}");
    }

    #[test]
    fn survival_and_retention_by_hand() {
        // α = β = 1: P(T = t) = 1 / (t (t + 1)), S(t) = 1 / (t + 1), r(t) = t / (t + 1).
        assert!((survival(1.0, 1.0, 3) - 0.25).abs() < 1e-15);
        assert!((retention_rate(1.0, 1.0, 3) - 0.75).abs() < 1e-15);
    }

    #[test]
    fn del_and_derl_closed_forms() {
        // α = β = 1: DEL = Σ x^t / (t + 1) = −ln(1 − x) / x; with d = 0.1, x = 1/1.1 → 2.637683...
        let x: f64 = 1.0 / 1.1;
        assert!((del(1.0, 1.0, 0.1) - (-(1.0 - x).ln() / x)).abs() < 1e-9);
        // DERL after n − 1 = 1 renewal: Σ_{t≥2} [S(t)/S(1)] x^(t−2) = 2 Σ_{j≥0} x^j / (j + 3)
        //   = 2 (−ln(1 − x) − x − x²/2) / x³.
        let expected = 2.0 * (-(1.0 - x).ln() - x - x * x / 2.0) / x.powi(3);
        assert!((derl(1.0, 1.0, 0.1, 1) - expected).abs() < 1e-9, "{} vs {expected}", derl(1.0, 1.0, 0.1, 1));
    }

    #[test]
    fn an_undiscounted_lifetime_is_infinite_when_alpha_is_at_most_one() {
        // d = 0: DEL = Σ S(t), and S(t) = 1 / (t + 1) for α = β = 1: the harmonic series.
        assert_eq!(del(1.0, 1.0, 0.0), f64::INFINITY);
        assert_eq!(derl(0.7, 1.2, 0.0, 3), f64::INFINITY);
        // α = 2, β = 1: S(t) = 2 / ((t + 1)(t + 2)), Σ_{t≥0} = 2 Σ (1/(t+1) − 1/(t+2)) = 2.
        assert_eq!(del(2.0, 1.0, 0.0), 2.0);
        // After one renewal: S(1) = 1/3, Σ_{t≥2} S(t) = 2/3, so 2.
        assert_eq!(derl(2.0, 1.0, 0.0, 1), 2.0);
        // The closed form is the limit of the discounted series.
        assert!((del(3.0, 2.0, 1e-9) - del(3.0, 2.0, 0.0)).abs() < 1e-6, "{}", del(3.0, 2.0, 1e-9));
        // After very many renewals r(t) → 1: DERL → Σ x^j = (1 + d) / d = 11 at d = 0.1.
        let many = derl(1.0, 1.0, 0.1, u32::MAX);
        assert!((many - 11.0).abs() < 1e-3, "no overflow however many renewals: {many}");
    }

    #[test]
    fn no_observed_period_no_fit() {
        assert_eq!(fit(&[vec![10.0]]), None);
    }
}
