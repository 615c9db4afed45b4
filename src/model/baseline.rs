//! The centralized baseline: the federated job's logistic regression trained in one place, on
//! the joined table, with the job's own hyper-parameters, and evaluated on the same rows as FATE
//! evaluates (its training set). Also the curves both models are judged by: ROC, its AUC, KS.
//!
//! Written here rather than taken from a crate: `linfa-logistic` fits by L-BFGS, which has no
//! epochs, batches, learning rate or schedule, so it could not train "the same model" as the
//! job; mini-batch gradient descent with FATE's parameters is forty lines.

use serde_json::Value;

/// How FATE's LR is trained, from either API's parameters (jobs.yaml).
#[derive(Debug, Clone, PartialEq)]
pub struct LrParams {
    pub epochs: usize,
    /// Rows per step; 0 = all of them.
    pub batch_size: usize,
    pub learning_rate: f64,
    /// L2 strength (the intercept is not penalized).
    pub alpha: f64,
    /// FATE 1.x's default optimizer; else plain SGD.
    pub rmsprop: bool,
    /// A linear warm-up of the rate per epoch, from `start_factor` to 1 over `total_iters`.
    pub start_factor: f64,
    pub total_iters: usize,
    /// Stop when the loss moves less than this (FATE 1.x's `early_stop: diff`).
    pub tol: Option<f64>,
}

impl LrParams {
    /// FATE 2.x `coordinated_lr` (`epochs`, `batch_size`, `optimizer`, `learning_rate_scheduler`)
    /// or FATE 1.x `HeteroLR` (`max_iter`, `learning_rate`, `alpha`, `optimizer`, `tol`).
    pub fn of_job(p: &Value) -> LrParams {
        let num = |v: &Value| v.as_f64();
        let batch = |v: Option<f64>| match v {
            Some(b) if b > 0.0 => b as usize,
            _ => 0,
        };
        if let Some(epochs) = p.get("epochs").and_then(num) {
            let opt = &p["optimizer"];
            let sched = &p["learning_rate_scheduler"]["scheduler_params"];
            return LrParams {
                epochs: epochs as usize,
                batch_size: batch(p.get("batch_size").and_then(num)),
                learning_rate: opt["optimizer_params"]["lr"].as_f64().unwrap_or(0.01),
                alpha: if opt["penalty"].as_str() == Some("l2") {
                    opt["alpha"].as_f64().unwrap_or(0.0)
                } else {
                    0.0
                },
                rmsprop: opt["method"]
                    .as_str()
                    .is_some_and(|m| m.eq_ignore_ascii_case("rmsprop")),
                start_factor: sched["start_factor"].as_f64().unwrap_or(1.0),
                total_iters: sched["total_iters"].as_u64().unwrap_or(1) as usize,
                tol: None,
            };
        }
        LrParams {
            epochs: p["max_iter"].as_u64().unwrap_or(100) as usize,
            batch_size: batch(p.get("batch_size").and_then(num)),
            learning_rate: p["learning_rate"].as_f64().unwrap_or(0.01),
            alpha: if p["penalty"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("l2"))
            {
                p["alpha"].as_f64().unwrap_or(0.0)
            } else {
                0.0
            },
            rmsprop: p["optimizer"]
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case("rmsprop")),
            start_factor: 1.0,
            total_iters: 1,
            tol: p["tol"].as_f64(),
        }
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A fitted logistic regression: one weight per feature, then the intercept.
#[derive(Debug, Clone)]
pub struct Lr {
    pub weights: Vec<f64>,
    /// The mean log-loss after each epoch.
    pub loss: Vec<f64>,
}

impl Lr {
    pub fn score(&self, row: &[f64]) -> f64 {
        score(&self.weights, row)
    }
}

fn score(weights: &[f64], row: &[f64]) -> f64 {
    let dot: f64 = row.iter().zip(weights).map(|(a, b)| a * b).sum();
    sigmoid(dot + weights[row.len()])
}

/// Mini-batch gradient descent from zeros, rows in order (FATE's batches are not shuffled).
pub fn fit_lr(x: &[Vec<f64>], y: &[f64], p: &LrParams) -> Lr {
    let width = x.first().map_or(0, Vec::len);
    let mut w = vec![0.0; width + 1];
    let mut cache = vec![0.0; width + 1];
    let batch = if p.batch_size == 0 {
        x.len().max(1)
    } else {
        p.batch_size
    };
    let mut model = Lr {
        weights: w.clone(),
        loss: Vec::new(),
    };
    for epoch in 0..p.epochs {
        let progress = epoch.min(p.total_iters) as f64 / p.total_iters.max(1) as f64;
        let rate = p.learning_rate * (p.start_factor + (1.0 - p.start_factor) * progress);
        for (rows, labels) in x.chunks(batch).zip(y.chunks(batch)) {
            let mut g = vec![0.0; width + 1];
            for (row, label) in rows.iter().zip(labels) {
                let err = score(&w, row) - label;
                for (gi, xi) in g.iter_mut().zip(row) {
                    *gi += err * xi;
                }
                g[width] += err;
            }
            let n = rows.len() as f64;
            for i in 0..=width {
                g[i] /= n;
                if i < width {
                    g[i] += p.alpha * w[i];
                }
                if p.rmsprop {
                    cache[i] = 0.99 * cache[i] + 0.01 * g[i] * g[i];
                    w[i] -= rate * g[i] / (cache[i].sqrt() + 1e-6);
                } else {
                    w[i] -= rate * g[i];
                }
            }
        }
        model.weights.clone_from(&w);
        let loss = x
            .iter()
            .zip(y)
            .map(|(row, label)| {
                let s = model.score(row).clamp(1e-12, 1.0 - 1e-12);
                -(label * s.ln() + (1.0 - label) * (1.0 - s).ln())
            })
            .sum::<f64>()
            / x.len().max(1) as f64;
        let settled = p
            .tol
            .zip(model.loss.last())
            .is_some_and(|(tol, last)| (last - loss).abs() < tol);
        model.loss.push(loss);
        if settled {
            break;
        }
    }
    model
}

/// A ROC curve: false and true positive rates from the highest threshold down, (0,0) to (1,1).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Roc {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    pub thresholds: Vec<f64>,
}

impl Roc {
    /// The curve of `scores` against 0/1 `labels`, one point per distinct score.
    pub fn of(scores: &[f64], labels: &[f64]) -> Roc {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
        let pos = labels.iter().filter(|l| **l == 1.0).count().max(1) as f64;
        let neg = labels.iter().filter(|l| **l != 1.0).count().max(1) as f64;
        let mut roc = Roc {
            fpr: vec![0.0],
            tpr: vec![0.0],
            thresholds: vec![1.0],
        };
        let (mut tp, mut fp) = (0.0, 0.0);
        for (k, &i) in order.iter().enumerate() {
            if labels[i] == 1.0 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            // Tied scores make one step: a point only where the next score differs.
            if order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]) {
                roc.fpr.push(fp / neg);
                roc.tpr.push(tp / pos);
                roc.thresholds.push(scores[i]);
            }
        }
        roc
    }

    /// The area under the curve (trapezoids: ties count half, as the Mann–Whitney AUC does).
    pub fn auc(&self) -> f64 {
        self.fpr
            .windows(2)
            .zip(self.tpr.windows(2))
            .map(|(f, t)| (f[1] - f[0]) * (t[1] + t[0]) / 2.0)
            .sum()
    }

    /// Kolmogorov–Smirnov: the largest gap between the true and false positive rates.
    pub fn ks(&self) -> f64 {
        self.tpr
            .iter()
            .zip(&self.fpr)
            .map(|(t, f)| t - f)
            .fold(0.0, f64::max)
    }
}

/// The baseline trained and judged: its curve and its loss per epoch.
#[derive(Debug, Clone)]
pub struct Centralized {
    pub roc: Roc,
    pub loss: Vec<f64>,
}

pub fn centralized_lr(x: &[Vec<f64>], y: &[f64], p: &LrParams) -> Centralized {
    let model = fit_lr(x, y, p);
    let scores: Vec<f64> = x.iter().map(|r| model.score(r)).collect();
    Centralized {
        roc: Roc::of(&scores, y),
        loss: model.loss,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_roc_of_known_scores_has_the_textbook_auc_and_ks() {
        // 2 positives, 2 negatives; one negative outranks one positive: AUC 3/4.
        let roc = Roc::of(&[0.9, 0.8, 0.7, 0.1], &[1.0, 0.0, 1.0, 0.0]);
        assert_eq!(roc.fpr, [0.0, 0.0, 0.5, 0.5, 1.0]);
        assert_eq!(roc.tpr, [0.0, 0.5, 0.5, 1.0, 1.0]);
        assert!((roc.auc() - 0.75).abs() < 1e-12);
        assert!((roc.ks() - 0.5).abs() < 1e-12);
        // A tie between a positive and a negative counts half.
        let tied = Roc::of(&[0.5, 0.5], &[1.0, 0.0]);
        assert!((tied.auc() - 0.5).abs() < 1e-12);
        let perfect = Roc::of(&[0.9, 0.8, 0.2], &[1.0, 1.0, 0.0]);
        assert_eq!(perfect.auc(), 1.0);
        assert_eq!(perfect.ks(), 1.0);
    }

    #[test]
    fn the_parameters_are_read_from_either_apis_job() {
        let v2 = LrParams::of_job(&json!({"epochs": 10, "batch_size": 300,
            "optimizer": {"method": "SGD", "optimizer_params": {"lr": 0.1}, "penalty": "l2", "alpha": 0.001},
            "learning_rate_scheduler": {"method": "linear", "scheduler_params": {"start_factor": 0.7, "total_iters": 100}}}));
        assert_eq!(
            (
                v2.epochs,
                v2.batch_size,
                v2.learning_rate,
                v2.alpha,
                v2.rmsprop
            ),
            (10, 300, 0.1, 0.001, false)
        );
        assert_eq!((v2.start_factor, v2.total_iters), (0.7, 100));
        let v1 = LrParams::of_job(&json!({"penalty": "L2", "tol": 0.0001, "alpha": 0.01,
            "optimizer": "rmsprop", "batch_size": -1, "learning_rate": 0.15, "max_iter": 30}));
        assert_eq!(
            (
                v1.epochs,
                v1.batch_size,
                v1.learning_rate,
                v1.alpha,
                v1.rmsprop,
                v1.tol
            ),
            (30, 0, 0.15, 0.01, true, Some(0.0001))
        );
    }

    #[test]
    fn a_separable_set_is_learned_and_its_loss_falls() {
        let x: Vec<Vec<f64>> = (0..40).map(|i| vec![i as f64 / 10.0 - 2.0]).collect();
        let y: Vec<f64> = (0..40).map(|i| f64::from(u8::from(i >= 20))).collect();
        let p = LrParams {
            epochs: 50,
            batch_size: 16,
            learning_rate: 0.5,
            alpha: 0.0,
            rmsprop: false,
            start_factor: 1.0,
            total_iters: 1,
            tol: None,
        };
        let c = centralized_lr(&x, &y, &p);
        assert_eq!(c.roc.auc(), 1.0);
        assert!(c.loss.last().unwrap() < &(c.loss[0] * 0.8), "{:?}", c.loss);
    }
}
