//! Hostile files through the real binary: an alias bomb ("billion laughs"),
//! absurd nesting, a file over the size cap, invalid UTF-8 and binary garbage,
//! as a config (`ic check`, `ic lint`), a playbook (`ic lint`) and a scenario
//! (`ic simulate`, `ic lint`). Each is refused quickly, in bounded memory, with
//! exit 2 and one message naming the file; none panics. A damaged timeline
//! still renders its postmortem with every problem reported, and takes new
//! events after it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Nine levels of nine aliases each: 9⁹ strings if expanded.
fn alias_bomb(key: &str) -> String {
    let mut items =
        vec![r#"&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"#.to_string()];
    for i in 1..10 {
        let refs: Vec<String> = (0..9).map(|_| format!("*a{}", i - 1)).collect();
        items.push(format!("&a{i} [{}]", refs.join(",")));
    }
    format!("{key}: [{}]\n", items.join(", "))
}

/// The hostile bodies, each after a valid first line that tells the kind.
fn hostile(head: &str, key: &str) -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!(
        "{head}{key}: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let big = format!("{head}{}", format!("#{}\n", "x".repeat(999)).repeat(5_300));
    let mut utf8 = format!("{head}{key}: \"").into_bytes();
    utf8.extend_from_slice(b"\xff\xfe\xc3\x28\"\n");
    let mut binary = head.as_bytes().to_vec();
    binary.extend((0..=255u8).cycle().take(64 * 1024));
    vec![
        (
            "alias bomb",
            format!("{head}{}", alias_bomb(key)).into_bytes(),
        ),
        ("deep nesting", deep.into_bytes()),
        ("over the size cap", big.into_bytes()),
        ("invalid UTF-8", utf8),
        ("binary", binary),
    ]
}

/// Runs `ic` with `args`; checks it ended in time and in bounded memory, then
/// returns (exit code, stdout + stderr).
fn ic(args: &[&str]) -> (Option<i32>, String) {
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "ic-peak-kb=%M"])
        .arg(env!("CARGO_BIN_EXE_ic"))
        .args(args)
        .env("IC_LOG", "off")
        .env_remove("IC_CONFIG")
        .output()
        .or_else(|_| {
            Command::new(env!("CARGO_BIN_EXE_ic"))
                .args(args)
                .env("IC_LOG", "off")
                .env_remove("IC_CONFIG")
                .output()
        })
        .unwrap();
    let took = started.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took < Duration::from_secs(10),
        "{args:?} took {took:?}:\n{text}"
    );
    if let Some(kb) = text
        .lines()
        .find_map(|l| l.strip_prefix("ic-peak-kb="))
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        assert!(kb < 200 * 1024, "{args:?} peaked at {kb} KB");
    }
    assert!(!text.contains("panicked"), "{args:?} panicked:\n{text}");
    (out.status.code(), text)
}

/// Checks a refusal: exit 2, the file named, the message said once.
fn refused(what: &str, args: &[&str], file: &Path) {
    let (code, text) = ic(args);
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("ic-peak-kb=") && !l.starts_with("Command exited"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(code, Some(2), "{what}: {args:?}:\n{text}");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(text.contains(&name), "{what}: the file is named:\n{text}");
    let first = text
        .lines()
        .find(|l| l.contains(&name))
        .unwrap_or_default()
        .to_string();
    let msg = first
        .split_once(": ")
        .map_or(first.as_str(), |(_, m)| m)
        .to_string();
    assert_eq!(
        text.matches(msg.as_str()).count(),
        1,
        "{what}: said once:\n{text}"
    );
}

fn write(dir: &Path, name: &str, body: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn hostile_configs_playbooks_and_scenarios_are_refused_quickly_and_once() {
    let dir = tempfile::tempdir().unwrap();
    for (what, body) in hostile("service: shop\n", "endpoints") {
        let cfg = write(
            dir.path(),
            &format!("{}.yaml", what.replace(' ', "-")),
            &body,
        );
        let c = cfg.to_str().unwrap();
        refused(what, &["-c", c, "check"], &cfg);
        refused(what, &["lint", c], &cfg);
    }
    for (what, body) in hostile("id: x\ntitle: t\n", "roles") {
        let pb = write(
            dir.path(),
            &format!("playbooks/{}.yaml", what.replace(' ', "-")),
            &body,
        );
        refused(what, &["lint", pb.to_str().unwrap()], &pb);
    }
    for (what, body) in hostile("name: x\n", "faults") {
        let sc = write(
            dir.path(),
            &format!("scenarios/{}.yaml", what.replace(' ', "-")),
            &body,
        );
        let s = sc.to_str().unwrap();
        refused(what, &["simulate", s], &sc);
        refused(what, &["lint", s], &sc);
    }
}

#[test]
fn a_damaged_timeline_renders_with_every_problem_reported_and_takes_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let tl = dir.path().join("incident.jsonl");
    let t = tl.to_str().unwrap();
    assert_eq!(
        ic(&["event", "-t", t, "-k", "open", "Payments down"]).0,
        Some(0)
    );
    assert_eq!(ic(&["event", "-t", t, "pool at 100%"]).0, Some(0));
    let text = std::fs::read_to_string(&tl).unwrap();
    let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    let mut past = second.clone();
    past["seq"] = serde_json::json!(3);
    past["ts"] = serde_json::json!("2020-01-01T00:00:00Z");
    past["msg"] = serde_json::json!("from the past");
    let mut damage = Vec::new();
    damage.extend(format!("{second}\n").into_bytes()); // the same seq again
    damage.extend(b"{not json\n");
    damage.extend(b"\xff\xfe binary \x00\x01\n");
    damage.extend(format!("{past}\n").into_bytes()); // time going backwards
    damage.extend(format!("{{\"seq\": 9, \"ts\": \"{}\"}}\n", "9".repeat(1 << 20)).into_bytes()); // over the line cap
    damage.extend(b"{\"seq\": 10, \"ts\": \"2026-"); // torn by a crash
    std::fs::OpenOptions::new()
        .append(true)
        .open(&tl)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &damage))
        .unwrap();

    let (code, text) = ic(&["postmortem", t]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("# Postmortem: Payments down"), "{text}");
    assert!(text.contains("pool at 100%"), "{text}");
    for problem in [
        ":3: seq 2 appears again",
        ":4: not a timeline event",
        ":5: not UTF-8",
        ":6: time goes backwards",
        ":7: line of 1048596 bytes is longer than 1048576",
        ":8: torn last line",
    ] {
        assert!(text.contains(problem), "{problem}:\n{text}");
    }
    // The torn piece is set aside and the next event goes after everything else.
    let (code, text) = ic(&["event", "-t", t, "after the damage"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(dir.path().join("incident.jsonl.torn").exists());
    let bytes = std::fs::read(&tl).unwrap();
    let last = String::from_utf8_lossy(&bytes);
    let last: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(last["msg"], "after the damage");
    assert!(last["seq"].as_u64().unwrap() > 3);
}
