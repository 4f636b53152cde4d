//! Inline SVG: line charts with axes and a shaded fault window, and the incident
//! timeline. Plain SVG elements only, so the page needs no script and no network.

use std::fmt::Write as _;

use super::escape;

/// A shaded time window (the fault) and point markers (the alert) shared by every plot.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    /// Fault windows, ms from the start of the telemetry.
    pub windows: Vec<(u64, u64)>,
    /// The alert time, ms.
    pub alert_ms: Option<u64>,
}

/// One line to plot: (time ms, value) points; `None` values are gaps.
pub struct Line<'a> {
    /// The chart's title.
    pub title: &'a str,
    /// The unit of the values, shown on the axis.
    pub unit: &'a str,
    /// The points.
    pub points: Vec<(u64, Option<f64>)>,
}

const W: f64 = 340.0;
const H: f64 = 160.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 32.0;
const BOTTOM: f64 = 26.0;

/// A value for an axis label: `1.2k`, `350M`, `0.031`.
pub fn short_num(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if x.abs() >= 100.0 {
        0
    } else if x.abs() >= 10.0 {
        1
    } else if x == 0.0 || x.abs() >= 0.1 {
        2
    } else {
        4
    };
    format!("{x:.digits$}{suffix}")
}

fn minutes(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// A line chart of one series over `[0, end_ms]` with both axes labelled, the fault
/// windows shaded and the alert marked.
pub fn line_chart(line: &Line<'_>, end_ms: u64, marks: &Marks) -> String {
    let end = end_ms.max(1) as f64;
    let vals: Vec<f64> = line
        .points
        .iter()
        .filter_map(|p| p.1)
        .filter(|v| v.is_finite())
        .collect();
    let (mut lo, mut hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if vals.is_empty() {
        (lo, hi) = (0.0, 1.0);
    }
    if lo > 0.0 && lo < hi * 0.5 {
        lo = 0.0;
    }
    if (hi - lo).abs() < f64::EPSILON {
        hi = lo + if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
    }
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |t: u64| LEFT + (t as f64 / end).min(1.0) * pw;
    let y = |v: f64| TOP + (1.0 - (v - lo) / (hi - lo)) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{title}"><title>{title}</title>"#,
        title = escape(line.title)
    );
    let _ = write!(
        s,
        r#"<text x="4" y="14" class="ct">{}</text>"#,
        escape(line.title)
    );
    for (a, b) in &marks.windows {
        let _ = write!(
            s,
            r#"<rect class="fault" x="{:.1}" y="{TOP}" width="{:.1}" height="{ph}"/>"#,
            x(*a),
            (x(*b) - x(*a)).max(1.0)
        );
    }
    // Axes, three value ticks and three time ticks.
    let _ = write!(
        s,
        r#"<path class="axis" d="M{LEFT} {TOP}V{yb}H{xr}"/>"#,
        yb = TOP + ph,
        xr = LEFT + pw
    );
    for k in 0..=2 {
        let v = lo + (hi - lo) * f64::from(k) / 2.0;
        let yy = y(v);
        let _ = write!(
            s,
            r#"<path class="grid" d="M{LEFT} {yy:.1}H{xr}"/><text x="{tx}" y="{ty:.1}" class="yl">{}</text>"#,
            short_num(v),
            xr = LEFT + pw,
            tx = LEFT - 4.0,
            ty = yy + 3.5
        );
        let t = (end * f64::from(k) / 2.0) as u64;
        let anchor = ["start", "middle", "end"][k as usize];
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" class="xl" text-anchor="{anchor}">{}</text>"#,
            x(t),
            H - 8.0,
            minutes(t)
        );
    }
    // The unit sits under the title, above the value axis, so long titles keep room.
    let _ = write!(
        s,
        r#"<text x="4" y="{}" class="unit">{}</text>"#,
        TOP - 6.0,
        escape(line.unit)
    );
    if let Some(a) = marks.alert_ms {
        let _ = write!(
            s,
            r#"<path class="alert" d="M{:.1} {TOP}V{}"/>"#,
            x(a),
            TOP + ph
        );
    }
    // The line, broken at gaps.
    let mut d = String::new();
    let mut pen_down = false;
    for (t, v) in &line.points {
        match v.filter(|v| v.is_finite()) {
            Some(v) => {
                let _ = write!(
                    d,
                    "{}{:.1} {:.1}",
                    if pen_down { "L" } else { "M" },
                    x(*t),
                    y(v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    if d.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="nodata">no data</text>"#,
            LEFT + 10.0,
            TOP + ph / 2.0
        );
    } else {
        let _ = write!(s, r#"<path class="line" d="{d}"/>"#);
    }
    s.push_str("</svg>");
    s
}

/// One tick on the timeline.
pub struct Tick {
    /// When, ms.
    pub t_ms: u64,
    /// `deploy`, `warning`, `normal`.
    pub class: &'static str,
    /// The hover text.
    pub label: String,
}

/// The incident timeline: fault windows, the injection and the alert marked, deploys
/// and events as ticks in their own lanes.
pub fn timeline(end_ms: u64, marks: &Marks, ticks: &[Tick]) -> String {
    const TW: f64 = 960.0;
    const TH: f64 = 132.0;
    // Lane names sit in a left gutter, so they never collide with the marks.
    let (l, r) = (110.0, 16.0);
    let end = end_ms.max(1) as f64;
    let x = |t: u64| l + (t as f64 / end).min(1.0) * (TW - l - r);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="timeline" viewBox="0 0 {TW} {TH}" width="100%" role="img" aria-label="incident timeline"><title>incident timeline</title>"#
    );
    for (a, b) in &marks.windows {
        let _ = write!(
            s,
            r#"<rect class="fault" x="{:.1}" y="24" width="{:.1}" height="72"/><path class="inject" d="M{:.1} 10V96"/><text x="{:.1}" y="19" class="mark">fault injected {}</text>"#,
            x(*a),
            (x(*b) - x(*a)).max(1.0),
            x(*a),
            x(*a) + 4.0,
            minutes(*a)
        );
    }
    if let Some(a) = marks.alert_ms {
        let _ = write!(
            s,
            r#"<path class="alert" d="M{:.1} 24V108"/><text x="{:.1}" y="108" class="mark alert-text">alert {}</text>"#,
            x(a),
            x(a) + 4.0,
            minutes(a)
        );
    }
    let lanes = [
        ("deploy", 40.0, "deploys"),
        ("warning", 60.0, "warning events"),
        ("normal", 80.0, "other events"),
    ];
    for (class, yy, name) in lanes {
        let _ = write!(s, r#"<path class="lane" d="M{l} {yy}H{}"/>"#, TW - r);
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="lane-label" text-anchor="end">{name}</text>"#,
            l - 8.0,
            yy + 4.0
        );
        for t in ticks.iter().filter(|t| t.class == class) {
            let _ = write!(
                s,
                r#"<path class="tick {class}" d="M{:.1} {}V{}"><title>{}</title></path>"#,
                x(t.t_ms),
                yy - 6.0,
                yy + 6.0,
                escape(&t.label)
            );
        }
    }
    for k in 0..=6 {
        let t = (end * f64::from(k) / 6.0) as u64;
        let anchor = match k {
            0 => "start",
            6 => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="126" class="xl" text-anchor="{anchor}">{}</text>"#,
            x(t),
            minutes(t)
        );
    }
    s.push_str("</svg>");
    s
}
