//! A training test's report: one HTML file that needs nothing but itself to open (styles inline,
//! charts as inline SVG drawn by plotters, no script). Per job: the verdict, ROC of both models
//! on one chart, the KS curve, the loss per iteration, the timeline, the data; then the lab.

use std::fmt::Write;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::clients::fateflow::Curve;
use crate::model::report::{JobReport, Report};

/// The federated model's colour, and the centralized one's, on every chart.
pub const FEDERATED: RGBColor = RGBColor(31, 119, 180);
pub const CENTRALIZED: RGBColor = RGBColor(255, 127, 14);
const GREY: RGBColor = RGBColor(150, 150, 150);
const SIZE: (u32, u32) = (460, 340);

/// Text for HTML: what the user named (a file path) is shown, never interpreted.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn drawn<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// One line of a chart, named in its legend.
struct Series {
    name: String,
    colour: RGBColor,
    points: Vec<(f64, f64)>,
}

fn series(name: impl Into<String>, colour: RGBColor, points: Vec<(f64, f64)>) -> Series {
    Series {
        name: name.into(),
        colour,
        points,
    }
}

/// A line chart of named series on `x`×`y` ranges.
fn chart(
    caption: &str,
    (x_desc, y_desc): (&str, &str),
    (x, y): (std::ops::Range<f64>, std::ops::Range<f64>),
    lines: &[Series],
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(drawn)?;
        let mut c = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(48)
            .build_cartesian_2d(x, y)
            .map_err(drawn)?;
        c.configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(drawn)?;
        for line in lines {
            let colour = line.colour;
            c.draw_series(LineSeries::new(line.points.clone(), colour.stroke_width(2)))
                .map_err(drawn)?
                .label(line.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(GREY)
            .draw()
            .map_err(drawn)?;
        root.present().map_err(drawn)?;
    }
    Ok(svg)
}

fn points(c: &Curve) -> Vec<(f64, f64)> {
    c.x.iter().copied().zip(c.y.iter().copied()).collect()
}

fn span(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    (lo - pad)..(hi + pad)
}

fn roc_chart(j: &JobReport) -> Result<String> {
    let mut lines = Vec::new();
    if let Some(roc) = j.federated.as_ref().and_then(|e| e.roc.as_ref()) {
        let mut p = points(roc);
        p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let auc = j.federated.as_ref().map_or(0.0, |e| e.auc);
        lines.push(series(format!("federated (AUC {auc:.4})"), FEDERATED, p));
    }
    if let Some(roc) = &j.centralized {
        let p = roc
            .fpr
            .iter()
            .copied()
            .zip(roc.tpr.iter().copied())
            .collect();
        lines.push(series(
            format!("centralized (AUC {:.4})", roc.auc()),
            CENTRALIZED,
            p,
        ));
    }
    lines.push(series("chance", GREY, vec![(0.0, 0.0), (1.0, 1.0)]));
    chart(
        "ROC",
        ("false positive rate", "true positive rate"),
        (0.0..1.0, 0.0..1.0),
        &lines,
    )
}

fn ks_chart(j: &JobReport) -> Result<Option<String>> {
    let Some(e) = &j.federated else {
        return Ok(None);
    };
    let (Some(tpr), Some(fpr)) = (&e.ks_tpr, &e.ks_fpr) else {
        return Ok(None);
    };
    let x = span(tpr.x.iter().chain(&fpr.x).copied());
    let caption = format!("KS {:.4} (federated)", e.ks.unwrap_or_default());
    chart(
        &caption,
        ("cut (share of scores)", "rate"),
        (x, 0.0..1.0),
        &[
            series("true positive rate", FEDERATED, points(tpr)),
            series("false positive rate", CENTRALIZED, points(fpr)),
        ],
    )
    .map(Some)
}

fn loss_chart(j: &JobReport) -> Result<Option<String>> {
    let mut lines = Vec::new();
    if let Some(l) = j.loss.as_ref().filter(|l| !l.x.is_empty()) {
        lines.push(series("federated", FEDERATED, points(l)));
    }
    if !j.centralized_loss.is_empty() {
        let p = j
            .centralized_loss
            .iter()
            .enumerate()
            .map(|(i, l)| (i as f64, *l))
            .collect();
        lines.push(series("centralized", CENTRALIZED, p));
    }
    if lines.is_empty() {
        return Ok(None);
    }
    let x = span(lines.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let y = span(lines.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    chart("Loss per iteration", ("iteration", "loss"), (x, y), &lines).map(Some)
}

fn timeline_chart(j: &JobReport) -> Result<Option<String>> {
    if j.timeline.is_empty() {
        return Ok(None);
    }
    let n = j.timeline.len();
    let end = j.timeline.iter().map(|s| s.end_s).fold(1.0, f64::max);
    let start = j.timeline.iter().map(|s| s.start_s).fold(0.0, f64::min);
    let mut svg = String::new();
    {
        let height = 70 + 30 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (940, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawn)?;
        // One band per span, the first at the top; a segmented range is inclusive, hence n - 1
        // (but never an empty range: plotters draws no labels on one).
        let mut c = ChartBuilder::on(&root)
            .caption("Timeline (seconds from the start)", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(250)
            .build_cartesian_2d(start..end * 1.02, (0..(n - 1).max(1)).into_segmented())
            .map_err(drawn)?;
        let label = |i: usize| {
            (n - 1)
                .checked_sub(i)
                .and_then(|k| j.timeline.get(k))
                .map(|s| s.label.clone())
        };
        c.configure_mesh()
            .disable_y_mesh()
            .y_labels(n + 1)
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(i) => label(*i).unwrap_or_default(),
                _ => String::new(),
            })
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(drawn)?;
        c.draw_series(j.timeline.iter().enumerate().map(|(i, s)| {
            let band = n - 1 - i;
            let colour = if s.label.starts_with("upload") || s.label.starts_with("found") {
                CENTRALIZED
            } else {
                FEDERATED
            };
            let right = s.end_s.max(s.start_s + end / 400.0);
            Rectangle::new(
                [
                    (s.start_s, SegmentValue::Exact(band)),
                    (right, SegmentValue::Exact(band + 1)),
                ],
                colour.filled(),
            )
            .into_dyn()
        }))
        .map_err(drawn)?;
        root.present().map_err(drawn)?;
    }
    Ok(Some(svg))
}

fn figure(id: &str, svg: Option<String>, missing: &str) -> String {
    match svg {
        Some(svg) => format!("<figure id=\"{id}\">{svg}</figure>\n"),
        None => format!("<figure id=\"{id}\" class=\"missing\"><p>{missing}</p></figure>\n"),
    }
}

fn job_section(out: &mut String, j: &JobReport) -> Result<()> {
    let r = &j.result;
    let hosts: Vec<String> = r.hosts.iter().map(u32::to_string).collect();
    let _ = writeln!(
        out,
        "<section class=\"job\"><h2>{} job · guest {} / host {} · <span class=\"{}\">{}</span></h2>",
        r.kind,
        r.guest,
        hosts.join(","),
        if r.success() { "ok" } else { "bad" },
        esc(r.job_id.as_deref().unwrap_or("not submitted"))
    );
    let verdict = match (&r.baseline, r.metrics) {
        (Some(b), m) => b.line(r.kind, m.map(|m| m.auc)),
        (None, Some(m)) => format!("federated AUC {:.4}", m.auc),
        (None, None) => String::new(),
    };
    let _ = writeln!(
        out,
        "<p class=\"verdict\" id=\"verdict\">{}</p>",
        esc(&verdict)
    );
    if let Some(e) = &r.error {
        let _ = writeln!(out, "<pre class=\"error\">{}</pre>", esc(e));
    }
    out.push_str("<div class=\"charts\">\n");
    out.push_str(&figure("roc", Some(roc_chart(j)?), ""));
    out.push_str(&figure(
        "ks",
        ks_chart(j)?,
        "FATE Flow recorded no KS curve for this job.",
    ));
    out.push_str(&figure(
        "loss",
        loss_chart(j)?,
        "FATE Flow reported no loss for this job.",
    ));
    out.push_str("</div>\n");
    out.push_str(&figure(
        "timeline",
        timeline_chart(j)?,
        "No task records: the job did not run.",
    ));
    if let Some(d) = &r.data {
        let _ = writeln!(
            out,
            "<table id=\"data\"><tr><th></th><th>file</th><th>table in FATE</th><th>rows</th><th>features</th></tr>"
        );
        for (who, t) in [("guest", &d.guest), ("host", &d.host)] {
            let _ = writeln!(
                out,
                "<tr><td>{who}</td><td>{}</td><td>experiment.{}</td><td>{}</td><td>{}</td></tr>",
                esc(&t.source),
                esc(&t.table),
                t.rows,
                t.features
            );
        }
        let _ = writeln!(
            out,
            "<tr><td>shared ids</td><td colspan=\"4\">{} (the rows PSI finds and both models train and are evaluated on)</td></tr></table>",
            d.shared_ids
        );
    }
    if let Some(t) = r.timings {
        let _ = writeln!(
            out,
            "<p>upload {:.1} s · training {:.1} s · metrics {:.1} s · whole job {:.1} s{}</p>",
            t.upload_s,
            t.train_s,
            t.metrics_s,
            r.duration_s,
            r.baseline
                .as_ref()
                .map(|b| format!(" · centralized baseline {:.2} s", b.train_s))
                .unwrap_or_default()
        );
    }
    out.push_str("</section>\n");
    Ok(())
}

/// The whole report.
pub fn html(report: &Report) -> Result<String> {
    let at = k8s_openapi::jiff::Timestamp::from_second(report.at)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>fatelab training report</title>\n<style>\n\
         body{font-family:sans-serif;margin:2em auto;max-width:980px;color:#222}\n\
         h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em}\n\
         .charts{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}\n\
         .missing{width:460px;height:80px;color:#777;border:1px dashed #ccc;display:flex;align-items:center;justify-content:center}\n\
         .verdict{font-size:1.1em;font-weight:bold}.ok{color:#1a7f37}.bad{color:#c62828}\n\
         pre.error{white-space:pre-wrap;background:#fff4f4;padding:.6em}\n\
         table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left}\n\
         </style></head><body>\n",
    );
    let _ = writeln!(
        out,
        "<h1>fatelab training report</h1>\n<p>{} · {}</p>",
        esc(&report.release),
        esc(&at)
    );
    for j in &report.jobs {
        job_section(&mut out, j)?;
    }
    out.push_str(
        "<section id=\"lab\"><h2>The lab</h2><table><tr><th>party</th><th>FATE Flow</th></tr>\n",
    );
    for (id, address) in &report.parties {
        let _ = writeln!(out, "<tr><td>{id}</td><td>{}</td></tr>", esc(address));
    }
    out.push_str("</table></section>\n</body></html>\n");
    Ok(out)
}

/// The ROC curves as characters: `*` federated, `o` centralized, `#` both, `.` chance.
pub fn text_roc(
    federated: Option<&Curve>,
    centralized: Option<&Curve>,
    w: usize,
    h: usize,
) -> String {
    let mut grid = vec![vec![' '; w]; h];
    let cell = |x: f64, y: f64| {
        let c = ((x * (w - 1) as f64).round() as usize).min(w - 1);
        let r = h - 1 - ((y * (h - 1) as f64).round() as usize).min(h - 1);
        (r, c)
    };
    for i in 0..w {
        let x = i as f64 / (w - 1) as f64;
        let (r, c) = cell(x, x);
        grid[r][c] = '.';
    }
    let mut mark = |curve: &Curve, ch: char| {
        // Enough samples along each segment that the line has no gaps.
        for (a, b) in curve
            .x
            .iter()
            .zip(&curve.y)
            .zip(curve.x.iter().zip(&curve.y).skip(1))
        {
            for k in 0..=8 {
                let t = f64::from(k) / 8.0;
                let (r, c) = cell(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
                grid[r][c] = match (grid[r][c], ch) {
                    ('*', 'o') | ('o', '*') | ('#', _) => '#',
                    _ => ch,
                };
            }
        }
    };
    if let Some(c) = federated {
        mark(c, '*');
    }
    if let Some(c) = centralized {
        mark(c, 'o');
    }
    let mut out = String::new();
    for (i, row) in grid.iter().enumerate() {
        let axis = match i {
            0 => "1.0 |",
            _ if i == h - 1 => "0.0 |",
            _ => "    |",
        };
        let _ = writeln!(out, "{axis}{}", row.iter().collect::<String>().trim_end());
    }
    let _ = writeln!(out, "    +{}", "-".repeat(w));
    let _ = writeln!(
        out,
        "     0.0{:>width$}   * federated  o centralized  # both  . chance",
        "1.0 (false positive rate)",
        width = w.saturating_sub(3)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::fateflow::Evaluation;
    use crate::model::baseline::Roc;
    use crate::model::jobs::{JobKind, JobResult};
    use crate::model::report::Span;

    fn job() -> JobReport {
        let roc = Roc::of(&[0.9, 0.8, 0.7, 0.1], &[1.0, 0.0, 1.0, 0.0]);
        JobReport {
            result: JobResult::failed(JobKind::Lr, 9999, 10000),
            federated: Some(Evaluation {
                auc: 0.75,
                ks: Some(0.5),
                roc: Some(Curve {
                    x: roc.fpr.clone(),
                    y: roc.tpr.clone(),
                }),
                ks_tpr: None,
                ks_fpr: None,
            }),
            centralized: Some(roc),
            loss: None,
            centralized_loss: vec![0.69, 0.5, 0.4],
            timeline: vec![Span {
                label: "psi_0 <x>".into(),
                start_s: 1.0,
                end_s: 3.0,
            }],
        }
    }

    #[test]
    fn the_report_draws_both_curves_and_escapes_what_the_user_named() {
        let html = html(&Report {
            at: 0,
            release: "v2.2.0 <local>".into(),
            parties: vec![(9999, "127.0.0.1:9380".into())],
            jobs: vec![job()],
        })
        .unwrap();
        assert!(!html.contains("<script"));
        assert!(html.contains("v2.2.0 &lt;local&gt;"));
        assert!(html.contains("psi_0 &lt;x&gt;"), "labels are text in SVG");
        let roc = &html[html.find("id=\"roc\"").unwrap()..html.find("id=\"ks\"").unwrap()];
        for colour in ["#1F77B4", "#FF7F0E"] {
            assert!(
                roc.to_uppercase().contains(&format!("STROKE=\"{colour}\"")),
                "{colour}"
            );
        }
        assert!(html.contains("FATE Flow recorded no KS curve"));
    }

    #[test]
    fn the_text_roc_marks_both_curves_where_they_run() {
        let diagonal = Curve {
            x: vec![0.0, 1.0],
            y: vec![0.0, 1.0],
        };
        let step = Curve {
            x: vec![0.0, 0.0, 1.0],
            y: vec![0.0, 1.0, 1.0],
        };
        let text = text_roc(Some(&step), Some(&diagonal), 20, 6);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("1.0 |*"), "{text}");
        assert!(lines[0].ends_with('#'), "both reach (1,1): {text}");
        assert!(lines[3].contains('o'), "{text}");
    }
}
