//! The timeline under load and under crashes, through the real binary:
//! several `ic event --stdin` writers at once (no loss, no interleaving,
//! unique increasing seq), SIGKILL at random points (every acknowledged event
//! survives, the file loads), and the CLI's kinds and mistakes.

use incident_commander::core::event::Kind;
use incident_commander::core::incident::Incident;
use incident_commander::journal;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ic() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ic"));
    c.env("IC_LOG", "off").env_remove("IC_CONFIG");
    c
}

/// Starts a writer appending one event per stdin line to `file`, acknowledging each as JSON.
fn writer(file: &Path, actor: &str) -> std::process::Child {
    ic().args(["event", "--stdin", "--json", "-a", actor, "-t"])
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ic event")
}

#[test]
fn four_writers_at_once_lose_nothing_and_number_uniquely() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.jsonl");
    const PER: usize = 600;
    let mut children: Vec<_> = (0..4).map(|w| writer(&file, &format!("w{w}"))).collect();
    // Feed all four at once from threads.
    let feeders: Vec<_> = children
        .iter_mut()
        .enumerate()
        .map(|(w, c)| {
            let mut stdin = c.stdin.take().unwrap();
            std::thread::spawn(move || {
                for i in 0..PER {
                    writeln!(stdin, "writer {w} line {i} {}", "x".repeat(i % 200)).unwrap();
                }
            })
        })
        .collect();
    for f in feeders {
        f.join().unwrap();
    }
    let mut acked = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        acked += out
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
    }
    assert_eq!(acked, 4 * PER);
    let replay = journal::read(&file).unwrap();
    assert!(
        replay.problems.is_empty(),
        "{:?}",
        &replay.problems[..replay.problems.len().min(3)]
    );
    assert_eq!(replay.events.len(), 4 * PER);
    let seqs: Vec<u64> = replay.events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=(4 * PER) as u64).collect::<Vec<_>>(),
        "seq is unique and in file order"
    );
    for w in 0..4 {
        let mine: Vec<&str> = replay
            .events
            .iter()
            .filter(|e| e.actor == format!("w{w}"))
            .map(|e| e.msg.as_str())
            .collect();
        assert_eq!(mine.len(), PER);
        for (i, m) in mine.iter().enumerate() {
            // (The grammar trims a note: line 0 has no trailing `x`s or space.)
            let prefix = format!("writer {w} line {i} ");
            assert!(m.starts_with(&prefix) || *m == prefix.trim_end(), "{m}");
        }
    }
}

#[test]
fn sigkill_at_random_points_never_loses_an_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.jsonl");
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let deadline = Instant::now() + Duration::from_secs(25);
    for round in 0..100 {
        assert!(
            Instant::now() < deadline,
            "100 rounds should take well under 25 s (round {round})"
        );
        let mut child = writer(&file, "crash");
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut seqs = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                seqs.push(v["seq"].as_u64().unwrap());
            }
            seqs
        });
        let feeder = std::thread::spawn(move || {
            for i in 0.. {
                if writeln!(stdin, "round {round} event {i}").is_err() {
                    break;
                }
            }
        });
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(5 + seed % 40));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        feeder.join().unwrap();
        acked.extend(reader.join().unwrap());
        // The file loads after every crash, and every acknowledged event is in it.
        let replay = journal::read(&file).unwrap();
        let present: BTreeSet<u64> = replay.events.iter().map(|e| e.seq).collect();
        let lost: Vec<&u64> = acked.difference(&present).collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged but missing: {lost:?}"
        );
        for p in &replay.problems {
            assert!(p.message.contains("torn last line"), "round {round}: {p:?}");
        }
    }
    assert!(
        acked.len() > 100,
        "the writers got work done: {}",
        acked.len()
    );
}

#[test]
fn the_cli_writes_every_kind_and_the_postmortem_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("incidents");
    let run = |args: &[&str]| {
        let out = ic()
            .args(["event", "--timeline-dir"])
            .arg(&d)
            .args(["-a", "ann"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["-k", "open", "Checkout 5xx"]);
    run(&["-k", "severity", "SEV-2", "checkout failing"]);
    run(&["-k", "deploy", "--change-version", "v42", "checkout v42"]);
    run(&["-k", "hypothesis", "pool exhausted"]);
    run(&[
        "-k",
        "comms",
        "Checkout failing for some customers; next update 03:30",
    ]);
    run(&["--tag", "went_well", "the rollback took a minute"]);
    run(&[
        "-k",
        "impact-started",
        "--at",
        "2026-11-22T03:00:00Z",
        "first customer errors",
    ]);
    run(&[
        "-k",
        "mitigated",
        "--at",
        "2026-11-22T03:20:00Z",
        "rolled back",
    ]);
    run(&[
        "-k",
        "action",
        "--owner",
        "bob",
        "--due",
        "2026-12-01",
        "alert on pool saturation",
    ]);
    run(&["-k", "root-cause", "pool of 10 under peak load"]);
    run(&["-k", "close", "resolved"]);
    let files = journal::timelines(&d);
    assert_eq!(files.len(), 1);
    assert!(
        files[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with("-checkout-5xx.jsonl")
    );
    let replay = journal::read(&files[0]).unwrap();
    let inc = Incident::fold(&replay.events);
    assert_eq!(
        inc.current_severity().map(|s| s.to_string()).as_deref(),
        Some("SEV-2")
    );
    assert_eq!(inc.changes[0].tags, vec!["deploy", "v42"]);
    assert_eq!(inc.action_items[0].owner, "bob");
    assert!(!inc.is_open());
    assert!(
        replay
            .events
            .iter()
            .all(|e| e.actor == "ann" || e.kind == Kind::IncidentOpened)
    );

    // Nothing open any more: a note needs --timeline.
    let out = ic()
        .args(["event", "--timeline-dir"])
        .arg(&d)
        .arg("late note")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no open incident"));

    let md = dir.path().join("pm.md");
    let out = ic()
        .args(["postmortem", "--timeline-dir"])
        .arg(&d)
        .arg("-o")
        .arg(&md)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("| Mitigated | 2026-11-22T03:20:00.000Z | time to mitigate: 20m 00s |"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&md).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn event_mistakes_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.jsonl");
    for (args, needle) in [
        (vec!["-k", "severity", "SEV-9", "bad"], "not a severity"),
        (
            vec!["-k", "mitigated", "--at", "yesterday", "x"],
            "RFC 3339",
        ),
        (vec!["-k", "wat", "x"], "unknown kind `wat`"),
        (vec!["-a", "ann\u{1b}[2J", "x"], "--actor must be"),
        (vec!["-k", "action", "x", "due:2026-1-01"], "not a due date"),
        (
            vec!["-k", "action", "--due", "+12026-01-01", "x"],
            "--due `+12026-01-01` is not a due date",
        ),
        (
            vec!["--at", "2026-11-22T03:00:00Z", "a note"],
            "--at is for lifecycle",
        ),
    ] {
        let out = ic()
            .arg("event")
            .arg("-t")
            .arg(&t)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn ic_event_speaks_the_view_s_grammar() {
    use incident_commander::core::grammar::{self, ChangeKind, InputKind};
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.jsonl");
    let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    for (kind, input, text) in [
        ("hypothesis", InputKind::Hypothesis, "pool exhausted"),
        (
            "hypothesis",
            InputKind::Hypothesis,
            "+h1 pool waits at 100%",
        ),
        ("hypothesis", InputKind::Hypothesis, "-h1 db cpu normal"),
        ("hypothesis", InputKind::Hypothesis, "!h1"),
        (
            "action",
            InputKind::ActionItem,
            "add a pool alarm @ann due:2026-12-10",
        ),
        (
            "deploy",
            InputKind::Change(ChangeKind::Deploy),
            "v42 payments rollout",
        ),
        (
            "flag",
            InputKind::Change(ChangeKind::Flag),
            "checkout-v2 off",
        ),
        ("note", InputKind::Note, "paging worked #well"),
        ("role", InputKind::Role, "comms cat"),
        (
            "severity",
            InputKind::Severity,
            "SEV-2 8% of checkouts fail",
        ),
        (
            "comms",
            InputKind::Comms,
            "Investigating | next update 12:30",
        ),
    ] {
        let out = ic()
            .args(["event", "--json", "-a", "ann", "-k", kind, "-t"])
            .arg(&t)
            // `--`: evidence against (`-h1 …`) is not an option.
            .args(["--", text])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{kind} {text}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout);
        let written = incident_commander::core::event::Event::parse_line(line.trim()).unwrap();
        let view = grammar::parse(input, text, incident_commander::clock::today())
            .unwrap()
            .draft("ann", now, None);
        assert_eq!(
            (written.kind, &written.msg, &written.data),
            (view.kind, &view.msg, &view.data),
            "{kind} {text}"
        );
    }
    // The same mistakes are refused the same way.
    let out = ic()
        .args(["event", "-k", "action", "-t"])
        .arg(&t)
        .arg("fix it due:someday")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"));
    // And the fold reads what was written: evidence for h1, h1 confirmed.
    let replay = journal::read(&t).unwrap();
    let inc = Incident::fold(&replay.events);
    assert_eq!(inc.hypotheses.len(), 1, "{:?}", inc.problems);
    assert_eq!(inc.hypotheses[0].evidence.len(), 2);
    assert!(inc.problems.is_empty(), "{:?}", inc.problems);
}

/// Runs `ic event` under a file-size limit of `kib` KiB.
fn event_with_fsize_limit(file: &Path, kib: u64, msg: &str) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f {} && exec \"$0\" event --json -a ann -t \"$1\" \"$2\"",
            kib * 1024 / 512
        ))
        .arg(env!("CARGO_BIN_EXE_ic"))
        .arg(file)
        .arg(msg)
        .env("IC_LOG", "off")
        .output()
        .unwrap()
}

#[test]
fn a_full_disk_is_an_error_that_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.jsonl");
    // Fill the file to just under 4 KiB with acknowledged events.
    let mut acked = Vec::new();
    while std::fs::metadata(&file).map_or(0, |m| m.len()) < 3800 {
        let out = event_with_fsize_limit(&file, 64, "filling");
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        acked.push(v["seq"].as_u64().unwrap());
    }
    // At a 4 KiB limit the next line cannot be written whole: an error that says so,
    // no acknowledgement, no crash.
    let out = event_with_fsize_limit(&file, 4, &"x".repeat(600));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "nothing acknowledged");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot append") && err.contains("size limit"),
        "{err}"
    );
    // With room again, the next append sets the torn piece aside and numbering goes on.
    let out = event_with_fsize_limit(&file, 64, "room again");
    assert!(out.status.success(), "{out:?}");
    let replay = journal::read(&file).unwrap();
    assert!(replay.problems.is_empty(), "{:?}", replay.problems);
    let seqs: Vec<u64> = replay.events.iter().map(|e| e.seq).collect();
    for a in &acked {
        assert!(seqs.contains(a), "acknowledged {a} lost");
    }
    assert_eq!(replay.events.last().unwrap().msg, "room again");
}

#[test]
fn sigkill_of_ic_watch_keeps_every_signal_it_printed() {
    // An endpoint that refuses connections: `down` fires within a few probes.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ic.yaml");
    let tl = dir.path().join("incidents");
    std::fs::write(
        &cfg,
        format!(
            "service: t\ntimeline_dir: {}\nnotify: {{desktop: false, bell: false}}\npoll: {{interval: 100ms, timeout: 100ms}}\n\
             endpoints:\n  - {{name: gone, url: \"http://127.0.0.1:{port}/\"}}\n",
            tl.display()
        ),
    )
    .unwrap();
    let mut child = ic()
        .arg("-c")
        .arg(&cfg)
        .args(["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut printed = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["type"] == "signal" {
            printed.push((
                v["kind"].as_str().unwrap().to_string(),
                v["state"].as_str().unwrap().to_string(),
            ));
            break;
        }
        assert!(Instant::now() < deadline, "no signal from ic watch");
    }
    child.kill().unwrap(); // SIGKILL, probes still running
    child.wait().unwrap();
    drop(lines);
    let files = journal::timelines(&tl);
    assert_eq!(files.len(), 1);
    let replay = journal::read(&files[0]).unwrap();
    assert!(
        replay.problems.iter().all(|p| p.message.contains("torn")),
        "{:?}",
        replay.problems
    );
    for (kind, state) in printed {
        let k = if state == "fired" {
            Kind::SignalFired
        } else {
            Kind::SignalResolved
        };
        assert!(
            replay
                .events
                .iter()
                .any(|e| e.kind == k && e.str_field("detector") == Some(kind.as_str())),
            "{kind} {state} was printed but is not in the timeline"
        );
    }
}

#[test]
fn ic_event_says_what_it_understood_and_reads_dates_people_type() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("incidents");
    let run = |args: &[&str]| {
        ic().args(["event", "-a", "ann", "--timeline-dir"])
            .arg(&d)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["-k", "open", "Checkout 5xx"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().nth(1),
        Some("  open an incident \"Checkout 5xx\""),
        "{stdout}"
    );
    let today = incident_commander::clock::today();
    let tomorrow = today.succ_opt().unwrap();
    let out = run(&[
        "-k",
        "action",
        "--owner",
        "bob",
        "--due",
        "tomorrow",
        "fix the pool",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().nth(1).unwrap(),
        format!(
            "  action item \"fix the pool\" · owner @bob · due {}",
            tomorrow.format("%a %Y-%m-%d")
        )
    );
    let out = run(&["-k", "action", "add a pool alarm @ann due:+1w"]);
    assert!(out.status.success());
    let out = run(&["-k", "rollback", "v41 payments client"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("  rollback v41: \"payments client\""),
        "{stdout}"
    );
    let out = run(&["-k", "deploy", "rollback of something"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("  rollback (no version): \"of something\""),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A lifecycle stage needs no message: --at says when.
    let out = run(&["-k", "mitigated", "--at", "2026-11-22T03:20:00Z"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("  mitigated at 2026-11-22 03:20:00Z"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let replay = journal::read(&journal::timelines(&d)[0]).unwrap();
    let inc = Incident::fold(&replay.events);
    let dues: Vec<_> = inc.action_items.iter().map(|a| a.due.clone()).collect();
    assert_eq!(
        dues,
        vec![
            Some(tomorrow.format("%Y-%m-%d").to_string()),
            Some(
                (today + chrono::Days::new(7))
                    .format("%Y-%m-%d")
                    .to_string()
            ),
        ]
    );
    assert_eq!(inc.changes[0].tags, vec!["rollback", "v41"]);

    // What is refused says what is wrong and how to write it.
    for (args, needles) in [
        (
            vec!["-k", "action", "--due", "next-week", "x"],
            vec!["--due `next-week` is not a due date", "YYYY-MM-DD", "+3d"],
        ),
        (
            vec!["-k", "action", "x due:next-week"],
            vec!["`due:next-week` is not a due date", "due:fri"],
        ),
        (
            vec!["-k", "note"],
            vec!["no MESSAGE", "ic event --kind note \""],
        ),
        (
            vec!["-k", "deploy"],
            vec!["no MESSAGE", "needs what changed", "v42 payments client"],
        ),
        (
            vec!["-k", "deploy", "rollback"],
            vec!["say what the rollback changed"],
        ),
        (vec!["--new", "a note"], vec!["--new is for opening"]),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(err.contains(n), "{args:?}: {err}");
        }
    }
}

#[test]
fn a_second_open_is_refused_naming_the_open_incident_unless_new() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("incidents");
    let open = |extra: &[&str], title: &str| {
        ic().args(["event", "-a", "ann", "-k", "open", "--timeline-dir"])
            .arg(&d)
            .args(extra)
            .arg(title)
            .output()
            .unwrap()
    };
    assert!(open(&[], "Checkout 5xx").status.success());
    let first = journal::timelines(&d).remove(0);
    let out = open(&[], "Payments down");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for n in [
        "an incident is already open in",
        "\"Checkout 5xx\"",
        &first.display().to_string(),
        "--new",
        "--kind close",
    ] {
        assert!(err.contains(n), "{n}: {err}");
    }
    assert_eq!(journal::timelines(&d).len(), 1, "nothing was written");
    // --new opens a second one beside it.
    let out = open(&["--new"], "Payments down");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(journal::timelines(&d).len(), 2);
    // An open into a file that holds an open incident is refused too.
    let out = ic()
        .args(["event", "-k", "open", "-t"])
        .arg(&first)
        .arg("again")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("already holds the open incident \"Checkout 5xx\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Once every incident is closed, an open needs no --new.
    for f in journal::timelines(&d) {
        let out = ic()
            .args(["event", "-k", "close", "-t"])
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(open(&[], "Search slow").status.success());
    assert_eq!(journal::timelines(&d).len(), 3);
}
