//! Report output: JSON (the contract), CSV (one row per object, nested values as JSON text) or
//! an aligned text table for people.

use serde_json::Value;

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

fn cell(v: &Value, table: bool) -> String {
    match v {
        Value::Null => String::new(),
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

pub fn render(v: &Value, format: Format) -> String {
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
                rows.iter().map(|r| keys.iter().map(|k| cell(r.get(*k).unwrap_or(&Value::Null), true)).collect()).collect();
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
    fn csv_keeps_key_order_and_nulls_are_empty() {
        let v = serde_json::json!([{"month": "2024-01", "new": 1.5, "quick_ratio": null}]);
        assert_eq!(render(&v, Format::Csv), "month,new,quick_ratio\n2024-01,1.5,\n");
    }

    #[test]
    fn table_aligns_columns() {
        let v = serde_json::json!({"group": "all", "nrr": 1.0523456});
        assert_eq!(render(&v, Format::Table), "group     nrr\n  all  1.0523\n");
    }
}
