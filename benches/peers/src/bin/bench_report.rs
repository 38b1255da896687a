//! Turns criterion's output (`target/criterion/*/new/{benchmark,estimates}.json`) into the
//! comparison table of `docs/BENCHMARKS.md` and the chart `docs/benchmarks.svg`.
//!
//! Benchmarks are grouped by the part of their id before the first `/`
//! (`switch_round_trip/greenthread`, `switch_round_trip/corosensei`, ...); within a group every
//! entry is compared with the one whose name starts with `greenthread`. Only groups measured
//! in the same run should be compared: `scripts/benchmarks.sh` runs them together.
//!
//! Usage: `bench-report [--criterion DIR] [--out-md FILE] [--out-svg FILE] [--extra FILE]
//! [--instructions FILE]` where `--extra` names a file of `label<TAB>value<TAB>unit` lines
//! (e.g. memory per green thread from `examples/parked.rs`) added to the table as measured,
//! and `--instructions` a file of `group/implementation<TAB>count` lines (callgrind
//! instructions per iteration, from `scripts/instructions.sh`) shown beside the times, with
//! greenthread's count divided by each peer's.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

struct Entry {
    name: String,
    mean_ns: f64,
    lo_ns: f64,
    hi_ns: f64,
}

fn read_entries(dir: &Path) -> BTreeMap<String, Vec<Entry>> {
    let mut groups: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    // criterion keeps `<id>/new/` for a plain benchmark and `<group>/<function>/new/` for a
    // benchmark group: look two levels down.
    let mut dirs = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        eprintln!("bench-report: no criterion output in {}", dir.display());
        return groups;
    };
    for d in rd.flatten() {
        let p = d.path();
        dirs.push(p.clone());
        if let Ok(sub) = fs::read_dir(&p) {
            dirs.extend(sub.flatten().map(|e| e.path()));
        }
    }
    for d in dirs {
        let new = d.join("new");
        let (Ok(b), Ok(e)) = (
            fs::read_to_string(new.join("benchmark.json")),
            fs::read_to_string(new.join("estimates.json")),
        ) else {
            continue;
        };
        let b: serde_json::Value = serde_json::from_str(&b).expect("benchmark.json");
        let e: serde_json::Value = serde_json::from_str(&e).expect("estimates.json");
        let title = b["title"].as_str().unwrap_or_default().to_string();
        let mean = &e["mean"];
        let (group, name) = match title.split_once('/') {
            Some((g, n)) => (g.to_string(), n.to_string()),
            None => (title.clone(), title.clone()),
        };
        groups.entry(group).or_default().push(Entry {
            name,
            mean_ns: mean["point_estimate"].as_f64().unwrap_or(f64::NAN),
            lo_ns: mean["confidence_interval"]["lower_bound"]
                .as_f64()
                .unwrap_or(f64::NAN),
            hi_ns: mean["confidence_interval"]["upper_bound"]
                .as_f64()
                .unwrap_or(f64::NAN),
        });
    }
    // Only comparisons: groups with a greenthread entry and at least one peer.
    groups.retain(|_, entries| {
        entries.len() > 1 && entries.iter().any(|e| e.name.starts_with("greenthread"))
    });
    for entries in groups.values_mut() {
        // greenthread's entries first, then peers by name.
        entries.sort_by(|a, b| {
            (!a.name.starts_with("greenthread"), &a.name)
                .cmp(&(!b.name.starts_with("greenthread"), &b.name))
        });
    }
    groups
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// `group/implementation` -> instructions per iteration.
fn read_instructions(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|l| {
            let (id, n) = l.split_once('\t')?;
            Some((id.trim().to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

fn markdown(
    groups: &BTreeMap<String, Vec<Entry>>,
    extra: &str,
    instr: &BTreeMap<String, f64>,
) -> String {
    let mut md = String::new();
    md.push_str(
        "| benchmark | implementation | mean | 95% CI | greenthread / peer (time) | instructions | greenthread / peer (instructions) |\n",
    );
    md.push_str("|---|---|---|---|---|---|---|\n");
    for (group, entries) in groups {
        let peers: Vec<&Entry> = entries
            .iter()
            .filter(|e| !e.name.starts_with("greenthread"))
            .collect();
        for e in entries {
            // On greenthread's rows: its time divided by each peer's (below 1.0x = faster).
            let ratios = if e.name.starts_with("greenthread") {
                peers
                    .iter()
                    .map(|p| format!("{:.2}x {}", e.mean_ns / p.mean_ns, p.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                String::from("-")
            };
            let count = |name: &str| instr.get(&format!("{group}/{name}")).copied();
            let own = count(&e.name);
            let own_text = own.map_or_else(|| String::from("-"), |n| format!("{n:.0}"));
            let instr_ratios = match own {
                Some(n) if e.name.starts_with("greenthread") => {
                    let r: Vec<String> = peers
                        .iter()
                        .filter_map(|p| Some(format!("{:.2}x {}", n / count(&p.name)?, p.name)))
                        .collect();
                    if r.is_empty() {
                        String::from("-")
                    } else {
                        r.join(", ")
                    }
                }
                _ => String::from("-"),
            };
            let _ = writeln!(
                md,
                "| {group} | {} | {} | {} .. {} | {ratios} | {own_text} | {instr_ratios} |",
                e.name,
                fmt_ns(e.mean_ns),
                fmt_ns(e.lo_ns),
                fmt_ns(e.hi_ns)
            );
        }
    }
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split('\t');
        let (label, value, unit) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let _ = writeln!(
            md,
            "| {label} | greenthread | {value} {unit} | - | - | - | - |"
        );
    }
    md
}

fn svg(groups: &BTreeMap<String, Vec<Entry>>) -> String {
    const W: f64 = 900.0;
    const LABEL: f64 = 330.0;
    const BAR_H: f64 = 18.0;
    const GAP: f64 = 14.0;
    let rows: usize = groups.values().map(|g| g.len() + 1).sum();
    let h = 40.0 + rows as f64 * (BAR_H + 4.0) + groups.len() as f64 * GAP;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">greenthread vs peers: mean time per operation (shorter is better; bars scaled per benchmark)</text>"#
    );
    let mut y = 40.0;
    for (group, entries) in groups {
        let max = entries.iter().map(|e| e.mean_ns).fold(0.0f64, f64::max);
        let _ = writeln!(
            s,
            r#"<text x="10" y="{:.0}" font-weight="bold">{group}</text>"#,
            y + 13.0
        );
        y += BAR_H + 4.0;
        for e in entries {
            let w = if max > 0.0 {
                (W - LABEL - 120.0) * e.mean_ns / max
            } else {
                0.0
            };
            let color = if e.name.starts_with("greenthread") {
                "#2b7a3d"
            } else {
                "#8a8f98"
            };
            let _ = writeln!(s, r#"<text x="24" y="{:.0}">{}</text>"#, y + 13.0, e.name);
            let _ = writeln!(
                s,
                r#"<rect x="{LABEL}" y="{y:.0}" width="{w:.1}" height="{BAR_H}" fill="{color}"/>"#
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.0}">{}</text>"#,
                LABEL + w + 6.0,
                y + 13.0,
                fmt_ns(e.mean_ns)
            );
            y += BAR_H + 4.0;
        }
        y += GAP;
    }
    s.push_str("</svg>\n");
    s
}

fn main() {
    let mut criterion = PathBuf::from("target/criterion");
    let mut out_md: Option<PathBuf> = None;
    let mut out_svg: Option<PathBuf> = None;
    let mut extra = String::new();
    let mut instructions = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--criterion" => criterion = val().into(),
            "--out-md" => out_md = Some(val().into()),
            "--out-svg" => out_svg = Some(val().into()),
            "--extra" => extra = fs::read_to_string(val()).unwrap_or_default(),
            "--instructions" => instructions = fs::read_to_string(val()).unwrap_or_default(),
            other => panic!("unknown argument {other}"),
        }
    }
    let groups = read_entries(&criterion);
    let table = markdown(&groups, &extra, &read_instructions(&instructions));
    match out_md {
        // Replace what lies between the markers, keep the prose around it.
        Some(path) => {
            let old = fs::read_to_string(&path).unwrap_or_default();
            let (start, end) = ("<!-- bench-report:start -->", "<!-- bench-report:end -->");
            let new = match (old.find(start), old.find(end)) {
                (Some(a), Some(b)) if a < b => {
                    format!("{}{start}\n{table}{}", &old[..a], &old[b..])
                }
                _ => format!("{old}\n{start}\n{table}{end}\n"),
            };
            fs::write(&path, new).expect("write markdown");
        }
        None => print!("{table}"),
    }
    if let Some(path) = out_svg {
        fs::write(path, svg(&groups)).expect("write svg");
    }
}
