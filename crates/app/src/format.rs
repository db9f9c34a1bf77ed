//! Report output: JSON (the contract), CSV (one row per object, nested values as JSON text) or
//! an aligned text table for people, where amounts of money are shown as money in the
//! reporting currency (`¥213,624,900`, with the currency's own decimals: none for JPY).

use kizuna_domain::money::{format_money, group_thousands};
use serde_json::Value;
use std::borrow::Cow;

/// The currency reports sum MRR in (every imported amount is in it; JPY by default).
pub const REPORT_CURRENCY: &str = "JPY";

/// Fields that hold an amount of money, in currency units, wherever they appear.
pub const MONEY: &[&str] = &[
    "mrr", "arr", "arpa", "arpa_per_period", "ltv", "starting_mrr", "new", "expansion", "contraction", "churn",
    "reactivation", "ending_mrr", "net_change", "mrr_start", "mrr_retained", "churned_mrr", "downsell_mrr",
    "mrr_lost", "expected_mrr_lost", "mrr_at_risk",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Table,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "json" => Format::Json,
            "csv" => Format::Csv,
            "table" => Format::Table,
            _ => return None,
        })
    }
}

/// Rows of a report: an array's objects, or the one object.
fn rows(v: &Value) -> Vec<&serde_json::Map<String, Value>> {
    match v {
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        Value::Object(o) => match o.get("cohorts").and_then(Value::as_array) {
            Some(cohorts) if o.contains_key("measure") => cohorts.iter().filter_map(Value::as_object).collect(),
            _ => vec![o],
        },
        _ => vec![],
    }
}

/// A table cell of field `key`: money as money, whole counts with thousands separators.
fn table_cell(key: &str, v: &Value) -> String {
    match v {
        Value::Number(n) if MONEY.contains(&key) => n.as_f64().map(|f| format_money((f * 100.0).round() as i64, REPORT_CURRENCY)).unwrap_or_default(),
        Value::Number(n) if n.is_u64() || n.is_i64() => {
            let i = n.as_i64().unwrap_or(i64::MAX);
            let grouped = group_thousands(i.unsigned_abs());
            if i < 0 { format!("-{grouped}") } else { grouped }
        }
        Value::Object(o) => o.iter().map(|(k, v)| format!("{k}={}", table_cell(k, v))).collect::<Vec<_>>().join(" "),
        other => cell(other, true),
    }
}

/// A text cell as a spreadsheet may safely open it (OWASP, CSV injection): text that starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a formula, so it gets a leading
/// `'`, which spreadsheets show as text. Only text cells: a number column keeps its negative
/// numbers as numbers.
pub fn safe_text(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

fn cell(v: &Value, table: bool) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) if !table => safe_text(s).into_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) if table => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() != 0.0 => format!("{f:.4}"),
            _ => n.to_string(),
        },
        Value::Array(items) if table => {
            items.iter().map(|i| cell(i, true)).collect::<Vec<_>>().join(" ")
        }
        other => other.to_string(),
    }
}

/// [`render`] where CSV and table rows are the array `key` of a report object; a table shows
/// the report's other plain fields first, one per line.
pub fn render_rows<T: serde::Serialize + ?Sized>(v: &T, format: Format, key: &str) -> String {
    let v = &serde_json::to_value(v).expect("reports serialise");
    let Some(rows) = v.get(key).filter(|r| r.is_array()) else { return render(v, format) };
    match format {
        Format::Json => render(v, format),
        Format::Csv => render(rows, format),
        Format::Table => {
            let mut out = String::new();
            if let Some(o) = v.as_object() {
                // Plain one-line fields; long texts (a TOML proposal) are for JSON readers.
                let plain = |x: &Value| !x.is_array() && !x.is_object() && !x.as_str().is_some_and(|s| s.contains('\n'));
                for (k, x) in o.iter().filter(|(k, x)| *k != key && plain(x)) {
                    out.push_str(&format!("{k}: {}\n", table_cell(k, x)));
                }
                out.push('\n');
            }
            out + &render(rows, format)
        }
    }
}

/// Any report as JSON, CSV or a table (its rows are the array, or the object's array fields).
pub fn render<T: serde::Serialize + ?Sized>(v: &T, format: Format) -> String {
    render_value(&serde_json::to_value(v).expect("reports serialise"), format)
}

fn render_value(v: &Value, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(v).expect("JSON") + "\n",
        Format::Csv => {
            let rows = rows(v);
            let mut w = csv::Writer::from_writer(vec![]);
            if let Some(first) = rows.first() {
                w.write_record(first.keys()).expect("in-memory write");
                for r in &rows {
                    w.write_record(first.keys().map(|k| cell(r.get(k).unwrap_or(&Value::Null), false))).expect("in-memory write");
                }
            }
            String::from_utf8(w.into_inner().expect("flush")).expect("UTF-8")
        }
        Format::Table => {
            let rows = rows(v);
            let Some(first) = rows.first() else { return String::new() };
            let keys: Vec<&String> = first.keys().collect();
            let cells: Vec<Vec<String>> =
                rows.iter().map(|r| keys.iter().map(|k| table_cell(k, r.get(*k).unwrap_or(&Value::Null))).collect()).collect();
            let widths: Vec<usize> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| cells.iter().map(|c| c[i].chars().count()).max().unwrap_or(0).max(k.len()))
                .collect();
            let line = |items: Vec<String>| {
                items.iter().zip(&widths).map(|(s, w)| format!("{s:>w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string() + "\n"
            };
            let mut out = line(keys.iter().map(|k| k.to_string()).collect());
            for c in cells {
                out.push_str(&line(c));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_neutralises_formulas_in_text_but_not_numbers() {
        let v = serde_json::json!([
            {"group": "=cmd|' /C calc'!A0", "mrr": -1200.5},
            {"group": "+1+1", "mrr": -3},
            {"group": "@SUM(A1:A2)", "mrr": 0},
            {"group": "-2", "mrr": 1},
            {"group": "\tx", "mrr": 1},
            {"group": "\ry", "mrr": 1},
            {"group": "a=b", "mrr": 1},
        ]);
        assert_eq!(
            render(&v, Format::Csv),
            "group,mrr\n'=cmd|' /C calc'!A0,-1200.5\n'+1+1,-3\n'@SUM(A1:A2),0\n'-2,1\n'\tx,1\n\"'\ry\",1\na=b,1\n"
        );
        assert!(render(&v, Format::Table).lines().nth(1).unwrap().trim_start().starts_with("=cmd|"), "tables are for people, unchanged");
    }

    #[test]
    fn csv_keeps_key_order_and_nulls_are_empty() {
        let v = serde_json::json!([{"month": "2024-01", "new": 1.5, "quick_ratio": null}]);
        assert_eq!(render(&v, Format::Csv), "month,new,quick_ratio\n2024-01,1.5,\n");
    }

    #[test]
    fn tables_show_money_as_money() {
        let v = serde_json::json!([{"month": "2026-11", "ending_mrr": 213624900.0, "customers_end": 1234, "quick_ratio": 1.5}]);
        assert_eq!(render(&v, Format::Table), "  month    ending_mrr  customers_end  quick_ratio\n2026-11  ¥213,624,900          1,234       1.5000\n");
        // CSV keeps plain numbers for spreadsheets.
        assert_eq!(render(&v, Format::Csv), "month,ending_mrr,customers_end,quick_ratio\n2026-11,213624900.0,1234,1.5\n");
    }

    #[test]
    fn rows_of_a_report_object() {
        let v = serde_json::json!({"auc": 0.75, "observations": 1200, "dates": [{"at": "2026-10-01", "churned": 3}]});
        assert_eq!(render_rows(&v, Format::Csv, "dates"), "at,churned\n2026-10-01,3\n");
        assert_eq!(render_rows(&v, Format::Table, "dates"), "auc: 0.7500\nobservations: 1,200\n\n        at  churned\n2026-10-01        3\n");
    }

    #[test]
    fn table_aligns_columns() {
        let v = serde_json::json!({"group": "all", "nrr": 1.0523456});
        assert_eq!(render(&v, Format::Table), "group     nrr\n  all  1.0523\n");
    }
}
