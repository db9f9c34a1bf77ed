//! Charts as SVG rendered on the server: no JavaScript, no third-party files. Every bar carries a
//! `<title>` (its value on hover) and the chart an accessible label; pages also show the numbers
//! in a table. A chart is drawn at its own size, never scaled down: its box scrolls sideways on a
//! narrow screen instead, so no text falls below [`MIN_FONT`] pixels.

/// The smallest text a chart draws, in CSS pixels at its displayed size.
pub const MIN_FONT: f64 = 11.0;

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
        r#"<div class="chart-box"><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" class="chart">"#,
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
                r#"<rect x="{label_w}" y="{y}" width="{w:.1}" height="{}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{}" font-size="{MIN_FONT}">{}</text>"#,
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
    s.push_str("</svg></div>");
    s
}


fn svg_open(title: &str, width: f64, height: f64) -> String {
    format!(
        r#"<div class="chart-box"><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" class="chart"><title>{t}</title>"#,
        t = xml(title)
    )
}

/// One value per month as stacked columns: positive series above the zero line, negative
/// series (given as positive amounts) below it. The MRR movements ("waterfall by month") chart.
pub fn diverging_columns(
    title: &str,
    labels: &[String],
    up: &[(String, Vec<f64>)],
    down: &[(String, Vec<f64>)],
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let (left, col_w, plot_h, top) = (70.0, 44.0, 220.0, 26.0);
    let width = left + col_w * labels.len().max(1) as f64 + 10.0;
    let sum = |series: &[(String, Vec<f64>)], i: usize| series.iter().map(|s| s.1.get(i).copied().unwrap_or(0.0).max(0.0)).sum::<f64>();
    let max_up = (0..labels.len()).map(|i| sum(up, i)).fold(0.0, f64::max);
    let max_down = (0..labels.len()).map(|i| sum(down, i)).fold(0.0, f64::max);
    let scale = plot_h / (max_up + max_down).max(f64::MIN_POSITIVE);
    let zero = top + max_up * scale;
    let height = top + plot_h + 40.0;
    let mut s = svg_open(title, width, height);
    let palette = ["#2a9d8f", "#1d3557", "#8ab17d", "#e76f51", "#b5179e"];
    for (i, (name, _)) in up.iter().chain(down).enumerate() {
        let x = left + i as f64 * 120.0;
        s.push_str(&format!(r#"<rect x="{x}" y="6" width="12" height="12" fill="{}"/><text x="{}" y="16" font-size="12">{}</text>"#, palette[i % 5], x + 16.0, xml(name)));
    }
    s.push_str(&format!(r##"<line x1="{left}" x2="{}" y1="{zero:.1}" y2="{zero:.1}" stroke="#52606d"/>"##, width - 10.0));
    s.push_str(&format!(r#"<text x="{}" y="{:.1}" font-size="{MIN_FONT}" text-anchor="end">{}</text>"#, left - 4.0, top + 8.0, xml(&fmt(max_up))));
    s.push_str(&format!(r#"<text x="{}" y="{:.1}" font-size="{MIN_FONT}" text-anchor="end">-{}</text>"#, left - 4.0, top + plot_h, xml(&fmt(max_down))));
    for (i, label) in labels.iter().enumerate() {
        let x = left + i as f64 * col_w + 6.0;
        let mut y_up = zero;
        for (k, (name, values)) in up.iter().enumerate() {
            let h = values.get(i).copied().unwrap_or(0.0).max(0.0) * scale;
            y_up -= h;
            s.push_str(&format!(r#"<rect x="{x:.1}" y="{y_up:.1}" width="{}" height="{h:.1}" fill="{}"><title>{} {}: {}</title></rect>"#, col_w - 12.0, palette[k % 5], xml(label), xml(name), xml(&fmt(values.get(i).copied().unwrap_or(0.0)))));
        }
        let mut y_down = zero;
        for (k, (name, values)) in down.iter().enumerate() {
            let h = values.get(i).copied().unwrap_or(0.0).max(0.0) * scale;
            s.push_str(&format!(r#"<rect x="{x:.1}" y="{y_down:.1}" width="{}" height="{h:.1}" fill="{}"><title>{} {}: -{}</title></rect>"#, col_w - 12.0, palette[(up.len() + k) % 5], xml(label), xml(name), xml(&fmt(values.get(i).copied().unwrap_or(0.0)))));
            y_down += h;
        }
        s.push_str(&format!(r#"<text x="{:.1}" y="{:.1}" font-size="{MIN_FONT}" text-anchor="middle">{}</text>"#, x + (col_w - 12.0) / 2.0, top + plot_h + 16.0, xml(label)));
    }
    s.push_str("</svg></div>");
    s
}

/// One column per label (an account's MRR by month).
pub fn columns(title: &str, points: &[(String, f64)], fmt: &dyn Fn(f64) -> String) -> String {
    let (left, col_w, plot_h, top) = (70.0, 26.0, 160.0, 10.0);
    let width = left + col_w * points.len().max(1) as f64 + 10.0;
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let height = top + plot_h + 34.0;
    let mut s = svg_open(title, width, height);
    s.push_str(&format!(r#"<text x="{}" y="{}" font-size="{MIN_FONT}" text-anchor="end">{}</text>"#, left - 4.0, top + 8.0, xml(&fmt(max))));
    let base = top + plot_h;
    s.push_str(&format!(r##"<line x1="{left}" x2="{}" y1="{base}" y2="{base}" stroke="#52606d"/>"##, width - 10.0));
    for (i, (label, v)) in points.iter().enumerate() {
        let h = v.max(0.0) / max * plot_h;
        let x = left + i as f64 * col_w + 3.0;
        s.push_str(&format!(r##"<rect x="{x:.1}" y="{:.1}" width="{}" height="{h:.1}" fill="#1d3557"><title>{}: {}</title></rect>"##, base - h, col_w - 6.0, xml(label), xml(&fmt(*v))));
        if i % 3 == 0 {
            s.push_str(&format!(r#"<text x="{:.1}" y="{:.1}" font-size="{MIN_FONT}" text-anchor="start">{}</text>"#, x, base + 14.0, xml(label)));
        }
    }
    s.push_str("</svg></div>");
    s
}

/// Background for a retention cell: white at 0, dark teal at 1 (clamped).
pub fn heat(v: f64) -> String {
    let v = v.clamp(0.0, 1.0);
    let mix = |lo: f64, hi: f64| (lo + (hi - lo) * v).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(255.0, 42.0), mix(255.0, 157.0), mix(255.0, 143.0))
}

/// Text colour readable on [`heat`]'s background.
pub fn heat_text(v: f64) -> &'static str {
    if v > 0.55 { "#ffffff" } else { "#1f2933" }
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

    #[test]
    fn diverging_columns_stack_up_and_down_from_zero() {
        // Max up 30 + max down 10 = 40 over 220 px: 5.5 px per unit; zero at 26 + 30 × 5.5 = 191.
        let svg = diverging_columns("m", &["Jan".into()], &[("new".into(), vec![20.0]), ("exp".into(), vec![10.0])], &[("churn".into(), vec![10.0])], &|v| format!("{v}"));
        assert!(svg.contains(r#"y1="191.0""#), "{svg}");
        assert!(svg.contains(r#"y="81.0" width="32" height="110.0""#), "new: 20 × 5.5 above zero: {svg}");
        assert!(svg.contains(r#"y="191.0" width="32" height="55.0""#), "churn below zero: {svg}");
        assert!(svg.contains("<title>Jan churn: -10</title>"));
    }

    #[test]
    fn no_chart_text_is_smaller_than_the_minimum_and_every_chart_sits_in_a_scrolling_box() {
        let fmt = |v: f64| format!("{v}");
        let charts = [
            grouped_bars("g", &["x".into()], &[("a".into(), vec![1.0])], &fmt),
            diverging_columns("d", &["Jan".into()], &[("new".into(), vec![2.0])], &[("churn".into(), vec![1.0])], &fmt),
            columns("c", &[("2026-01".into(), 1.0)], &fmt),
        ];
        for svg in charts {
            assert!(svg.starts_with(r#"<div class="chart-box"><svg"#) && svg.ends_with("</svg></div>"), "{svg}");
            let sizes: Vec<f64> = svg.split(r#"font-size=""#).skip(1).map(|rest| rest.split('"').next().unwrap().parse().unwrap()).collect();
            assert!(!sizes.is_empty() && sizes.iter().all(|s| *s >= MIN_FONT), "{sizes:?}");
        }
    }

    #[test]
    fn columns_and_heat() {
        let svg = columns("c", &[("a".into(), 50.0), ("b".into(), 100.0)], &|v| format!("{v}"));
        assert!(svg.contains(r#"height="80.0""#) && svg.contains(r#"height="160.0""#));
        assert_eq!(heat(0.0), "#ffffff");
        assert_eq!(heat(1.0), "#2a9d8f");
        assert_eq!(heat_text(0.9), "#ffffff");
    }
}
