//! Nothing acknowledged is ever lost (issue #13, part 3), through the real
//! binary against hand-edited and hostile timelines: a `seq` at its maximum,
//! a time in 9999, the disk full when an incident opens, an event over the
//! line limit, a stream with invalid UTF-8 and no newline, symlinks, FIFOs,
//! `/dev/zero`, a world-writable directory and one another user owns, a 1 TiB
//! sparse timeline, severities piped in, several watchers on one directory
//! (also on a full disk), two opens in one second; and a restart that must not
//! re-fire what the open incident already records.

use incident_commander::core::event::{Draft, Kind};
use incident_commander::journal;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ic() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ic"));
    c.env("IC_LOG", "off").env_remove("IC_CONFIG");
    c
}

fn event(file: &Path, args: &[&str]) -> Output {
    ic().args(["event", "-a", "ann", "-t"])
        .arg(file)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A timeline with an opened incident and one note, written by `ic event`.
fn timeline(dir: &Path) -> PathBuf {
    let file = dir.join("t.jsonl");
    assert!(event(&file, &["-k", "open", "payments"]).status.success());
    assert!(event(&file, &["first note"]).status.success());
    file
}

fn append_raw(file: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    writeln!(f, "{line}").unwrap();
}

#[test]
fn a_seq_at_its_maximum_is_exit_2_with_the_file_and_line_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = timeline(dir.path());
    let forged =
        Draft::note("x", "forged", &[]).into_event(u64::MAX, incident_commander::clock::now());
    append_raw(&file, &forged.to_line());
    let before = std::fs::read(&file).unwrap();
    let out = event(&file, &["after the forged line"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing acknowledged");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}:3: seq 18446744073709551615 cannot increase",
            file.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before, "nothing written");
}

#[test]
fn a_time_in_9999_is_reported_and_never_stamped_on_later_events() {
    let dir = tempfile::tempdir().unwrap();
    let file = timeline(dir.path());
    append_raw(
        &file,
        r#"{"seq":3,"ts":"9999-12-31T00:00:00.000Z","kind":"note","actor":"x","msg":"from the future"}"#,
    );
    let out = event(&file, &["-k", "resolved", "fixed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = event(&file, &["-k", "close", "done"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Closed without the learn phase's records: it says so, and still closes.
    assert!(
        stderr(&out).contains("is closed, but: no root cause"),
        "{}",
        stderr(&out)
    );
    let replay = journal::read(&file).unwrap();
    let now = incident_commander::clock::now();
    for e in replay.events.iter().filter(|e| e.seq > 3) {
        assert!(e.ts <= now, "event {} stamped {}", e.seq, e.ts);
    }
    let pm = ic().args(["postmortem"]).arg(&file).output().unwrap();
    let err = stderr(&pm);
    assert!(
        err.contains(":3: its time 9999-12-31T00:00:00.000Z is in the future"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&pm.stdout);
    assert!(!text.contains("69890"), "no absurd figure:\n{text}");
    let resolve = text
        .lines()
        .find(|l| l.contains("time to resolve"))
        .expect("the lifecycle table's resolve row");
    assert!(!resolve.contains("h "), "{resolve}");
}

/// A config whose only endpoint refuses connections: `down` fires within a second.
fn down_config(dir: &Path) -> PathBuf {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.join("ic.yaml");
    std::fs::write(
        &cfg,
        format!(
            "service: t\ntimeline_dir: {}\nnotify: {{desktop: false, bell: false}}\npoll: {{interval: 100ms, timeout: 100ms}}\n\
             endpoints:\n  - {{name: gone, url: \"http://127.0.0.1:{port}/\"}}\n",
            dir.join("incidents").display()
        ),
    )
    .unwrap();
    cfg
}

/// `ic watch --json` on `cfg`, its stdout lines read on a thread.
fn watch(
    cfg: &Path,
    extra: &[&str],
    shell_prefix: Option<&str>,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<serde_json::Value>,
) {
    let mut child = match shell_prefix {
        Some(prefix) => Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{prefix} && exec env IC_LOG=off {} -c {} watch --json {}",
                env!("CARGO_BIN_EXE_ic"),
                cfg.display(),
                extra.join(" ")
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        None => ic()
            .arg("-c")
            .arg(cfg)
            .args(["watch", "--json"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a JSON line for which `pred` holds.
fn wait_line(
    rx: &std::sync::mpsc::Receiver<serde_json::Value>,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if pred(&v) => return v,
            Ok(_) => {}
            Err(_) => panic!("no {what} from ic watch within 15 s"),
        }
    }
}

fn sigterm(child: &mut std::process::Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap()
}

#[test]
fn a_full_disk_when_the_incident_opens_keeps_every_event_and_writes_them_when_room_returns() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = down_config(dir.path());
    // No byte may be written (a file-size limit of 0 stands for a full disk).
    let (mut child, rx) = watch(&cfg, &[], Some("ulimit -S -f 0"));
    let fired = wait_line(&rx, "a signal", |v| {
        v["type"] == "signal" && v["state"] == "fired"
    });
    std::thread::sleep(Duration::from_millis(1500)); // a few retries against the limit
    let files = journal::timelines(&dir.path().join("incidents"));
    assert!(
        files.len() <= 1,
        "one file per incident, not one per retry: {files:?}"
    );
    // Room again.
    let ok = Command::new("prlimit")
        .args([
            &format!("--pid={}", child.id()),
            "--fsize=unlimited:unlimited",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let replay = loop {
        let files = journal::timelines(&dir.path().join("incidents"));
        if let Some(f) = files.first() {
            let r = journal::read(f).unwrap();
            if r.events.iter().any(|e| e.kind == Kind::SignalFired) {
                assert_eq!(files.len(), 1, "{files:?}");
                break r;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nothing written after room returned"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        sigterm(&mut child).code(),
        Some(0),
        "everything saved: exit 0"
    );
    assert!(replay.problems.is_empty(), "{:?}", replay.problems);
    assert_eq!(
        replay.events[0].kind,
        Kind::IncidentOpened,
        "the open comes first"
    );
    let signal = replay
        .events
        .iter()
        .find(|e| e.kind == Kind::SignalFired)
        .unwrap();
    // Written late, dated when it happened: within a second of when it was printed.
    let printed = chrono::DateTime::parse_from_rfc3339(fired["at"].as_str().unwrap()).unwrap();
    let lag = (signal.ts - printed.with_timezone(&chrono::Utc))
        .num_milliseconds()
        .abs();
    assert!(
        lag < 1000,
        "the signal is dated {} but fired at {printed}",
        signal.ts
    );
}

#[test]
fn ic_watch_exits_1_and_prints_what_it_could_not_save() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = down_config(dir.path());
    let (mut child, rx) = watch(&cfg, &[], Some("ulimit -S -f 0"));
    wait_line(&rx, "a signal", |v| v["type"] == "signal");
    let status = sigterm(&mut child);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("NOT SAVED:"), "{err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        lines.iter().any(|v| v["kind"] == "incident_opened"),
        "{err}"
    );
    assert!(lines.iter().any(|v| v["kind"] == "signal_fired"), "{err}");
}

#[test]
fn an_event_over_the_line_limit_is_refused_when_written_not_skipped_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = timeline(dir.path());
    let big = "x".repeat(journal::MAX_LINE + 10);
    // Through --stdin: the long line is reported, the others written.
    let mut child = ic()
        .args(["event", "--stdin", "--json", "-a", "ann", "-t"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let near = "y".repeat(journal::MAX_LINE - 20); // fits the input, not a line with JSON around it
    write!(stdin, "before\n{big}\n{near}\nafter\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let acked = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(acked, 2);
    let err = stderr(&out);
    assert!(
        err.contains("stdin line 2: 1048586 bytes, over the 1048576"),
        "{err}"
    );
    assert!(
        err.contains("stdin line 3: the event is") && err.contains("over the 1048576-byte limit"),
        "{err}"
    );
    let replay = journal::read(&file).unwrap();
    assert!(replay.problems.is_empty(), "{:?}", replay.problems);
    let msgs: Vec<&str> = replay.events.iter().map(|e| e.msg.as_str()).collect();
    assert_eq!(
        msgs[msgs.len() - 2..],
        ["before", "after"],
        "every acknowledged event is read"
    );
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn stdin_with_invalid_utf8_and_no_newline_is_lossy_per_line_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let file = timeline(dir.path());
    let mut child = ic()
        .args(["event", "--stdin", "--json", "-a", "ann", "-t"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"caf\xc3 bad byte\nstill here\n").unwrap();
    // 64 MiB without a newline: read and dropped, never held.
    let chunk = vec![b'z'; 1024 * 1024];
    for _ in 0..64 {
        stdin.write_all(&chunk).unwrap();
    }
    let peak = vm_hwm_kib(pid);
    stdin.write_all(b"\nthe end\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("stdin line 1: not valid UTF-8"), "{err}");
    assert!(err.contains("stdin line 3: 67108864 bytes"), "{err}");
    assert!(peak < 40 * 1024, "ic event held {peak} KiB");
    let msgs: Vec<String> = journal::read(&file)
        .unwrap()
        .events
        .iter()
        .map(|e| e.msg.clone())
        .collect();
    assert!(
        msgs.contains(&"caf\u{fffd} bad byte".to_string()),
        "{msgs:?}"
    );
    assert!(msgs.contains(&"still here".to_string()) && msgs.contains(&"the end".to_string()));
}

#[test]
fn symlinks_fifos_dev_zero_and_open_directories_are_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let tl = dir.path().join("incidents");
    std::fs::create_dir(&tl).unwrap();
    std::fs::set_permissions(&tl, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // A symlink to a file of the user's: never appended to, chmodded or cut.
    let precious = dir.path().join("precious.txt");
    std::fs::write(&precious, "keep\nlast line without newline").unwrap();
    std::fs::set_permissions(
        &precious,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let link = tl.join("20991231T000000Z-link.jsonl");
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    let out = event(&link, &["note"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is a symbolic link, not a regular file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&precious).unwrap(),
        "keep\nlast line without newline"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&precious).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o644, "not chmodded");
    // A FIFO and /dev/zero named like timelines: refused at once, ignored by listing.
    let fifo = tl.join("20991231T000001Z-fifo.jsonl");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink("/dev/zero", tl.join("20991231T000002Z-zero.jsonl")).unwrap();
    let started = Instant::now();
    let out = event(&fifo, &["note"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("FIFO"), "{}", stderr(&out));
    let out = ic()
        .args(["event", "--timeline-dir"])
        .arg(&tl)
        .arg("note")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "no open incident: {}",
        stderr(&out)
    );
    let out = ic()
        .args(["postmortem", "--timeline-dir"])
        .arg(&tl)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // `ic watch` resumes from the same directory without hanging or reading forever.
    let cfg = down_config(dir.path());
    let out = ic()
        .arg("-c")
        .arg(&cfg)
        .args(["watch", "--duration", "1s", "--no-incident"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    // A directory anyone may write to is refused with what to do.
    let open = dir.path().join("shared");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = ic()
        .args(["event", "-k", "open", "--timeline-dir"])
        .arg(&open)
        .arg("x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("chmod o-w"), "{}", stderr(&out));
}

#[test]
fn two_watchers_on_one_directory_share_one_incident_and_two_opens_get_two_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = down_config(dir.path());
    let (mut a, rx_a) = watch(&cfg, &[], None);
    let (mut b, rx_b) = watch(&cfg, &[], None);
    wait_line(&rx_a, "a's signal", |v| v["type"] == "signal");
    wait_line(&rx_b, "b's signal", |v| v["type"] == "signal");
    assert_eq!(sigterm(&mut a).code(), Some(0));
    assert_eq!(sigterm(&mut b).code(), Some(0));
    let files = journal::timelines(&dir.path().join("incidents"));
    assert_eq!(files.len(), 1, "one open incident per service: {files:?}");
    let replay = journal::read(&files[0]).unwrap();
    let opened = replay
        .events
        .iter()
        .filter(|e| e.kind == Kind::IncidentOpened)
        .count();
    assert_eq!(opened, 1);
    let chosen = replay
        .events
        .iter()
        .filter(|e| e.kind == Kind::PlaybookSelected)
        .count();
    assert_eq!(chosen, 1, "the joiner keeps the incident's playbook");
    // Two explicit opens with the same title in the same second: two files.
    let other = dir.path().join("other");
    let spawn = || {
        // `--new`: the second open is meant, whichever of the two sees the other first.
        ic().args(["event", "-k", "open", "--new", "--timeline-dir"])
            .arg(&other)
            .arg("same title")
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut x, mut y) = (spawn(), spawn());
    assert!(x.wait().unwrap().success() && y.wait().unwrap().success());
    let files = journal::timelines(&other);
    assert_eq!(files.len(), 2, "{files:?}");
    for f in files {
        assert_eq!(journal::read(&f).unwrap().events.len(), 1);
    }
}

#[test]
fn a_restart_resumes_what_the_incident_records_without_firing_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = down_config(dir.path());
    let (mut first, rx) = watch(&cfg, &[], None);
    wait_line(&rx, "the signal", |v| {
        v["type"] == "signal" && v["state"] == "fired"
    });
    assert_eq!(sigterm(&mut first).code(), Some(0));
    let log = dir.path().join("second.log");
    let out = Command::new(env!("CARGO_BIN_EXE_ic"))
        .env("IC_LOG", "info")
        .env_remove("IC_CONFIG")
        .arg("--log-file")
        .arg(&log)
        .arg("-c")
        .arg(&cfg)
        // Past `detect.min_duration` (5 s), when the detector's fire is let through.
        .args(["watch", "--json", "--duration", "8s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"state\":\"resumed\""), "{stdout}");
    assert!(
        !stdout
            .lines()
            .any(|l| l.contains("\"type\":\"signal\"") && l.contains("\"fired\"")),
        "re-fired after the restart:\n{stdout}"
    );
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("resumed a signal the open incident already records"),
        "{logged}"
    );
    let files = journal::timelines(&dir.path().join("incidents"));
    let replay = journal::read(&files[0]).unwrap();
    let fired = replay
        .events
        .iter()
        .filter(|e| e.kind == Kind::SignalFired)
        .count();
    assert_eq!(fired, 1, "one signal_fired for one outage");
}

/// Appending reads the last 64 KiB for the last `seq`; when that window holds
/// no complete event it reads the *whole* file — with no size limit — into
/// one buffer. A timeline that is one terabyte of holes (`truncate -s 1T`, or
/// a last line longer than 64 KiB in a big file) makes `ic event`, the view
/// and `ic watch` allocate the file's size: they abort (SIGABRT, the terminal
/// left raw) instead of refusing a file over the 512 MiB limit readers apply.
#[test]
fn appending_to_a_sparse_timeline_over_the_limit_is_refused_not_read_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.jsonl");
    assert!(event(&file, &["-k", "open", "payments"]).status.success());
    assert!(event(&file, &["first note"]).status.success());
    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(1 << 40).unwrap(); // 1 TiB, all holes: costs no disk
    drop(f);
    // Bounded address space, so a regression can never eat the machine's memory.
    let out = Command::new("prlimit")
        .arg(format!("--as={}", 4u64 << 30))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_ic"))
        .args(["event", "-a", "ann", "-t"])
        .arg(&file)
        .arg("second note")
        .env("IC_LOG", "off")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a timeline over the size limit is a usage error (exit 2), got {:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(stderr(&out).contains("limit"), "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        1 << 40,
        "left as it was"
    );
    assert!(!journal::torn_path(&file).exists(), "nothing set aside");
}

/// A timeline directory another user owns (say `--timeline-dir /tmp/ic` that
/// someone created first, mode 0755) passes the "world-writable" check, and
/// so does the file they planted in it: `ic event` appends the responder's
/// note to it, and the owner reads it (their file, whatever mode `ic` sets).
/// Needs root to make a file owned by someone else; skips otherwise.
#[test]
fn a_timeline_directory_owned_by_another_user_is_refused() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to give files to another user");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let tl = base.path().join("shared");
    let opened = ic()
        .args(["event", "-a", "mallory", "-k", "open", "--timeline-dir"])
        .arg(&tl)
        .arg("payments")
        .output()
        .unwrap();
    assert!(opened.status.success(), "{}", stderr(&opened));
    let planted = journal::timelines(&tl).remove(0);
    // Hand the directory and the file to `nobody`, as if they had made them.
    for p in [&tl, &planted] {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tl, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = ic()
        .args(["event", "-a", "ann", "--timeline-dir"])
        .arg(&tl)
        .arg("rotated the db password")
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&planted).unwrap();
    assert!(
        out.status.code() == Some(2) && !text.contains("rotated the db password"),
        "ic appended to a timeline in a directory uid 65534 owns (exit {:?}); they can read:\n{text}",
        out.status.code()
    );
}

/// `ic event -k severity --stdin` builds its first draft from the placeholder
/// message "events from standard input", which is not a severity: it exits 2
/// before reading a line, so severities can never be piped in.
#[test]
fn severities_can_be_piped_in_one_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.jsonl");
    assert!(event(&file, &["-k", "open", "payments"]).status.success());
    let mut child = ic()
        .args(["event", "-a", "ann", "-k", "severity", "--stdin", "-t"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SEV-2 checkout degraded\nSEV-1 checkout down\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let severities = journal::read(&file)
        .unwrap()
        .events
        .iter()
        .filter(|e| e.kind == Kind::SeveritySet)
        .count();
    assert_eq!(
        (out.status.code(), severities),
        (Some(0), 2),
        "{}",
        stderr(&out)
    );
}

/// Two watchers of one service on a full disk: the first creates its timeline
/// but cannot write `incident_opened` into it; the second, under the directory
/// lock, finds an empty file — "not an open incident" — and creates its own.
/// When room returns each writes its opening: two incidents for one service.
#[test]
fn two_watchers_opening_on_a_full_disk_still_share_one_incident() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = down_config(dir.path());
    let (mut a, rx_a) = watch(&cfg, &[], Some("ulimit -S -f 0"));
    wait_line(&rx_a, "a's signal", |v| {
        v["type"] == "signal" && v["state"] == "fired"
    });
    std::thread::sleep(Duration::from_millis(500));
    let (mut b, rx_b) = watch(&cfg, &[], Some("ulimit -S -f 0"));
    wait_line(&rx_b, "b's signal", |v| {
        v["type"] == "signal" && v["state"] == "fired"
    });
    std::thread::sleep(Duration::from_millis(1500)); // a few retries against the limit
    for child in [&a, &b] {
        assert!(
            Command::new("prlimit")
                .args([
                    &format!("--pid={}", child.id()),
                    "--fsize=unlimited:unlimited"
                ])
                .status()
                .unwrap()
                .success()
        );
    }
    let incidents = || {
        journal::timelines(&dir.path().join("incidents"))
            .into_iter()
            .filter(|f| {
                journal::read(f)
                    .is_ok_and(|r| r.events.iter().any(|e| e.kind == Kind::IncidentOpened))
            })
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while incidents().is_empty() {
        assert!(
            Instant::now() < deadline,
            "nothing written after room returned"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(2500)); // both retry at least twice
    for child in [&mut a, &mut b] {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    let found = incidents();
    assert_eq!(found.len(), 1, "one open incident per service: {found:#?}");
}

#[test]
fn a_stale_open_incident_is_neither_resumed_nor_joined() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = down_config(dir.path());
    let incidents = dir.path().join("incidents");
    std::fs::create_dir_all(&incidents).unwrap();
    std::fs::set_permissions(
        &incidents,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    // Left open by an earlier run, quiet for two hours (default stale_after: 1h).
    let old = incidents.join("20200101T000000Z-down-on-orders.jsonl");
    let then = (incident_commander::clock::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let line = format!(
        "{{\"seq\":1,\"ts\":\"{then}\",\"kind\":\"incident_opened\",\"actor\":\"ic\",\"msg\":\"down on orders\",\"data\":{{\"title\":\"down on orders\",\"service\":\"t\"}}}}\n"
    );
    std::fs::write(&old, &line).unwrap();
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let (mut w, rx) = watch(&cfg, &[], None);
    let opened = wait_line(&rx, "a new incident", |v| {
        v["type"] == "incident" && v["state"] == "opened"
    });
    wait_line(&rx, "the signal", |v| v["type"] == "signal");
    assert_eq!(sigterm(&mut w).code(), Some(0));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut w.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("has had no event since") && err.contains("not resumed"),
        "{err}"
    );
    assert_ne!(opened["timeline"].as_str(), old.to_str());
    // The stale file is untouched; the new signal went into a new incident.
    assert_eq!(std::fs::read_to_string(&old).unwrap(), line);
    assert_eq!(journal::timelines(&incidents).len(), 2);
}
