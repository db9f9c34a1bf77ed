//! `kizuna plan ...`: team capacity, budget and maturity from a scenario (TOML) and live data;
//! scenarios saved in the database; export to an .xlsx workbook for the executives.

use anyhow::Context;
use chrono::NaiveDate;
use kizuna_app::planning::{self, PlanKind};
use kizuna_app::{render, Format};
use kizuna_domain::planning::Scenario;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct PlanArgs {
    /// Scenario file (TOML; see `kizuna plan example`). Default: the saved scenario --name, or
    /// the example's assumptions with the live book of accounts.
    #[arg(long, conflicts_with = "name")]
    scenario: Option<PathBuf>,
    /// A scenario saved with `kizuna plan save`.
    #[arg(long)]
    name: Option<String>,
    /// Date of the live data (YYYY-MM-DD); default today.
    #[arg(long)]
    at: Option<NaiveDate>,
    /// Output format.
    #[arg(long, default_value = "json", value_parser = ["json", "csv", "table"])]
    format: String,
    /// Also write the plan to this .xlsx workbook.
    #[arg(long)]
    xlsx: Option<PathBuf>,
    /// Language of the workbook's sheet and column names.
    #[arg(long, default_value = "ja", value_parser = ["ja", "en"])]
    lang: String,
}

#[derive(clap::Subcommand)]
pub enum Plan {
    /// CSMs needed top-down (ARR or accounts per CSM) against bottom-up (hours per account by
    /// touch model ÷ productive hours), the gap and what closes it, CS Ops and team leads.
    Capacity(PlanArgs),
    /// Month by month: accounts from the business plan and churn, CSMs needed for the touch mix,
    /// when each hire must start (with ramp-up) and its requisition open, CS Ops and leads; the
    /// first month the current team and a high-touch-only model fall short; the seed's mix paths.
    Hiring(PlanArgs),
    /// CS cost, its split under the four funding strategies, the S&M split against 65/15/20
    /// (CAC/CEC/CRC), and the ROI of CS spend from retained and expanded ARR.
    Budget(PlanArgs),
    /// Maturity stage (reactive, proactive, predictive) from the questionnaire, with the stage's
    /// goals and their KPIs' current values.
    Maturity(PlanArgs),
    /// Funnel (marketing lead → meeting → opportunity → won → onboarded → renewed): conversion
    /// and lag between stages by month, from `import funnel-leads` or `import funnel-counts`, and
    /// LTV by touch tier.
    Funnel(PlanArgs),
    /// Check a scenario file and save it in the database under NAME.
    Save {
        name: String,
        #[arg(long)]
        scenario: PathBuf,
    },
    /// List saved scenarios.
    List,
    /// Print a complete example scenario (TOML) to start from.
    Example,
}

fn read_scenario(path: &Path) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Scenario::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub async fn run(db: &str, plan: Plan) -> anyhow::Result<ExitCode> {
    let (kind, args) = match plan {
        Plan::Capacity(a) => (PlanKind::Capacity, a),
        Plan::Hiring(a) => (PlanKind::Hiring, a),
        Plan::Budget(a) => (PlanKind::Budget, a),
        Plan::Maturity(a) => (PlanKind::Maturity, a),
        Plan::Funnel(a) => (PlanKind::Funnel, a),
        Plan::Example => {
            print!("{}", kizuna_domain::planning::scenario::EXAMPLE);
            return Ok(ExitCode::SUCCESS);
        }
        Plan::Save { name, scenario } => {
            let text = std::fs::read_to_string(&scenario).with_context(|| format!("reading {}", scenario.display()))?;
            Scenario::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", scenario.display()))?;
            let store = super::open(db).await?;
            let operator = kizuna_app::Actor::operator();
            kizuna_app::App::new(store.as_ref(), &operator).save_scenario(&name, &text).await?;
            println!("saved scenario {name:?} from {}", scenario.display());
            return Ok(ExitCode::SUCCESS);
        }
        Plan::List => {
            for (name, at) in super::open(db).await?.scenarios().await? {
                println!("{name}\t{}", kizuna_domain::time::local(at).format("%Y-%m-%d %H:%M"));
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let store = super::open(db).await?;
    let operator = kizuna_app::Actor::operator();
    let app = kizuna_app::App::new(store.as_ref(), &operator);
    let scenario = match &args.scenario {
        Some(path) => read_scenario(path)?,
        None => app.scenario(args.name.as_deref()).await?,
    };
    let at = args.at.unwrap_or_else(kizuna_app::today);
    let value = app.plan(kind, &scenario, at).await?;
    let format = Format::parse(&args.format).expect("clap checked the format");
    match format {
        Format::Json => print!("{}", render(&value, format)),
        _ => print!("{}", render(&planning::rows(kind, &value), format)),
    }
    if let Some(path) = &args.xlsx {
        write_xlsx(path, kind, &value, &args.lang).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A workbook with the plan's rows on the first sheet and every figure (flattened key → value)
/// on a second, so nothing in the JSON is lost.
fn write_xlsx(path: &Path, kind: PlanKind, plan: &planning::PlanOutput, lang: &str) -> anyhow::Result<()> {
    use rust_xlsxwriter::{Format as XFormat, Workbook};
    let mut wb = Workbook::new();
    let bold = XFormat::new().set_bold();
    let rows = planning::rows(kind, plan);
    let value = &serde_json::to_value(plan)?;
    let sheet = wb.add_worksheet();
    sheet.set_name(label(kind.name(), lang))?;
    if let Some(first) = rows.as_array().and_then(|r| r.first()).and_then(Value::as_object) {
        let keys: Vec<&String> = first.keys().collect();
        for (c, k) in keys.iter().enumerate() {
            sheet.write_with_format(0, c as u16, label(k, lang), &bold)?;
        }
        for (r, row) in rows.as_array().into_iter().flatten().enumerate() {
            for (c, k) in keys.iter().enumerate() {
                write_cell(sheet, r as u32 + 1, c as u16, &row[k.as_str()])?;
            }
        }
    }
    let detail = wb.add_worksheet();
    detail.set_name(label("detail", lang))?;
    detail.write_with_format(0, 0, label("key", lang), &bold)?;
    detail.write_with_format(0, 1, label("value", lang), &bold)?;
    let mut flat = vec![];
    flatten("", value, &mut flat);
    for (i, (k, v)) in flat.iter().enumerate() {
        detail.write_string(i as u32 + 1, 0, k.as_str())?;
        write_cell(detail, i as u32 + 1, 1, v)?;
    }
    detail.set_column_width(0, 48)?;
    wb.save(path)?;
    Ok(())
}

/// Text goes in as a string cell, never a formula: `=cmd|...` in a scenario name stays text.
fn write_cell(sheet: &mut rust_xlsxwriter::Worksheet, r: u32, c: u16, v: &Value) -> Result<(), rust_xlsxwriter::XlsxError> {
    match v {
        Value::Number(n) => sheet.write_number(r, c, n.as_f64().unwrap_or(0.0)).map(|_| ()),
        Value::Bool(b) => sheet.write_boolean(r, c, *b).map(|_| ()),
        Value::Null => Ok(()),
        Value::String(s) => sheet.write_string(r, c, s.as_str()).map(|_| ()),
        other => sheet.write_string(r, c, other.to_string()).map(|_| ()),
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(o) => o.iter().for_each(|(k, v)| flatten(&join(prefix, k), v, out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| flatten(&join(prefix, &i.to_string()), v, out)),
        leaf => out.push((prefix.to_string(), leaf.clone())),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

/// Sheet and column names for the workbook: (key, English, Japanese).
const LABELS: &[(&str, &str, &str)] = &[
    ("capacity", "Capacity", "必要人数"),
    ("hiring", "Hiring plan", "採用計画"),
    ("budget", "Budget", "予算"),
    ("maturity", "Maturity", "成熟度"),
    ("funnel", "Funnel", "ファネル"),
    ("detail", "All figures", "全項目"),
    ("key", "Item", "項目"),
    ("value", "Value", "値"),
    ("segment", "Segment", "セグメント"),
    ("touch_model", "Touch model", "タッチモデル"),
    ("accounts", "Accounts", "顧客数"),
    ("arr", "ARR", "ARR"),
    ("hours_per_month", "CSM hours per month", "月間必要工数（時間）"),
    ("bottom_up_fte", "Bottom-up FTE", "ボトムアップ必要人数"),
    ("top_down_fte_by_arr", "Top-down FTE (ARR)", "トップダウン人数（ARR基準）"),
    ("top_down_fte_by_accounts", "Top-down FTE (accounts)", "トップダウン人数（顧客数基準）"),
    ("month", "Month", "月"),
    ("high", "High touch share", "ハイタッチ比率"),
    ("hybrid", "Hybrid share", "ハイブリッド比率"),
    ("tech", "Tech touch share", "テックタッチ比率"),
    ("required_fte", "FTE needed", "必要人数（FTE）"),
    ("required_csms", "CSMs needed", "必要CSM数"),
    ("headcount", "CSMs on the team", "在籍CSM数"),
    ("capacity_fte", "Capacity (FTE)", "稼働能力（FTE）"),
    ("shortfall_fte", "Shortfall (FTE)", "不足（FTE）"),
    ("hires_starting", "Hires starting", "入社人数"),
    ("requisitions_opening", "Requisitions opening", "採用開始人数"),
    ("cs_ops", "CS Ops", "CSオペレーション"),
    ("leads", "Team leads", "チームリーダー"),
    ("strategy", "Funding strategy", "予算戦略"),
    ("sales_marketing", "Sales & marketing", "販売・マーケティング費"),
    ("cogs", "Cost of goods sold", "売上原価"),
    ("stage", "Stage", "段階"),
    ("goal", "Goal", "目標"),
    ("kpi", "KPI", "評価指標"),
    ("lead", "Marketing leads", "マーケティングリード"),
    ("meeting", "Inside-sales meetings", "インサイドセールス商談"),
    ("opportunity", "Field-sales opportunities", "フィールドセールス案件"),
    ("won", "Won", "受注"),
    ("onboarded", "Onboarded", "オンボーディング完了"),
    ("renewed", "Renewed", "更新"),
    ("lead_to_meeting", "Lead → meeting", "リード→商談"),
    ("meeting_to_opportunity", "Meeting → opportunity", "商談→案件"),
    ("opportunity_to_won", "Opportunity → won", "案件→受注"),
    ("won_to_onboarded", "Won → onboarded", "受注→オンボーディング完了"),
    ("onboarded_to_renewed", "Onboarded → renewed", "オンボーディング完了→更新"),
    ("lead_to_won", "Lead → won", "リード→受注"),
    ("median_days_lead_to_meeting", "Median days lead → meeting", "リード→商談（日数中央値）"),
    ("median_days_meeting_to_opportunity", "Median days meeting → opportunity", "商談→案件（日数中央値）"),
    ("median_days_opportunity_to_won", "Median days opportunity → won", "案件→受注（日数中央値）"),
    ("median_days_won_to_onboarded", "Median days won → onboarded", "受注→オンボーディング完了（日数中央値）"),
    ("median_days_onboarded_to_renewed", "Median days onboarded → renewed", "オンボーディング完了→更新（日数中央値）"),
];

fn label<'a>(key: &'a str, lang: &str) -> &'a str {
    match LABELS.iter().find(|l| l.0 == key) {
        Some(l) if lang == "ja" => l.2,
        Some(l) => l.1,
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_column_has_both_labels() {
        let keys = [
            "segment", "touch_model", "accounts", "arr", "hours_per_month", "bottom_up_fte", "top_down_fte_by_arr",
            "top_down_fte_by_accounts", "month", "high", "hybrid", "tech", "required_fte", "required_csms", "headcount",
            "capacity_fte", "shortfall_fte", "hires_starting", "requisitions_opening", "cs_ops", "leads", "strategy",
            "sales_marketing", "cogs", "stage", "goal", "kpi", "value", "lead", "meeting", "opportunity", "won", "onboarded",
            "renewed", "lead_to_meeting", "meeting_to_opportunity", "opportunity_to_won", "won_to_onboarded",
            "onboarded_to_renewed", "lead_to_won", "median_days_lead_to_meeting", "median_days_meeting_to_opportunity",
            "median_days_opportunity_to_won", "median_days_won_to_onboarded", "median_days_onboarded_to_renewed",
        ];
        for k in keys {
            assert!(LABELS.iter().any(|l| l.0 == k), "{k} has no label");
        }
        assert_eq!(label("required_csms", "ja"), "必要CSM数");
        assert_eq!(label("required_csms", "en"), "CSMs needed");
    }
}
