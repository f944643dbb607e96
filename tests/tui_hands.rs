//! The responder's hands, end to end in a real terminal (`ic demo` in tmux,
//! 80×24 first): the triage summary that greets the incident and answers
//! from the data, the footer holding the phase's keys, the ack countdown and
//! acknowledge, the command palette (`sev` → Enter opens the severity
//! picker), editing an entry in the middle of its line, the grammar's verdict
//! before saving, and scrolling a long step list to its last step and
//! ticking it. Skips without tmux unless `IC_REQUIRE_TMUX=1`.

mod support;

use support::tmux::{self, Session};

/// The last two rows: the message line and the key hints.
fn footer(screen: &str) -> String {
    let rows: Vec<&str> = screen.lines().collect();
    rows[rows.len().saturating_sub(2)..].join("\n")
}

#[test]
fn acknowledge_palette_editing_triage_and_scrolling_at_80x24() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let timelines = dir.path().join("incidents");
    let s = Session::demo_at("hands", dir.path(), &timelines, 80, 24);

    // The incident opens with the triage summary, answered from the data.
    let summary = s.wait("the triage summary", 30, |t| {
        t.contains("Triage summary at")
    });
    for want in [
        "which",
        "payments",
        "how bad",
        "% errors",
        "trend",
        "since",
        "likely class",
    ] {
        assert!(summary.contains(want), "{want} missing:\n{summary}");
    }
    s.keys(&["Escape"]);
    // 80×24: the footer holds what detect needs, acknowledge first among them.
    let screen = s.wait("the summary closed", 5, |t| {
        !t.contains("u sends it as a status update")
    });
    let hints = footer(&screen);
    for want in ["? help", ": palette", "A acknowledge", "s severity"] {
        assert!(
            hints.contains(want),
            "{want} missing from the footer:\n{hints}"
        );
    }
    // No severity yet: the ack clock runs at the most urgent level's pace.
    s.wait("the ack countdown", 5, |t| {
        t.contains("ack due in") && t.contains("SEV-1 pace")
    });

    // The palette: `sev`, Enter opens the severity picker; 2 sets SEV-2.
    s.keys(&[":"]);
    s.wait("the palette", 5, |t| t.contains("Command palette"));
    s.type_text("sev");
    s.wait("severity first", 5, |t| {
        t.lines()
            .find(|l| l.contains("pick SEV-1"))
            .is_some_and(|l| l.contains("severity"))
    });
    s.keys(&["Enter"]);
    s.wait("the severity picker", 5, |t| t.contains(" Severity "));
    s.keys(&["2"]);
    s.wait("SEV-2", 5, |t| t.contains(" SEV-2 "));
    s.keys(&["A"]);
    s.wait("acknowledged", 5, |t| {
        t.contains("acked") && t.contains("next update in")
    });

    // Edit in the middle of a line: type, go back before " limit @ann due:+3d"
    // (19 characters), insert, save.
    s.keys(&["a"]);
    s.wait("the action item entry", 5, |t| t.contains("Action item"));
    s.type_text("raise the limit @ann due:+3d");
    s.wait("the line typed", 5, |t| t.contains("due:+3d"));
    for _ in 0..19 {
        s.keys(&["Left"]);
    }
    s.type_text(" pool");
    s.wait("the grammar's verdict", 5, |t| {
        t.contains("✔ action item") && t.contains("owner @ann")
    });
    s.keys(&["Enter"]);
    s.wait("the item saved", 5, |t| t.contains(" action item "));

    s.keys(&["q"]);
    s.wait("the quit question", 5, |t| t.contains("Quit?"));
    s.keys(&["y"]);
    s.wait("ic to exit", 10, |t| t.contains("IC-EXIT=0"));
    let files = incident_commander::journal::timelines(&timelines);
    let replay = incident_commander::journal::read(&files[0]).unwrap();
    let item = replay
        .events
        .iter()
        .find(|e| e.kind.as_str() == "action_item")
        .expect("the action item is in the timeline");
    assert!(item.msg.contains("raise the pool limit"), "{}", item.msg);
    assert!(
        replay
            .events
            .iter()
            .any(|e| e.kind.as_str() == "note" && e.msg.starts_with("Triage summary")),
        "the summary is recorded"
    );
}

/// `ic demo --serve` on the fast scenario; its port and the child.
fn serve(dir: &std::path::Path) -> (u16, std::process::Child) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ic"))
        .args([
            "demo",
            "--serve",
            "--port",
            "0",
            "--rps",
            "60",
            "--scenario",
        ])
        .arg(tmux::fast_scenario(dir))
        .env("IC_LOG", "off")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (port, child)
}

/// Ends the demo API when dropped.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_generic_triage_list_scrolls_to_its_eleventh_step_which_ticks_at_80x24() {
    if !tmux::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (port, child) = serve(dir.path());
    let _api = Kill(child);
    // Only the generic playbook: its triage tab has 11 steps.
    std::fs::create_dir(dir.path().join("playbooks")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks/generic.yaml"),
        dir.path().join("playbooks/generic.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ic.yaml"),
        format!(
            "service: shop\ntimeline_dir: ./incidents\nplaybooks: ./playbooks\n\
             metrics:\n  - {{name: shop, url: \"http://127.0.0.1:{port}/metrics\", interval: 1s}}\n"
        ),
    )
    .unwrap();
    let shell = format!(
        "cd {} && IC_LOG=off {} --config ic.yaml",
        dir.path().display(),
        env!("CARGO_BIN_EXE_ic")
    );
    let s = Session::start("scroll", 80, 24, &shell);
    s.wait("the incident", 30, |t| t.contains("Triage summary at"));
    s.keys(&["Escape"]);
    // Closed before the next key: an arrow's escape sequence sent right behind
    // a lone Escape can be read as Escape, `[`, `C` — and `C` closes.
    s.wait("the summary closed", 5, |t| {
        !t.contains("u sends it as a status update")
    });
    s.keys(&["Right"]);
    let top = s.wait("the triage tab, more below", 5, |t| {
        t.contains("What is affected") && t.contains("more ↓")
    });
    assert!(
        !top.contains("Switch to a specific"),
        "the 11th is out of sight:\n{top}"
    );
    for _ in 0..10 {
        s.keys(&["j"]);
    }
    let bottom = s.wait("the 11th step in view", 5, |t| {
        t.contains("Switch to a specific playbook") && t.contains("more ↑")
    });
    assert!(
        !bottom.contains("What is affected"),
        "the first scrolled away:\n{bottom}"
    );
    s.keys(&["Enter"]);
    s.wait("the 11th step ticked", 5, |t| {
        t.lines().any(|l| l.contains("[x] Switch to a specific"))
    });
    s.keys(&["q"]);
    s.wait("the quit question", 5, |t| t.contains("Quit?"));
    s.keys(&["y"]);
    s.wait("ic to exit", 10, |t| t.contains("IC-EXIT=0"));
    let files = incident_commander::journal::timelines(&dir.path().join("incidents"));
    let replay = incident_commander::journal::read(&files[0]).unwrap();
    assert!(
        replay
            .events
            .iter()
            .any(|e| e.kind.as_str() == "step_done" && e.data["step"] == "pick-playbook"),
        "the 11th step is recorded"
    );
}
