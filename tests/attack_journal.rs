//! Adversary tests for timelines (`journal.rs`, `ic event`), through the real
//! binary: a sparse file over the size limit, a timeline directory another
//! user owns, `--stdin` for severities, and two watchers opening an incident
//! on a full disk.

use incident_commander::core::event::Kind;
use incident_commander::journal;
use std::io::{BufRead, BufReader};
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

/// `ic watch --json` on `cfg` under a file-size limit of 0 (a full disk).
fn full_disk_watch(
    cfg: &Path,
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<serde_json::Value>,
) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -S -f 0 && exec env IC_LOG=off {} -c {} watch --json",
            env!("CARGO_BIN_EXE_ic"),
            cfg.display()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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

fn wait_signal(rx: &std::sync::mpsc::Receiver<serde_json::Value>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if v["type"] == "signal" && v["state"] == "fired" => return,
            Ok(_) => {}
            Err(_) => panic!("no signal from ic watch within 15 s"),
        }
    }
}

/// Two watchers of one service on a full disk: the first creates its timeline
/// but cannot write `incident_opened` into it; the second, under the directory
/// lock, finds an empty file — "not an open incident" — and creates its own.
/// When room returns each writes its opening: two incidents for one service.
#[test]
fn two_watchers_opening_on_a_full_disk_still_share_one_incident() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = down_config(dir.path());
    let (mut a, rx_a) = full_disk_watch(&cfg);
    wait_signal(&rx_a);
    std::thread::sleep(Duration::from_millis(500));
    let (mut b, rx_b) = full_disk_watch(&cfg);
    wait_signal(&rx_b);
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
