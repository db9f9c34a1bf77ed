//! L2-regularised logistic regression (Newton's method), with the transforms calibration needs:
//! log for fat-tailed metrics, median imputation, standardisation, and cross-validation by
//! account. The fit minimises Σ log-loss + λ/2 · Σ w² with the intercept unpenalised: the
//! objective of scikit-learn's `LogisticRegression(C = 1/λ)`, against which a test checks it.

use serde::Serialize;

/// A fitted model on standardised features.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub intercept: f64,
    pub coef: Vec<f64>,
    pub iterations: usize,
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl Fit {
    pub fn probability(&self, row: &[f64]) -> f64 {
        sigmoid(self.intercept + row.iter().zip(&self.coef).map(|(x, w)| x * w).sum::<f64>())
    }
}

/// Solve `a x = b` for a symmetric positive definite `a` (n × n, row-major) by Cholesky.
fn cholesky_solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i * n + k] * y[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k * n + i] * x[k]).sum::<f64>()) / l[i * n + i];
    }
    Some(x)
}

/// Fit on `x` (rows of `p` features, row-major, `rows` of them in `keep` order) and labels.
/// `keep` selects the training rows (all when None).
pub fn fit(x: &[f64], p: usize, y: &[bool], l2: f64, keep: Option<&[usize]>) -> Fit {
    let all: Vec<usize>;
    let rows: &[usize] = match keep {
        Some(k) => k,
        None => {
            all = (0..y.len()).collect();
            &all
        }
    };
    let d = p + 1; // intercept first
    let mut w = vec![0.0; d];
    let mut iterations = 0;
    for it in 0..100 {
        iterations = it + 1;
        let mut grad = vec![0.0; d];
        let mut hess = vec![0.0; d * d];
        let mut z = vec![0.0; d];
        for &r in rows {
            let row = &x[r * p..(r + 1) * p];
            z[0] = 1.0;
            z[1..].copy_from_slice(row);
            let pr = sigmoid(w.iter().zip(&z).map(|(a, b)| a * b).sum());
            let g = pr - if y[r] { 1.0 } else { 0.0 };
            let h = pr * (1.0 - pr);
            for i in 0..d {
                grad[i] += g * z[i];
                let hz = h * z[i];
                let hrow = &mut hess[i * d..i * d + i + 1];
                for (j, cell) in hrow.iter_mut().enumerate() {
                    *cell += hz * z[j];
                }
            }
        }
        for i in 0..d {
            for j in 0..i {
                hess[j * d + i] = hess[i * d + j];
            }
        }
        for i in 1..d {
            grad[i] += l2 * w[i];
            hess[i * d + i] += l2;
        }
        // A tiny ridge on the intercept keeps a one-class training set solvable.
        hess[0] += 1e-12;
        let Some(step) = cholesky_solve(&hess, &grad, d) else { break };
        for i in 0..d {
            w[i] -= step[i];
        }
        if step.iter().all(|s| s.abs() < 1e-10) {
            break;
        }
    }
    Fit { intercept: w[0], coef: w[1..].to_vec(), iterations }
}

/// How one metric was prepared before the fit.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Prepared {
    pub metric: String,
    /// `log1p` for fat-tailed, non-negative metrics; else `none`.
    pub transform: &'static str,
    /// Missing values are replaced by the median (of the transformed values).
    pub missing: u64,
    pub median: f64,
    pub mean: f64,
    pub sd: f64,
}

impl Prepared {
    /// Transformed, imputed and standardised value (0 when the metric does not vary).
    pub fn apply(&self, raw: Option<f64>) -> f64 {
        let t = match raw.filter(|v| v.is_finite()) {
            Some(v) if self.transform == "log1p" => v.max(0.0).ln_1p(),
            Some(v) => v,
            None => self.median,
        };
        if self.sd > 0.0 { (t - self.mean) / self.sd } else { 0.0 }
    }
}

fn skewness(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let m2 = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let m3 = v.iter().map(|x| (x - mean).powi(3)).sum::<f64>() / n;
    if m2 > 0.0 { m3 / m2.powf(1.5) } else { 0.0 }
}

pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    if i + 1 < sorted.len() { sorted[i] * (1.0 - f) + sorted[i + 1] * f } else { sorted[i] }
}

/// Decide each column's transform from the data: log1p when every value is ≥ 0 and the
/// skewness exceeds 1 (counts of events are like that: most accounts few, some very many).
pub fn prepare(metric: &str, column: &[Option<f64>]) -> Prepared {
    let present: Vec<f64> = column.iter().filter_map(|v| v.filter(|x| x.is_finite())).collect();
    let log = !present.is_empty() && present.iter().all(|v| *v >= 0.0) && skewness(&present) > 1.0;
    let mut t: Vec<f64> = present.iter().map(|v| if log { v.ln_1p() } else { *v }).collect();
    t.sort_by(|a, b| a.total_cmp(b));
    let median = quantile(&t, 0.5);
    let missing = (column.len() - present.len()) as u64;
    let n = column.len().max(1) as f64;
    let mean = (t.iter().sum::<f64>() + missing as f64 * median) / n;
    let var = (t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() + missing as f64 * (median - mean).powi(2)) / n;
    Prepared { metric: metric.to_string(), transform: if log { "log1p" } else { "none" }, missing, median, mean, sd: var.sqrt() }
}

/// Pearson correlation of a standardised column (rows of `p`, column `c`) with the label.
pub fn correlation(x: &[f64], p: usize, c: usize, y: &[bool]) -> f64 {
    let n = y.len() as f64;
    let rate = y.iter().filter(|v| **v).count() as f64 / n;
    let sd_y = (rate * (1.0 - rate)).sqrt();
    if sd_y == 0.0 {
        return 0.0;
    }
    // The column has mean 0 and sd 1 (or is all 0), so cov = mean(x·y).
    let cov: f64 = y.iter().enumerate().filter(|(_, v)| **v).map(|(r, _)| x[r * p + c]).sum::<f64>() / n;
    cov / sd_y
}

/// A stable fold for an account (FNV-1a), so all of one account's observations fall in one fold
/// and the cross-validated figures never score an account the model was trained on.
pub fn fold_of(account: &str, folds: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in account.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % folds as u64) as usize
}

/// The design matrix (rows × columns, row-major) of raw `columns` as `prepared` reads them.
pub fn matrix(prepared: &[Prepared], columns: &[Vec<Option<f64>>], rows: usize) -> Vec<f64> {
    let p = prepared.len();
    let mut x = vec![0.0; rows * p];
    for (c, (prep, col)) in prepared.iter().zip(columns).enumerate() {
        for (r, v) in col.iter().enumerate() {
            x[r * p + c] = prep.apply(*v);
        }
    }
    x
}

/// Out-of-fold churn probabilities: each fold predicted by a model fitted on the others, with
/// each column prepared (transform, median, mean, sd) from those other folds only, so nothing
/// of a held-out row takes part in what predicts it. Folds are fitted on two threads.
pub fn cross_validate(metrics: &[String], columns: &[Vec<Option<f64>>], y: &[bool], fold: &[usize], folds: usize, l2: f64) -> Vec<f64> {
    let (n, p) = (y.len(), columns.len());
    let fits: Vec<(usize, Vec<f64>, Fit)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                s.spawn(move || {
                    (0..folds)
                        .filter(|f| f % 2 == t)
                        .map(|f| {
                            let train: Vec<usize> = (0..n).filter(|i| fold[*i] != f).collect();
                            let prepared: Vec<Prepared> =
                                metrics.iter().zip(columns).map(|(m, c)| prepare(m, &train.iter().map(|i| c[*i]).collect::<Vec<_>>())).collect();
                            let x = matrix(&prepared, columns, n);
                            let model = fit(&x, p, y, l2, Some(&train));
                            (f, x, model)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("fold fit")).collect()
    });
    let mut out = vec![0.0; n];
    for (f, x, m) in fits {
        for i in (0..n).filter(|i| fold[*i] == f) {
            out[i] = m.probability(&x[i * p..(i + 1) * p]);
        }
    }
    out
}

/// Expected churns and a 90% interval from each account's churn probability, from the exact
/// distribution of a sum of independent Bernoulli variables (Poisson–binomial).
pub fn forecast(probabilities: &[f64]) -> (f64, u64, u64) {
    let expected: f64 = probabilities.iter().sum();
    let sd = probabilities.iter().map(|p| p * (1.0 - p)).sum::<f64>().sqrt();
    // Mass beyond mean + 12 sd is negligible; keep the table that long.
    let cap = ((expected + 12.0 * sd + 10.0).ceil() as usize).min(probabilities.len());
    let mut dist = vec![0.0; cap + 1];
    dist[0] = 1.0;
    for p in probabilities {
        for k in (0..=cap).rev() {
            dist[k] = dist[k] * (1.0 - p) + if k > 0 { dist[k - 1] * p } else { 0.0 };
        }
    }
    let mut acc = 0.0;
    let (mut low, mut high) = (None, None);
    for (k, m) in dist.iter().enumerate() {
        acc += m;
        if low.is_none() && acc >= 0.05 {
            low = Some(k as u64);
        }
        if high.is_none() && acc >= 0.95 {
            high = Some(k as u64);
        }
    }
    (expected, low.unwrap_or(0), high.unwrap_or(cap as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fixtures/logistic.csv` (x1,x2,x3,churned) and scikit-learn's fit of it
    /// (`fixtures/logistic_reference.py`, run once; its output is `logistic_expected.json`).
    #[test]
    fn matches_scikit_learn_on_a_fixed_table() {
        let csv = include_str!("fixtures/logistic.csv");
        let expected: serde_json::Value = serde_json::from_str(include_str!("fixtures/logistic_expected.json")).unwrap();
        let mut cols: Vec<Vec<Option<f64>>> = vec![vec![]; 3];
        let mut y = vec![];
        for line in csv.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            for c in 0..3 {
                cols[c].push(Some(f[c].parse().unwrap()));
            }
            y.push(f[3] == "1");
        }
        let n = y.len();
        // The reference standardises without transforms; force "none" as it does.
        let prepared: Vec<Prepared> = cols.iter().enumerate().map(|(i, c)| Prepared { transform: "none", ..prepare(&format!("x{i}"), c) }).collect();
        let prepared: Vec<Prepared> = prepared
            .into_iter()
            .zip(&cols)
            .map(|(p, c)| {
                let v: Vec<f64> = c.iter().map(|x| x.unwrap()).collect();
                let mean = v.iter().sum::<f64>() / n as f64;
                let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
                Prepared { mean, sd, ..p }
            })
            .collect();
        let mut x = Vec::with_capacity(n * 3);
        for r in 0..n {
            for c in 0..3 {
                x.push(prepared[c].apply(cols[c][r]));
            }
        }
        let l2 = expected["l2"].as_f64().unwrap();
        let m = fit(&x, 3, &y, l2, None);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(m.intercept, expected["intercept"].as_f64().unwrap()), "intercept {}", m.intercept);
        for (c, e) in m.coef.iter().zip(expected["coef"].as_array().unwrap()) {
            assert!(close(*c, e.as_f64().unwrap()), "coef {c} against {e}");
        }
        let probs: Vec<f64> = (0..n).map(|r| m.probability(&x[r * 3..r * 3 + 3])).collect();
        let auc = super::super::backtest::auc(&probs, &y).unwrap();
        assert!(close(auc, expected["auc"].as_f64().unwrap()), "auc {auc}");
    }

    #[test]
    fn log_transform_for_fat_tails_and_imputation() {
        let counts: Vec<Option<f64>> = [0.0, 1.0, 1.0, 2.0, 3.0, 100.0].into_iter().map(Some).chain([None]).collect();
        let p = prepare("logins", &counts);
        assert_eq!((p.transform, p.missing), ("log1p", 1));
        // log1p of 0,1,1,2,3,100 sorted: median between ln 2 and ln 3
        assert!((p.median - (2f64.ln() + 3f64.ln()) / 2.0).abs() < 1e-12);
        let symmetric = prepare("change", &[Some(-1.0), Some(0.0), Some(1.0)]);
        assert_eq!((symmetric.transform, symmetric.mean, symmetric.median), ("none", 0.0, 0.0));
        assert!((symmetric.apply(Some(1.0)) - 1.0 / (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let flat = prepare("flat", &[Some(2.0), Some(2.0)]);
        assert_eq!(flat.apply(Some(5.0)), 0.0);
    }

    #[test]
    fn a_held_out_row_takes_no_part_in_what_predicts_the_others() {
        // 40 rows in 4 folds; changing one fold-0 row's value (to an outlier) must leave the
        // other fold-0 predictions as they were: their model and its preparation (mean, sd,
        // median, log decision) come from folds 1–3 only.
        let metrics = vec!["logins".to_string()];
        let y: Vec<bool> = (0..40).map(|i| i % 3 == 0).collect();
        let fold: Vec<usize> = (0..40).map(|i| i % 4).collect();
        let col: Vec<Option<f64>> = (0..40).map(|i| Some(if i % 3 == 0 { 2.0 + (i % 5) as f64 } else { 10.0 + (i % 7) as f64 })).collect();
        let before = cross_validate(&metrics, &[col.clone()], &y, &fold, 4, 1.0);
        let mut changed = col;
        changed[0] = Some(5_000.0);
        let after = cross_validate(&metrics, &[changed], &y, &fold, 4, 1.0);
        for i in (1..40).filter(|i| fold[*i] == 0) {
            assert_eq!(before[i], after[i], "row {i}");
        }
        assert_ne!(before[0], after[0], "the changed row itself is predicted from its new value");
        assert!(before.iter().all(|p| (0.0..=1.0).contains(p)));
    }

    #[test]
    fn forecast_by_hand() {
        // two accounts at 0.5: 0, 1, 2 churns with 0.25, 0.5, 0.25
        let (e, lo, hi) = forecast(&[0.5, 0.5]);
        assert_eq!((e, lo, hi), (1.0, 0, 2));
        let (e, lo, hi) = forecast(&vec![0.1; 1000]);
        // Binomial(1000, 0.1): mean 100, 5% and 95% quantiles 85 and 116 (scipy.stats.binom.ppf)
        assert!((e - 100.0).abs() < 1e-9);
        assert_eq!((lo, hi), (85, 116));
        assert_eq!(fold_of("A-1", 5), fold_of("A-1", 5));
    }
}
