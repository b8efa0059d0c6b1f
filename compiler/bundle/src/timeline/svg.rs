//! The timeline's picture: one inline SVG over the bundle's window, so that what happened when
//! reads at a glance. A time axis; per ledger a lane of its checkpoints (ticks: where signed or
//! MACed checkpoints bind the evidence) and one lane per subsystem with its event density
//! (events per bucket), its evidence gaps shaded with the severity of their `expect`, and its
//! violations, denials and version upgrades/rollbacks marked.
//!
//! The window is cut into [`BUCKETS`] equal buckets, so a day of half a million events draws
//! as many rectangles as five minutes of twenty: one per non-empty bucket and lane. Marks are
//! drawn one per entry within a budget for the whole picture ([`MARK_BUDGET`]; the kinds with
//! fewest marks first), else one per bucket with their count; checkpoints one per bucket when
//! there are more than buckets. So the page stays small whatever the window holds. Every mark carries its time
//! (`data-t`, or `data-from`/`data-to`, Unix ms) and its entry's `data-seq`, a `<title>` that
//! the browser shows on hover (seq, actor, action, resource, result, hash), and the page's
//! script links a click to the entry's row of the table. Text from the ledger is escaped.
//!
//! The output depends on its inputs alone (fixed decimals, sorted lanes), as the bundle's
//! verification re-renders the page byte for byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pip_runtime::hex::to_hex;
use pip_runtime::ledger::Entry;
use pip_runtime::ledger::timefmt::format_millis;

use super::is_violation;
use crate::alerts::AlertHistory;
use crate::manifest::{CheckpointInfo, GapInfo};

/// What the picture shows of one ledger.
pub(crate) struct LedgerPicture<'a> {
    pub(crate) name: &'a str,
    pub(crate) checkpoints: &'a [CheckpointInfo],
    pub(crate) gaps: &'a [GapInfo],
    pub(crate) entries: &'a [Entry],
}

/// Buckets across the window.
pub const BUCKETS: u64 = 240;
/// Most marks drawn one per entry (with the entry's hash) in the whole picture: the lanes and
/// kinds with the fewest marks are drawn one per entry while the budget lasts, the others one
/// per bucket with their count, so the page stays small whatever the window holds.
pub const MARK_BUDGET: usize = 600;

/// Width of the picture, in its own units (it scales to the page).
const WIDTH: f64 = 1200.0;
/// Where the plot starts: lane names are written left of it.
const LEFT: f64 = 250.0;
/// The plot's width.
const PLOT: f64 = WIDTH - LEFT - 10.0;
/// Height of the time axis.
const AXIS: f64 = 26.0;
/// Height of a subsystem's lane, and of a ledger's checkpoint lane.
const LANE: f64 = 30.0;
const CHECKPOINT_LANE: f64 = 20.0;

/// The window and how a time maps to a position.
#[derive(Clone, Copy)]
pub(crate) struct Scale {
    from: u64,
    to: u64,
}

impl Scale {
    pub(crate) fn new(from: u64, to: u64) -> Scale {
        Scale { from, to: to.max(from + 1) }
    }

    fn span(self) -> u64 {
        self.to - self.from
    }

    /// The x of a time (clamped to the window).
    pub(crate) fn x(self, t: u64) -> f64 {
        let t = t.clamp(self.from, self.to);
        LEFT + (t - self.from) as f64 * PLOT / self.span() as f64
    }

    /// The bucket of a time (the last one for the window's end).
    pub(crate) fn bucket(self, t: u64) -> u64 {
        let t = t.clamp(self.from, self.to - 1);
        (u128::from(t - self.from) * u128::from(BUCKETS) / u128::from(self.span())) as u64
    }

    /// The time a bucket starts.
    pub(crate) fn bucket_start(self, b: u64) -> u64 {
        self.from + (u128::from(self.span()) * u128::from(b) / u128::from(BUCKETS)) as u64
    }

    /// The width of one bucket in the picture.
    pub(crate) fn bucket_width() -> f64 {
        PLOT / BUCKETS as f64
    }
}

/// Escapes text for SVG/HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// What a mark stands for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    Violation,
    Denial,
    Version,
}

impl Mark {
    fn of(e: &Entry) -> Option<Mark> {
        if is_violation(e) {
            Some(Mark::Violation)
        } else if e.result == "denied" {
            Some(Mark::Denial)
        } else if e.action == "upgrade" || e.action == "rollback" {
            Some(Mark::Version)
        } else {
            None
        }
    }

    fn class(self) -> &'static str {
        match self {
            Mark::Violation => "violation",
            Mark::Denial => "denial",
            Mark::Version => "version",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Mark::Violation => "violations",
            Mark::Denial => "denials",
            Mark::Version => "version changes",
        }
    }
}

/// `HH:MM` or `HH:MM:SS` (UTC) of a time, or the date too for ticks a day apart.
fn tick_label(t: u64, step: u64) -> String {
    let full = format_millis(t); // 2026-12-04T03:41:48.123Z
    let (date, time) = full.split_once('T').unwrap_or((&full, ""));
    if step >= 86_400_000 {
        date.to_string()
    } else if step >= 60_000 {
        time.get(..5).unwrap_or(time).to_string()
    } else {
        time.get(..8).unwrap_or(time).to_string()
    }
}

/// The axis: a tick every round interval, at most about ten across the window.
fn axis(out: &mut String, s: Scale) {
    const STEPS: [u64; 16] = [
        1_000,
        5_000,
        10_000,
        30_000,
        60_000,
        300_000,
        600_000,
        1_800_000,
        3_600_000,
        7_200_000,
        10_800_000,
        21_600_000,
        43_200_000,
        86_400_000,
        172_800_000,
        604_800_000,
    ];
    let step = STEPS.into_iter().find(|st| s.span() / st <= 10).unwrap_or(604_800_000);
    let _ = write!(out, r##"<g class="axis"><line x1="{LEFT:.1}" y1="{AXIS:.1}" x2="{:.1}" y2="{AXIS:.1}" stroke="#888"/>"##, LEFT + PLOT);
    let mut t = s.from.div_ceil(step) * step;
    while t < s.to {
        let x = s.x(t);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{AXIS:.1}" stroke="#888"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#444">{}</text>"##,
            AXIS - 5.0,
            AXIS - 8.0,
            esc(&tick_label(t, step))
        );
        t += step;
    }
    out.push_str("</g>");
}

/// The `<title>` of an entry's mark.
fn entry_title(e: &Entry) -> String {
    format!(
        "seq {} at {}\nactor: {}\naction: {}\nresource: {}\nresult: {}\nhash: {}",
        e.seq,
        format_millis(e.ts_millis),
        e.actor,
        e.action,
        e.resource,
        e.result,
        to_hex(&e.hash)
    )
}

/// One subsystem's lane of one ledger.
struct Lane<'e> {
    subsystem: &'e str,
    counts: BTreeMap<u64, u64>,
    marks: BTreeMap<Mark, Vec<&'e Entry>>,
    /// The kinds drawn one mark per entry (within [`MARK_BUDGET`]).
    single: std::collections::BTreeSet<Mark>,
}

impl<'e> Lane<'e> {
    fn new(subsystem: &'e str) -> Lane<'e> {
        Lane { subsystem, counts: BTreeMap::new(), marks: BTreeMap::new(), single: std::collections::BTreeSet::new() }
    }
}

/// The lanes of each ledger, with [`MARK_BUDGET`] shared out: the (lane, kind) groups with the
/// fewest marks are drawn one per entry while the budget lasts.
fn lanes_of<'e>(s: Scale, ledgers: &[LedgerPicture<'e>]) -> Vec<BTreeMap<&'e str, Lane<'e>>> {
    let mut all: Vec<BTreeMap<&str, Lane<'_>>> = Vec::new();
    for info in ledgers {
        let mut lanes: BTreeMap<&str, Lane<'_>> = BTreeMap::new();
        for g in info.gaps {
            lanes.entry(&g.subsystem).or_insert_with(|| Lane::new(&g.subsystem));
        }
        for e in info.entries {
            let lane = lanes.entry(&e.subsystem).or_insert_with(|| Lane::new(&e.subsystem));
            *lane.counts.entry(s.bucket(e.ts_millis)).or_default() += 1;
            if let Some(m) = Mark::of(e) {
                lane.marks.entry(m).or_default().push(e);
            }
        }
        all.push(lanes);
    }
    let mut groups: Vec<(usize, usize, String, Mark)> = Vec::new();
    for (i, lanes) in all.iter().enumerate() {
        for (name, lane) in lanes {
            groups.extend(lane.marks.iter().map(|(m, es)| (es.len(), i, (*name).to_string(), *m)));
        }
    }
    groups.sort();
    let mut left = MARK_BUDGET;
    for (n, i, name, m) in groups {
        if n > left {
            break;
        }
        left -= n;
        if let Some(lane) = all.get_mut(i).and_then(|l| l.get_mut(name.as_str())) {
            lane.single.insert(m);
        }
    }
    all
}

/// Height of an alert's lane.
const ALERT_LANE: f64 = 20.0;

/// Draws the picture of `ledgers` over the window `[from_ms, to_ms)`, with the alerts'
/// pending and firing intervals on top when there is an alert history.
pub(crate) fn draw(from_ms: u64, to_ms: u64, ledgers: &[LedgerPicture<'_>], alerts: Option<&AlertHistory>) -> String {
    let s = Scale::new(from_ms, to_ms);
    let mut body = String::new();
    let mut y = AXIS + 6.0;
    if let Some(h) = alerts {
        y = alert_lanes(&mut body, s, y, h);
    }
    let mut lanes = lanes_of(s, ledgers).into_iter();
    for info in ledgers {
        // The ledger's lane: its name and checkpoints.
        let _ = write!(
            body,
            r##"<g class="ledger" data-ledger="{name}"><text x="4" y="{:.1}" font-size="12" font-weight="bold">ledger {name}</text>"##,
            y + 13.0,
            name = esc(info.name)
        );
        checkpoints(&mut body, s, y, info.checkpoints);
        y += CHECKPOINT_LANE;
        let lanes = lanes.next().unwrap_or_default();
        let most = lanes.values().flat_map(|l| l.counts.values()).copied().max().unwrap_or(1).max(1);
        for lane in lanes.values() {
            draw_lane(&mut body, s, y, lane, most, info);
            y += LANE;
        }
        body.push_str("</g>");
        y += 6.0;
    }
    let height = y + 4.0;
    let mut out = String::with_capacity(body.len() + 512);
    let _ = write!(
        out,
        r#"<svg id="timeline-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0} {height:.0}" width="100%" data-from="{}" data-to="{}" data-left="{LEFT:.1}" data-plot="{PLOT:.1}" data-width="{WIDTH:.0}" data-buckets="{BUCKETS}" role="img" aria-label="timeline of the bundle window">"#,
        s.from, s.to
    );
    axis(&mut out, s);
    out.push_str(&body);
    let _ = write!(
        out,
        r##"<rect id="timeline-selection" x="{LEFT:.1}" y="0" width="0" height="{height:.0}" fill="#3b7ddd" fill-opacity="0.12" visibility="hidden"/></svg>"##
    );
    out
}

/// A ledger's checkpoints in the window: a tick each, or one per bucket when there are more
/// than buckets.
fn checkpoints(out: &mut String, s: Scale, y: f64, all: &[CheckpointInfo]) {
    let inside: Vec<&CheckpointInfo> = all.iter().filter(|c| c.time_ms >= s.from && c.time_ms < s.to).collect();
    let (y1, y2) = (y + 3.0, y + CHECKPOINT_LANE - 3.0);
    if inside.len() as u64 <= BUCKETS {
        for c in inside {
            let x = s.x(c.time_ms);
            let _ = write!(
                out,
                r##"<line class="checkpoint" data-t="{t}" data-seq="{seq}" x1="{x:.1}" y1="{y1:.1}" x2="{x:.1}" y2="{y2:.1}" stroke="#2b8a3e" stroke-width="2"><title>checkpoint binding seq 1..{seq} at {time} (written by the {by})&#10;head {head}</title></line>"##,
                t = c.time_ms,
                seq = c.seq,
                time = format_millis(c.time_ms),
                by = esc(&c.written_by),
                head = esc(&c.head)
            );
        }
        return;
    }
    let mut per: BTreeMap<u64, (u64, &CheckpointInfo)> = BTreeMap::new();
    for c in inside {
        let slot = per.entry(s.bucket(c.time_ms)).or_insert((0, c));
        slot.0 += 1;
        slot.1 = c;
    }
    for (b, (n, last)) in per {
        let (start, end) = (s.bucket_start(b), s.bucket_start(b + 1));
        let x = s.x(start) + Scale::bucket_width() / 2.0;
        let _ = write!(
            out,
            r##"<line class="checkpoint many" data-from="{start}" data-to="{end}" data-count="{n}" data-seq="{seq}" x1="{x:.1}" y1="{y1:.1}" x2="{x:.1}" y2="{y2:.1}" stroke="#2b8a3e" stroke-width="2"><title>{n} checkpoint(s) from {} to {}; the last binds seq 1..{seq}</title></line>"##,
            format_millis(start),
            format_millis(end),
            seq = last.seq
        );
    }
}

/// The alerts' lanes from `y`: one per alert, its pending and firing intervals; returns
/// where the next lane starts.
fn alert_lanes(out: &mut String, s: Scale, mut y: f64, h: &AlertHistory) -> f64 {
    let _ = write!(out, r#"<g class="alerts"><text x="4" y="{:.1}" font-size="12" font-weight="bold">alerts</text>"#, y + 13.0);
    if h.alerts.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{LEFT:.1}" y="{:.1}" font-size="12" fill="#555">no alert of the spec was pending or firing in the window</text>"##,
            y + 13.0
        );
    }
    y += CHECKPOINT_LANE;
    for a in &h.alerts {
        let label = |k: &str| a.labels.get(k).map_or("", String::as_str);
        let (construct, severity) = (label("construct"), label("severity"));
        // What tells two alerts of one construct apart: a gap's subsystem, an SLO's tier.
        let which =
            ["subsystem", "burn_tier", "level"].into_iter().find_map(|k| a.labels.get(k).map(|v| format!(" {k}={v}"))).unwrap_or_default();
        let name = format!("{} {construct}{which} ({severity})", a.alertname);
        let short: String = if name.chars().count() > 40 { name.chars().take(39).chain(['…']).collect() } else { name.clone() };
        let all: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(
            out,
            r##"<g class="alert" data-alertname="{}" data-construct="{}" data-severity="{}"><text x="14" y="{:.1}" font-size="11" fill="#333"><title>{}</title>{}</text>"##,
            esc(&a.alertname),
            esc(construct),
            esc(severity),
            y + 14.0,
            esc(&format!("{} {{{}}}", a.alertname, all.join(", "))),
            esc(&short)
        );
        for i in &a.intervals {
            let (x0, x1) = (s.x(i.from_ms), s.x(i.to_ms));
            let (fill, opacity) = if i.state == "firing" { ("#e03131", "0.9") } else { ("#f08c00", "0.5") };
            let _ = write!(
                out,
                r#"<rect class="interval {state}" data-state="{state}" data-from="{from}" data-to="{to}" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}" fill-opacity="{opacity}"><title>{name} {state} from {} to {}</title></rect>"#,
                y + 3.0,
                (x1 - x0).max(1.0),
                ALERT_LANE - 6.0,
                format_millis(i.from_ms),
                format_millis(i.to_ms),
                state = esc(&i.state),
                from = i.from_ms,
                to = i.to_ms,
                name = esc(&name)
            );
        }
        out.push_str("</g>");
        y += ALERT_LANE;
    }
    out.push_str("</g>");
    y + 6.0
}

/// A subsystem's lane: gaps behind, density bars, then marks on top.
fn draw_lane(out: &mut String, s: Scale, y: f64, lane: &Lane<'_>, most: u64, info: &LedgerPicture<'_>) {
    let sub = esc(lane.subsystem);
    let _ = write!(
        out,
        r##"<g class="lane" data-subsystem="{sub}"><text x="14" y="{:.1}" font-size="12" fill="#333">{sub}</text><line x1="{LEFT:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/>"##,
        y + 18.0,
        y + LANE - 1.0,
        LEFT + PLOT,
        y + LANE - 1.0
    );
    for g in info.gaps.iter().filter(|g| g.subsystem == lane.subsystem) {
        let (x0, x1) = (s.x(g.from_ms), s.x(g.to_ms));
        let _ = write!(
            out,
            r##"<rect class="gap" data-from="{from}" data-to="{to}" data-severity="{sev}" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#3b7ddd" fill-opacity="0.18" stroke="#3b7ddd" stroke-dasharray="3 2"><title>evidence gap ({sev}): {sub} silent from {} to {}{}</title></rect>"##,
            y + 1.0,
            (x1 - x0).max(1.0),
            LANE - 3.0,
            format_millis(g.from_ms),
            format_millis(g.to_ms),
            if g.ongoing { " (to the end of the window)" } else { "" },
            from = g.from_ms,
            to = g.to_ms,
            sev = esc(&g.severity)
        );
    }
    let w = Scale::bucket_width();
    for (&b, &n) in &lane.counts {
        let h = 3.0 + (LANE - 9.0) * n as f64 / most as f64;
        let (start, end) = (s.bucket_start(b), s.bucket_start(b + 1));
        let _ = write!(
            out,
            r##"<rect class="density" data-from="{start}" data-to="{end}" data-count="{n}" x="{:.1}" y="{:.1}" width="{w:.2}" height="{h:.1}" fill="#7a8ca8"><title>{n} event(s) from {} to {}</title></rect>"##,
            s.x(start),
            y + LANE - 2.0 - h,
            format_millis(start),
            format_millis(end)
        );
    }
    for (&kind, entries) in &lane.marks {
        let (color, top) = match kind {
            Mark::Violation => ("#c92a2a", 2.0),
            Mark::Denial => ("#e8590c", 9.0),
            Mark::Version => ("#7048e8", 16.0),
        };
        if lane.single.contains(&kind) {
            for e in entries {
                let x = s.x(e.ts_millis);
                let _ = write!(
                    out,
                    r#"<path class="mark {class}" data-seq="{seq}" data-t="{t}" d="M{x:.1} {:.1}l4 5l-4 5l-4 -5z" fill="{color}"><title>{title}</title></path>"#,
                    y + top,
                    class = kind.class(),
                    seq = e.seq,
                    t = e.ts_millis,
                    title = esc(&entry_title(e))
                );
            }
        } else {
            let mut per: BTreeMap<u64, (u64, &Entry)> = BTreeMap::new();
            for e in entries {
                per.entry(s.bucket(e.ts_millis)).or_insert((0, e)).0 += 1;
            }
            for (b, (n, first)) in per {
                let (start, end) = (s.bucket_start(b), s.bucket_start(b + 1));
                let _ = write!(
                    out,
                    r#"<rect class="mark {class} many" data-seq="{seq}" data-from="{start}" data-to="{end}" data-count="{n}" x="{:.1}" y="{:.1}" width="{w:.2}" height="10" fill="{color}"><title>{n} {plural} from {} to {}; the first: seq {seq} at {}</title></rect>"#,
                    s.x(start),
                    y + top,
                    format_millis(start),
                    format_millis(end),
                    format_millis(first.ts_millis),
                    class = kind.class(),
                    plural = kind.plural(),
                    seq = first.seq
                );
            }
        }
    }
    out.push_str("</g>");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    fn entry(seq: u64, t: u64, subsystem: &str, action: &str, result: &str) -> Entry {
        Entry {
            seq,
            ts_millis: t,
            subsystem: subsystem.into(),
            actor: "svc".into(),
            action: action.into(),
            resource: "acct/1".into(),
            result: result.into(),
            payload: "{}".into(),
            prev: [0; 32],
            hash: [7; 32],
            mac: [0; 32],
            offset: 0,
        }
    }

    /// The value of `attr` in the first element of `svg` that carries `marker` before it.
    fn attr<'s>(svg: &'s str, marker: &str, attr: &str) -> &'s str {
        let at = svg.find(marker).unwrap_or_else(|| panic!("no {marker} in {svg}"));
        let rest = &svg[at..];
        let start = rest.find(&format!(" {attr}=\"")).unwrap() + attr.len() + 3;
        &rest[start..start + rest[start..].find('"').unwrap()]
    }

    /// Five minutes from t = 0: x = 250 + t / 300 000 × 940.
    fn five_minutes(entries: &[Entry], gaps: &[GapInfo], checkpoints: &[CheckpointInfo]) -> String {
        draw(0, 300_000, &[LedgerPicture { name: "audit", checkpoints, gaps, entries }], None)
    }

    #[test]
    fn each_violation_denial_version_change_gap_and_checkpoint_is_drawn_at_its_time() {
        let mut entries: Vec<Entry> = (1..=20).map(|i| entry(i, i * 10_000, "billing", "charge", "ok")).collect();
        entries[14] = entry(15, 150_000, "billing", "violation", "violated");
        entries[5] = entry(6, 60_000, "billing", "charge", "denied");
        entries[9] = entry(10, 100_000, "config", "rollback", "ok");
        let gaps = [GapInfo { subsystem: "settlement".into(), from_ms: 60_000, to_ms: 120_000, severity: "P2".into(), ongoing: false }];
        let checkpoints = [CheckpointInfo { seq: 12, time_ms: 120_000, head: "ab".into(), written_by: "ledger".into() }];
        let svg = five_minutes(&entries, &gaps, &checkpoints);
        assert_eq!(
            attr(&svg, r#"class="mark violation""#, "d"),
            "M720.0 2.0l4 5l-4 5l-4 -5z".replace("2.0", &format!("{:.1}", attr_y(&svg, "billing") + 2.0))
        );
        assert!(svg.contains(r#"class="mark violation" data-seq="15" data-t="150000""#), "{svg}");
        assert!(attr(&svg, r#"class="mark denial""#, "d").starts_with("M438.0 "));
        assert!(attr(&svg, r#"class="mark version""#, "d").starts_with("M563.3 "));
        assert_eq!((attr(&svg, r#"class="gap""#, "x"), attr(&svg, r#"class="gap""#, "width")), ("438.0", "188.0"));
        assert_eq!(attr(&svg, r#"class="checkpoint""#, "x1"), "626.0");
        // Lanes: the gap's subsystem has one even without events, and lanes are sorted.
        let lanes: Vec<&str> = svg
            .match_indices(r#"class="lane" data-subsystem=""#)
            .map(|(i, m)| &svg[i + m.len()..][..svg[i + m.len()..].find('"').unwrap()])
            .collect();
        assert_eq!(lanes, ["billing", "config", "settlement"]);
        // The same inputs draw the same bytes.
        assert_eq!(svg, five_minutes(&entries, &gaps, &checkpoints));
    }

    /// The top of a subsystem's lane.
    fn attr_y(svg: &str, subsystem: &str) -> f64 {
        let y: f64 = attr(svg, &format!(r#"class="lane" data-subsystem="{subsystem}""#), "y").parse().unwrap();
        y - 18.0
    }

    #[test]
    fn each_alert_has_a_lane_with_its_pending_and_firing_intervals_at_their_times() {
        use crate::alerts::{AlertSeries, Interval};
        let labels = |construct: &str| {
            [("construct", construct), ("severity", "critical")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let interval = |state: &str, from_ms, to_ms| Interval { state: state.into(), from_ms, to_ms };
        let h = AlertHistory {
            query: "ALERTS{spec=\"shop\"}".into(),
            start_ms: 0,
            end_ms: 300_000,
            step_ms: 30,
            alerts: vec![
                AlertSeries {
                    alertname: "PipInvariantViolated".into(),
                    labels: labels("a"),
                    intervals: vec![interval("pending", 30_000, 60_000), interval("firing", 60_000, 150_000)],
                },
                AlertSeries {
                    alertname: "PipInvariantViolated".into(),
                    labels: labels("<b>"),
                    intervals: vec![interval("firing", 240_000, 300_000)],
                },
            ],
        };
        let svg = draw(0, 300_000, &[], Some(&h));
        assert_eq!(svg.matches(r#"<g class="alert" "#).count(), 2);
        assert_eq!((attr(&svg, r#"class="interval pending""#, "x"), attr(&svg, r#"class="interval pending""#, "width")), ("344.0", "94.0"));
        assert_eq!((attr(&svg, r#"class="interval firing""#, "x"), attr(&svg, r#"class="interval firing""#, "width")), ("438.0", "282.0"));
        assert!(svg.contains(r#"data-construct="&lt;b&gt;""#) && !svg.contains("<b>"), "{svg}");
        let quiet = AlertHistory { alerts: Vec::new(), ..h };
        assert!(draw(0, 300_000, &[], Some(&quiet)).contains("no alert of the spec was pending or firing in the window"));
    }

    #[test]
    fn text_from_the_ledger_is_escaped() {
        let mut e = entry(1, 1_000, "<b>sub</b>", "violation", "violated");
        e.actor = "\"><script>alert(1)</script>".into();
        let svg = five_minutes(&[e], &[], &[]);
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;") && svg.contains("&quot;&gt;"), "{svg}");
    }

    #[test]
    fn beyond_the_mark_limit_violations_are_drawn_per_bucket_with_their_count() {
        let n = MARK_BUDGET as u64 + 100;
        let entries: Vec<Entry> = (1..=n).map(|i| entry(i, i * 300_000 / (n + 1), "billing", "violation", "violated")).collect();
        let svg = five_minutes(&entries, &[], &[]);
        assert!(!svg.contains(r#"<path class="mark violation""#));
        let counted: u64 = svg
            .match_indices(r#"class="mark violation many""#)
            .map(|(i, _)| attr(&svg[i..], "many", "data-count").parse::<u64>().unwrap())
            .sum();
        assert_eq!(counted, n);
        assert!(svg.matches(r#"class="mark violation many""#).count() <= BUCKETS as usize);
    }

    #[test]
    fn one_mark_per_entry_within_the_budget_for_the_fewest_and_checkpoints_per_bucket_beyond_the_buckets() {
        // Three lanes of denials: 100, 300 and 500. The budget (600) takes 100 and 300 one by one.
        let mut entries = Vec::new();
        for (sub, n) in [("a", 100u64), ("b", 300), ("c", 500)] {
            let base = entries.len() as u64;
            entries.extend((0..n).map(|i| entry(base + i + 1, i * 500, sub, "charge", "denied")));
        }
        entries.sort_by_key(|e| e.ts_millis);
        let checkpoints: Vec<CheckpointInfo> =
            (0..1000u64).map(|i| CheckpointInfo { seq: i + 1, time_ms: i * 300, head: "ab".into(), written_by: "ledger".into() }).collect();
        let svg = five_minutes(&entries, &[], &checkpoints);
        assert_eq!(svg.matches(r#"<path class="mark denial""#).count(), 400);
        let many: u64 = svg
            .match_indices(r#"class="mark denial many""#)
            .map(|(i, _)| attr(&svg[i..], "many", "data-count").parse::<u64>().unwrap())
            .sum();
        assert_eq!(many, 500);
        assert_eq!(svg.matches(r#"<line class="checkpoint many""#).count(), BUCKETS as usize);
        let ticks: u64 = svg
            .match_indices(r#"class="checkpoint many""#)
            .map(|(i, _)| attr(&svg[i..], "many", "data-count").parse::<u64>().unwrap())
            .sum();
        assert_eq!(ticks, 1000);
    }

    #[test]
    fn a_day_of_half_a_million_events_draws_one_rectangle_per_bucket_and_lane() {
        let day = 86_400_000u64;
        let subsystems = ["auth", "billing", "settlement", "config"];
        let entries: Vec<Entry> = (0..500_000u64)
            .map(|i| {
                let (action, result) = if i % 2_000 == 0 { ("violation", "violated") } else { ("charge", "ok") };
                entry(i + 1, i * day / 500_000, subsystems[(i % 4) as usize], action, result)
            })
            .collect();
        let svg = draw(0, day, &[LedgerPicture { name: "audit", checkpoints: &[], gaps: &[], entries: &entries }], None);
        assert_eq!(svg.matches(r#"class="density""#).count(), 4 * BUCKETS as usize);
        // 250 violations: each its own mark.
        assert_eq!(svg.matches(r#"<path class="mark violation""#).count(), 250);
        assert!(svg.len() < 512 * 1024, "{} bytes", svg.len());
    }
}
