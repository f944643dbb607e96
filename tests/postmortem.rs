//! `ic postmortem` against golden files: a realistic incident timeline
//! (`tests/golden/incident.jsonl`, one event of nearly every kind) renders to
//! exactly `incident.postmortem.md` and `incident.postmortem.json`.
//! Regenerate after an intended change with `IC_UPDATE_GOLDEN=1 cargo test --test postmortem`.

use std::path::Path;
use std::process::Command;

fn render(format: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ic"))
        .env("IC_LOG", "off")
        .args(["postmortem", "--format", format])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/incident.jsonl"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "the fixture has no problems: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("IC_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "{name} differs from the golden file (IC_UPDATE_GOLDEN=1 to accept):\n{}",
        got.lines()
            .zip(want.lines().chain(std::iter::repeat("<missing>")))
            .filter(|(a, b)| a != b)
            .take(5)
            .map(|(a, b)| format!("got:  {a}\nwant: {b}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn markdown_matches_the_golden_file() {
    let md = render("md");
    assert_eq!(md, render("md"), "deterministic");
    golden("incident.postmortem.md", &md);
}

#[test]
fn json_matches_the_golden_file_and_has_the_figures() {
    let text = render("json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["figures_s"]["time_to_detect"], 5);
    assert_eq!(v["figures_s"]["time_to_mitigate"], 303);
    assert_eq!(v["impact"]["failed_requests"], 131);
    assert_eq!(v["lifecycle"]["impact_ended"], "2026-11-22T03:08:07.000Z");
    assert_eq!(v["impact"]["targets"][0]["also"][0], "payments");
    assert_eq!(v["action_items"].as_array().unwrap().len(), 2);
    // The source path differs per checkout; the rest is golden.
    let mut v = v;
    v["source"] = serde_json::json!("tests/golden/incident.jsonl");
    golden(
        "incident.postmortem.json",
        &format!("{}\n", serde_json::to_string_pretty(&v).unwrap()),
    );
}

/// Hostile text anywhere a person or a tool can write it — the title, a
/// note, a role, an owner, a change's version, a hypothesis, the actor —
/// must reach a Markdown renderer as text: no raw HTML (`<img onerror>`,
/// `<script>`), no link or image (which a viewer would follow or fetch),
/// whatever the field. Parsed with a real CommonMark parser.
#[test]
fn hostile_text_in_any_field_renders_as_text_not_markup() {
    use incident_commander::core::event::Draft;
    use incident_commander::core::grammar::{self, ChangeKind, InputKind};
    use pulldown_cmark::{Event, Parser, Tag};

    let evil = [
        "<img src=x onerror=alert(1)>",
        "![pixel](http://evil.example/p.png)",
        "[click](javascript:alert(1))",
        "<script>alert(1)</script>",
        "`code` &lt;b&gt; <http://evil.example/>",
    ];
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-22T03:00:00Z")
        .unwrap()
        .to_utc();
    for (i, bad) in evil.iter().enumerate() {
        let actor = format!("mallory{bad}");
        let lines = [
            (InputKind::Note, format!("note {bad}")),
            (InputKind::Role, format!("comms {bad}")),
            (InputKind::Hypothesis, format!("pool {bad}")),
            (
                InputKind::ActionItem,
                format!("fix {bad} @{bad} due:2026-12-24"),
            ),
            (
                InputKind::Change(ChangeKind::Deploy),
                format!("deploy v1{bad} payments {bad}"),
            ),
            (InputKind::RootCause, format!("cause {bad}")),
            (InputKind::Comms, format!("update {bad}")),
        ];
        let mut drafts = vec![Draft::opened(&actor, &format!("title {bad}"), "shop")];
        for (kind, text) in &lines {
            let cmd = grammar::parse(*kind, text, t0.date_naive())
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            drafts.push(cmd.draft(&actor, t0, Some("h1")));
        }
        let events: Vec<_> = drafts
            .into_iter()
            .enumerate()
            .map(|(n, d)| d.into_event(n as u64 + 1, t0 + chrono::Duration::seconds(n as i64)))
            .collect();
        let md = incident_commander::core::postmortem::markdown(&events);
        for ev in Parser::new(&md) {
            let markup = match &ev {
                Event::Html(h) | Event::InlineHtml(h) => Some(format!("HTML {h}")),
                Event::Start(Tag::Link { dest_url, .. }) => Some(format!("link to {dest_url}")),
                Event::Start(Tag::Image { dest_url, .. }) => Some(format!("image {dest_url}")),
                _ => None,
            };
            assert!(
                markup.is_none(),
                "case {i} `{bad}`: the postmortem holds {}:\n{md}",
                markup.unwrap_or_default()
            );
        }
        // The text itself is there, for people to read.
        assert!(md.contains("fix "), "{md}");
        // The HTML page, a chart's title and markers included, holds no markup of theirs.
        let mut charted = events.clone();
        charted.push(
            Draft::new(
                incident_commander::core::event::Kind::MetricSnapshot,
                "ic",
                "snapshot",
                serde_json::json!({"targets": [{"target": format!("t{bad}"), "rps": 2.0, "error_ratio": 0.5, "p95_ms": 40.0}]}),
            )
            .into_event(99, t0 + chrono::Duration::seconds(60)),
        );
        let html = incident_commander::core::postmortem::html(&charted);
        assert_eq!(html.matches("<svg").count(), 3, "case {i}");
        // Every tag in the page is ours: theirs are text (`&lt;…`), so no tag
        // carries a script, a handler, an image or a link out.
        for tag in html
            .split('<')
            .skip(1)
            .filter_map(|t| t.split_once('>').map(|(tag, _)| tag))
        {
            let name = tag.split_whitespace().next().unwrap_or("");
            assert!(
                !["script", "img", "a", "iframe", "object", "link"].contains(&name)
                    && !tag.contains("onerror")
                    && !tag.contains("javascript:")
                    && !tag.contains("http://evil"),
                "case {i} `{bad}`: the tag <{tag}> in\n{html}"
            );
        }
    }
}

#[test]
fn a_field_with_nothing_recorded_says_so_and_how_to_record_it() {
    use incident_commander::core::event::Draft;
    let t = chrono::DateTime::parse_from_rfc3339("2026-11-22T03:00:00Z")
        .unwrap()
        .to_utc();
    let events = vec![Draft::opened("ic", "bare", "shop").into_event(1, t)];
    let md = incident_commander::core::postmortem::markdown(&events);
    for want in [
        "## Responders\n\n_No one but `ic` wrote to the timeline (roles: `ic event -k role \"comms cat\"`)._",
        "## Trigger\n\n- _nothing recorded: what set it off, apart from the cause: `ic event -k note \"#trigger",
        "## Contributing factors\n\n- _nothing recorded: `ic event -k note \"#factor",
        "## Where we got lucky\n\n- _nothing recorded: `ic event -k note \"#lucky",
        "## Review\n\n- _no review recorded: `ic event -k note \"#review",
        "| | _to fill in at the review_ (`ic event -k action",
    ] {
        assert!(md.contains(want), "missing {want:?} in\n{md}");
    }
    // Nothing is invented: no dead ends, no facts without times.
    assert!(!md.contains("## Dead ends"), "{md}");
    assert!(!md.contains("- detected "), "{md}");
}

#[test]
fn html_matches_the_golden_file_and_holds_its_charts_inline() {
    let html = render("html");
    golden("incident.postmortem.html", &html);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert_eq!(html.matches("<svg").count(), 3, "error rate, p95, traffic");
    assert!(!html.contains("<img"), "every chart is inline");
    // Self-contained: nothing is fetched.
    for fetch in [
        "src=\"http",
        "href=\"http",
        "<script",
        "<link",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(fetch), "{fetch} in the page");
    }
}

#[test]
fn markdown_written_to_a_file_gets_its_charts_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pm.md");
    let o = Command::new(env!("CARGO_BIN_EXE_ic"))
        .env("IC_LOG", "off")
        .args(["postmortem", "-o"])
        .arg(&out)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/incident.jsonl"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(&out).unwrap();
    let refs: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("![")?.split_once("](")?.1.strip_suffix(')'))
        .collect();
    assert_eq!(refs.len(), 3, "{md}");
    for r in refs {
        assert!(r.starts_with("pm.assets/") && r.ends_with(".svg"), "{r}");
        let svg = std::fs::read_to_string(dir.path().join(r)).unwrap();
        assert!(
            svg.starts_with("<svg xmlns=") && svg.ends_with("</svg>"),
            "{r}"
        );
    }
}
