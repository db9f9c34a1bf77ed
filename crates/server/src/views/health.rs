//! Health on the pages: the badge (band, score, trend arrow) in lists, and the account page's
//! panel that explains the score measure by measure.

use super::charts::columns;
use super::format::date;
use super::Page;
use crate::ApiError;
use kizuna_domain::health::trend;
use serde::Serialize;

#[derive(Serialize)]
pub struct Badge {
    band: String,
    band_label: String,
    score: String,
    arrow: &'static str,
    arrow_label: String,
}

impl Badge {
    pub fn of(score: Option<f64>, band: Option<&str>, previous: Option<f64>, page: &Page) -> Option<Badge> {
        let (score, band) = (score?, band?);
        let t = trend(previous, Some(score));
        let arrow = match t {
            "up" => "↑",
            "down" => "↓",
            "flat" => "→",
            _ => "",
        };
        Some(Badge {
            band: band.to_string(),
            band_label: page.t(&format!("band.{band}")),
            // One decimal, rounded down, so a 49.96 that is red never reads as 50.0.
            score: super::format::score(score),
            arrow,
            arrow_label: page.t(&format!("trend.{t}")),
        })
    }
}

/// A measure's name for people: built-in inputs are translated, usage metrics keep their
/// configured name, attributes are marked as such.
pub(super) fn measure_label(input: &str, page: &Page, usage: &std::collections::HashMap<String, String>) -> String {
    if let Some(name) = input.strip_prefix("usage.") {
        return usage.get(name).cloned().unwrap_or_else(|| name.to_string());
    }
    if let Some(name) = input.strip_prefix("attribute.") {
        return format!("{}: {name}", page.t("health.attribute"));
    }
    page.t(&format!("health.input.{input}"))
}

/// Built-in group names are translated; a group someone named in a scorecard keeps its name.
pub(super) fn group_label(group: &str, page: &Page) -> String {
    let key = format!("health.group.{group}");
    let text = page.t(&key);
    if text.ends_with(&key) { group.to_string() } else { text }
}

fn number(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) if x.abs() < 10.0 => format!("{x:.2}"),
        Some(x) => format!("{x:.1}"),
    }
}

/// The account page's health panel, formatted for the page.
#[derive(Serialize)]
pub struct Panel {
    badge: Option<Badge>,
    grade: Option<char>,
    scorecard: String,
    measures: Vec<MeasureView>,
    drags: Vec<DragView>,
    changes: Vec<ChangeView>,
    chart: Option<String>,
    previous: Option<PreviousView>,
    note: Option<String>,
    change: Option<String>,
}

#[derive(Serialize)]
struct MeasureView {
    group: String,
    name: String,
    raw: String,
    score: String,
    weight: String,
    contribution: String,
    missing: bool,
}

#[derive(Serialize)]
struct DragView {
    name: String,
    lost: String,
}

#[derive(Serialize)]
struct ChangeView {
    name: String,
    before: String,
    now: String,
    delta: String,
}

#[derive(Serialize)]
struct PreviousView {
    score: String,
    at: String,
}

/// The account page's health panel: None when the account is not paying today.
pub async fn panel(app: kizuna_app::App<'_>, page: &Page, id: &str, today: chrono::NaiveDate) -> Result<Option<Panel>, ApiError> {
    let Some(v) = app.explain(id, today).await? else { return Ok(None) };
    // Usage metrics by their label in the reader's language.
    let usage: std::collections::HashMap<String, String> =
        app.usage_definitions().await?.metrics.iter().map(|m| (m.name.clone(), m.label_in(page.lang).to_string())).collect();
    let measures = v
        .explanation
        .measures
        .iter()
        .map(|m| MeasureView {
            group: group_label(&m.group, page),
            name: measure_label(&m.input, page, &usage),
            raw: number(m.raw),
            score: m.score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into()),
            weight: format!("{:.0}%", m.effective_weight * 100.0),
            contribution: if m.score.is_none() { page.t("health.missing") } else { format!("{:.1}", m.contribution) },
            missing: m.score.is_none(),
        })
        .collect();
    let drags = v.drags.iter().map(|d| DragView { name: measure_label(&d.input, page, &usage), lost: format!("{:.1}", d.points_lost) }).collect();
    let changes = v
        .changes
        .iter()
        .take(5)
        .map(|c| ChangeView { name: measure_label(&c.input, page, &usage), before: number(c.raw_before), now: number(c.raw_now), delta: format!("{:+.1}", c.delta) })
        .collect();
    let mut history: Vec<(String, f64)> = v.history.iter().filter_map(|h| Some((date(h.at, page.lang), h.score?))).collect();
    history.reverse();
    let chart = (history.len() >= 2).then(|| columns(&page.t("health.history"), &history, &|x| format!("{x:.0}")));
    let missing = &v.explanation.missing;
    Ok(Some(Panel {
        badge: Badge::of(v.score, v.band.map(|b| b.as_str()), v.previous.as_ref().and_then(|p| p.score), page),
        grade: v.grade,
        scorecard: v.scorecard.clone(),
        measures,
        drags,
        changes,
        chart,
        previous: v.previous.as_ref().map(|p| PreviousView { score: p.score.map(super::format::score).unwrap_or_else(|| "—".into()), at: date(p.at, page.lang) }),
        note: (!missing.is_empty()).then(|| page.t("health.missing_note").replace("%{count}", &missing.len().to_string())),
        change: v.score_change.map(|c| format!("{c:+.1}")),
    }))
}
