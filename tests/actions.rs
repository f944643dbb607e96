//! Action items that don't get lost, end to end through the real binary:
//! items recorded with `ic event` in two incidents (one closed) are listed by
//! `ic actions` overdue first, filtered by state and owner, exported as
//! tracker JSON lines, and closed with `ic event -k action-done` by their
//! short id in the timeline that holds them. And what a hand-edited timeline
//! can try: closing another incident's item, sharing a short id, escape
//! sequences in an item — never a wrong close, a forged line or a panic.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Output;
use support::proc;

fn ic(dir: &Path, args: &[&str]) -> Output {
    proc::ic()
        .args(args)
        .arg("--timeline-dir")
        .arg(dir)
        .output()
        .expect("run ic")
}

fn event(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["event", "-a", "ann"];
    all.extend_from_slice(args);
    let o = ic(dir, &all);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    o
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn listed(dir: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["actions", "--json"];
    args.extend_from_slice(extra);
    let o = ic(dir, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("a JSON array");
    v.as_array().cloned().unwrap_or_default()
}

fn texts(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|i| i["text"].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn items_are_listed_overdue_first_filtered_exported_and_closed_by_their_short_id() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    event(dir, &["-k", "open", "Checkout 5xx"]);
    event(dir, &["-k", "severity", "SEV-2 checkout failing"]);
    event(
        dir,
        &["-k", "action", "P1 add a pool alarm @bob due:2020-03-01"],
    );
    event(
        dir,
        &[
            "-k",
            "action",
            "raise the pool @cat due:+90d",
            "--priority",
            "p1",
        ],
    );
    event(dir, &["-k", "action", "write the runbook"]);
    event(dir, &["-k", "close", "resolved"]);
    event(dir, &["-k", "open", "Search slow", "--new"]);
    event(
        dir,
        &["-k", "action", "warm the cache @Bob due:2020-02-01 P2"],
    );

    let all = listed(dir, &[]);
    assert_eq!(
        texts(&all),
        [
            "warm the cache",
            "add a pool alarm",
            "raise the pool",
            "write the runbook"
        ],
        "overdue first, the oldest due date first; undated last"
    );
    let states: Vec<&str> = all.iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["overdue", "overdue", "open", "open"]);
    assert_eq!(all[1]["priority"], "P1");
    assert_eq!(all[1]["severity"], "SEV-2");
    assert_eq!(
        all[2]["p1_outside_window"], true,
        "P1 due in 90 days: {}",
        all[2]
    );
    assert_eq!(all[1]["p1_outside_window"], false);
    assert_eq!(
        texts(&listed(dir, &["--owner", "@bob"])),
        ["warm the cache", "add a pool alarm"]
    );
    assert_eq!(listed(dir, &["--overdue"]).len(), 2);

    // Closed by its short id, in the closed incident's own timeline.
    let id = all[1]["short_id"].as_str().unwrap().to_string();
    let o = ic(
        dir,
        &["event", "-a", "dan", "-k", "action-done", &id, "alarm live"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("action item {id} \"add a pool alarm\" done")),
        "{}",
        text(&o)
    );
    let timeline = all[1]["timeline"].as_str().unwrap();
    let last: Value = serde_json::from_str(
        std::fs::read_to_string(timeline)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["kind"], "action_done");
    assert_eq!(last["data"]["item"], all[1]["id"]);
    let done = listed(dir, &["--done"]);
    assert_eq!(texts(&done), ["add a pool alarm"]);
    assert_eq!(done[0]["done"]["by"], "dan");
    assert_eq!(done[0]["done"]["note"], "alarm live");
    assert_eq!(listed(dir, &["--open"]).len(), 3);

    // Closing it again, or an id nobody has, says so and writes nothing.
    let before = std::fs::read_to_string(timeline).unwrap();
    let again = ic(dir, &["event", "-k", "action-done", &id]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("already done"), "{}", text(&again));
    let unknown = ic(dir, &["event", "-k", "action-done", "deadbeef"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown).contains("no action item `deadbeef`"),
        "{}",
        text(&unknown)
    );
    let bare = ic(dir, &["event", "-k", "action-done"]);
    assert_eq!(bare.status.code(), Some(2));
    assert!(
        text(&bare).contains("needs the item's id"),
        "{}",
        text(&bare)
    );
    assert_eq!(std::fs::read_to_string(timeline).unwrap(), before);

    // The tracker's import: one object a line, every field it takes.
    let o = ic(dir, &["actions", "--export", "--open"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(lines.len(), 3);
    let cache = &lines[0];
    assert_eq!(cache["title"], "warm the cache");
    assert_eq!(cache["assignee"], "Bob");
    assert_eq!(cache["due_date"], "2020-02-01");
    assert_eq!(cache["state"], "open");
    assert!(
        cache["labels"]
            .as_array()
            .unwrap()
            .contains(&Value::from("P2"))
    );
    assert!(cache["body"].as_str().unwrap().contains("Search slow"));
    assert!(cache["body"].as_str().unwrap().contains(".jsonl"));
    let runbook = &lines[2];
    assert_eq!(
        (&runbook["assignee"], &runbook["due_date"]),
        (&Value::Null, &Value::Null)
    );

    // The table says the same, and how to close one.
    let o = ic(dir, &["actions"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("overdue") && table.contains("P1: due within 30 days"),
        "{table}"
    );
    assert!(
        table.contains("3 item(s)") || table.contains("4 item(s), 1 overdue"),
        "{table}"
    );
}

/// Writes a timeline by hand: `lines` are (kind, id, data) after an opening.
fn hand_written(
    dir: &Path,
    name: &str,
    lines: &[(&str, Option<&str>, Value)],
) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut out = String::from(
        "{\"seq\":1,\"ts\":\"2026-11-22T03:00:00.000Z\",\"kind\":\"incident_opened\",\"actor\":\"ann\",\"msg\":\"opened\",\"data\":{\"title\":\"hand\",\"service\":\"shop\"}}\n",
    );
    for (i, (kind, id, data)) in lines.iter().enumerate() {
        let mut e = serde_json::json!({
            "seq": i + 2, "ts": "2026-11-22T03:01:00.000Z", "kind": kind,
            "actor": "mallory", "msg": data["text"].as_str().unwrap_or("x"), "data": data,
        });
        if let Some(id) = id {
            e["id"] = Value::from(*id);
        }
        out.push_str(&format!("{e}\n"));
    }
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn a_hand_edited_timeline_cannot_close_another_incidents_item_share_an_id_quietly_or_drive_the_terminal()
 {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let a = "0190c2a4-0000-7000-8000-0000000000aa";
    let b = "0190c2a4-1111-7000-9000-0000000000aa";
    hand_written(
        dir,
        "a.jsonl",
        &[(
            "action_item",
            Some(a),
            serde_json::json!({"text": "fix \u{1b}[2J the pool\nFORGED LINE", "owner": "bob\u{202e}", "due": "2020-01-01"}),
        )],
    );
    // Another file "closes" a's item, and holds an item sharing its short id.
    hand_written(
        dir,
        "b.jsonl",
        &[
            ("action_done", None, serde_json::json!({"item": a})),
            (
                "action_item",
                Some(b),
                serde_json::json!({"text": "other", "owner": "cat", "priority": "P0"}),
            ),
        ],
    );
    let all = listed(dir, &[]);
    assert_eq!(all.len(), 2);
    let fix = all.iter().find(|i| i["id"] == a).unwrap();
    assert_eq!(
        fix["state"], "overdue",
        "closed only in its own timeline: {fix}"
    );
    let other = all.iter().find(|i| i["id"] == b).unwrap();
    assert_eq!(other["priority"], Value::Null, "P0 is no priority: {other}");

    // The table escapes what the file holds: no ESC, no bidi override, no extra line.
    let o = ic(dir, &["actions"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{202e}'),
        "{table:?}"
    );
    assert!(!table.lines().any(|l| l.starts_with("FORGED")), "{table}");
    assert!(table.contains("\\u001b[2J"), "{table}");

    // Both short ids are `000000aa`: refused, naming the way out; the whole id works.
    let shared = ic(
        dir,
        &["event", "-a", "dan", "-k", "action-done", "000000aa"],
    );
    assert_eq!(shared.status.code(), Some(2), "{}", text(&shared));
    assert!(
        text(&shared).contains("2 action items share the id"),
        "{}",
        text(&shared)
    );
    let o = ic(
        dir,
        &["event", "-a", "dan", "-k", "action-done", a, "pool fixed"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let fix = listed(dir, &["--done"]);
    assert_eq!(fix.len(), 1);
    assert_eq!(fix[0]["id"], a);
    let lines = std::fs::read_to_string(dir.join("a.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 3, "appended to a.jsonl: {lines}");
    // --stdin is refused for action-done.
    let o = ic(dir, &["event", "-k", "action-done", "--stdin"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn ic_watch_says_how_many_action_items_of_past_incidents_are_overdue() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (name, due) in [
        ("a.jsonl", "2020-01-01"),
        ("b.jsonl", "2020-02-01"),
        ("c.jsonl", "2999-01-01"),
    ] {
        hand_written(
            dir,
            name,
            &[(
                "action_item",
                None,
                serde_json::json!({"text": "fix", "due": due}),
            )],
        );
    }
    let cfg = dir.join("ic.yaml");
    std::fs::write(
        &cfg,
        "service: shop\nendpoints:\n  - {name: nothing, url: \"http://127.0.0.1:9/\"}\n",
    )
    .unwrap();
    let o = proc::ic()
        .arg("--config")
        .arg(&cfg)
        .args([
            "watch",
            "--duration",
            "2s",
            "--no-incident",
            "--timeline-dir",
        ])
        .arg(dir)
        .output()
        .expect("run ic watch");
    assert!(
        text(&o).contains("note: 2 overdue action items from past incidents"),
        "{}",
        text(&o)
    );
}
