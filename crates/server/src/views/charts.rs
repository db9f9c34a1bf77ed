//! Charts as SVG rendered on the server: no JavaScript, no third-party files. Every bar carries a
//! `<title>` (its value on hover) and the chart an accessible label; pages also show the numbers
//! in a table.

/// Escape text for SVG/XML content and attributes.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const COLOURS: &[&str] = &["#1d3557", "#e76f51", "#2a9d8f", "#e9c46a"];

/// Horizontal grouped bars: one group per row label, one bar per series.
/// `fmt` formats a value for the hover text.
pub fn grouped_bars(title: &str, series: &[String], rows: &[(String, Vec<f64>)], fmt: &dyn Fn(f64) -> String) -> String {
    let (label_w, bar_w, bar_h, gap) = (190.0, 320.0, 12.0, 10.0);
    let max = rows.iter().flat_map(|r| r.1.iter().copied()).fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
    let group_h = bar_h * series.len() as f64 + gap;
    let legend_h = 22.0;
    let height = legend_h + group_h * rows.len() as f64 + 4.0;
    let width = label_w + bar_w + 90.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" class="chart">"#,
        xml(title)
    );
    s.push_str(&format!("<title>{}</title>", xml(title)));
    for (i, name) in series.iter().enumerate() {
        let x = label_w + i as f64 * 150.0;
        s.push_str(&format!(
            r#"<rect x="{x}" y="4" width="12" height="12" fill="{}"/><text x="{}" y="14" font-size="12">{}</text>"#,
            COLOURS[i % COLOURS.len()],
            x + 16.0,
            xml(name)
        ));
    }
    for (r, (label, values)) in rows.iter().enumerate() {
        let y0 = legend_h + r as f64 * group_h;
        s.push_str(&format!(
            r#"<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            y0 + group_h / 2.0,
            xml(label)
        ));
        for (i, v) in values.iter().enumerate() {
            let w = (v / max * bar_w).max(0.0);
            let y = y0 + i as f64 * bar_h;
            let shown = fmt(*v);
            s.push_str(&format!(
                r#"<rect x="{label_w}" y="{y}" width="{w:.1}" height="{}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{}" font-size="11">{}</text>"#,
                bar_h - 2.0,
                COLOURS[i % COLOURS.len()],
                xml(&series[i]),
                xml(&shown),
                label_w + w + 4.0,
                y + bar_h - 3.0,
                xml(&shown)
            ));
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let svg = grouped_bars("A & B", &["x".into(), "y".into()], &[("<seg>".into(), vec![10.0, 5.0])], &|v| format!("{v}"));
        assert!(svg.contains(r#"aria-label="A &amp; B""#));
        assert!(svg.contains("&lt;seg&gt;") && !svg.contains("<seg>"));
        assert!(svg.contains(r#"width="320.0""#) && svg.contains(r#"width="160.0""#), "{svg}");
        assert!(svg.contains("<title>y: 5</title>"));
    }
}
