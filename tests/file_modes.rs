//! Files that may hold secrets' neighbours are private, through the real
//! binary: the log file is 0600 in a 0700 directory (a wider existing one is
//! narrowed), never written through a symlink or into someone else's file;
//! `ic postmortem -o` writes a 0600 file whatever the mode of the file it
//! replaces, atomically: a failed write (a full disk, simulated with a file
//! size limit; a missing or unwritable directory) leaves the old file as it
//! was and no empty, partial or temporary file behind.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// `ic lint FILE` (any command starts logging) with `XDG_DATA_HOME` set to `data`.
fn ic_with_log(data: &Path, log_file: Option<&Path>) -> Output {
    let cfg = data.join("ic.yaml");
    std::fs::write(
        &cfg,
        "service: t\nendpoints:\n  - {name: a, url: \"http://127.0.0.1:1/\"}\n",
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ic"));
    if let Some(f) = log_file {
        cmd.arg("--log-file").arg(f);
    }
    cmd.arg("lint")
        .arg(&cfg)
        .env("XDG_DATA_HOME", data)
        .env("IC_LOG", "info")
        .output()
        .unwrap()
}

#[test]
fn the_default_log_is_0600_in_a_0700_directory_even_if_it_was_wider() {
    let data = tempfile::tempdir().unwrap();
    let logs = data.path().join("incident-commander/logs");
    let log = logs.join("ic.log");
    let o = ic_with_log(data.path(), None);
    assert!(o.status.success(), "{o:?}");
    assert_eq!((mode(&logs), mode(&log)), (0o700, 0o600));

    chmod(&logs, 0o755);
    chmod(&log, 0o644);
    let o = ic_with_log(data.path(), None);
    assert!(o.status.success(), "{o:?}");
    assert_eq!((mode(&logs), mode(&log)), (0o700, 0o600), "narrowed");
}

#[test]
fn a_symlinked_default_log_dir_is_used_but_not_chmodded_through() {
    let data = tempfile::tempdir().unwrap();
    let elsewhere = data.path().join("shared");
    std::fs::create_dir(&elsewhere).unwrap();
    chmod(&elsewhere, 0o755);
    std::fs::create_dir_all(data.path().join("incident-commander")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, data.path().join("incident-commander/logs")).unwrap();
    let o = ic_with_log(data.path(), None);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(mode(&elsewhere.join("ic.log")), 0o600);
    assert_eq!(
        mode(&elsewhere),
        0o755,
        "someone's deliberate setup is left alone"
    );
}

#[test]
fn a_chosen_log_file_is_0600_and_its_new_directories_0700() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("a/b");
    let log = dir.join("ic.log");
    let o = ic_with_log(data.path(), Some(&log));
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        (mode(&data.path().join("a")), mode(&dir), mode(&log)),
        (0o700, 0o700, 0o600)
    );

    chmod(&log, 0o644);
    ic_with_log(data.path(), Some(&log));
    assert_eq!(mode(&log), 0o600, "narrowed");
}

#[test]
fn a_log_path_that_is_a_symlink_or_someone_elses_file_is_not_written() {
    let data = tempfile::tempdir().unwrap();
    let victim = data.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    chmod(&victim, 0o644);
    let link = data.path().join("ic.log");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let o = ic_with_log(data.path(), Some(&link));
    assert!(o.status.success(), "{o:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(mode(&victim), 0o644, "the link's target was not touched");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not logging"), "{err}");
    assert!(err.contains("symlink"), "{err}");

    // A file planted by another user (only root can make one here).
    if unsafe { libc::geteuid() } == 0 {
        let planted = data.path().join("planted.log");
        std::fs::write(&planted, "").unwrap();
        chmod(&planted, 0o666);
        std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
        let o = ic_with_log(data.path(), Some(&planted));
        assert!(o.status.success(), "{o:?}");
        assert_eq!(
            std::fs::metadata(&planted).unwrap().len(),
            0,
            "nothing logged into it"
        );
        assert_eq!(std::fs::metadata(&planted).unwrap().uid(), 65534);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("belongs to another user"), "{err}");
    }
}

/// A timeline whose postmortem is several KiB.
fn timeline(dir: &Path) -> std::path::PathBuf {
    let t = dir.join("20261122T030405Z-payments.jsonl");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/incident.jsonl");
    std::fs::copy(golden, &t).unwrap();
    t
}

fn postmortem(t: &Path, out: &Path, file_size_limit_blocks: Option<u32>) -> Output {
    let ic = env!("CARGO_BIN_EXE_ic");
    let args = format!(
        "exec '{ic}' postmortem '{}' -o '{}'",
        t.display(),
        out.display()
    );
    let script = match file_size_limit_blocks {
        Some(n) => format!("ulimit -f {n}; {args}"),
        None => args,
    };
    Command::new("sh")
        .args(["-c", &script])
        .env("IC_LOG", "off")
        .output()
        .unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn postmortem_output_is_private_and_replaces_a_wider_file() {
    let dir = tempfile::tempdir().unwrap();
    let t = timeline(dir.path());
    let out = dir.path().join("pm.md");
    std::fs::write(&out, "old\n").unwrap();
    chmod(&out, 0o644);
    let o = postmortem(&t, &out, None);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(mode(&out), 0o600);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("# "), "{text}");
    assert!(text.len() > 2048, "{} bytes", text.len());

    // Onto a symlink: the link is replaced, its target untouched.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let link = dir.path().join("link.md");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    assert!(postmortem(&t, &link, None).status.success());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // The same document, its charts beside it as `link.assets/`.
    assert_eq!(
        std::fs::read_to_string(&link).unwrap(),
        text.replace("](pm.assets/", "](link.assets/")
    );
    assert!(dir.path().join("link.assets").is_dir());
    assert!(
        !std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_failed_postmortem_write_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let t = timeline(dir.path());
    let before = entries(dir.path());

    // A full disk (the file size limit: 1 block of 512 bytes): no new file …
    let out = dir.path().join("pm.md");
    let o = postmortem(&t, &out, Some(1));
    assert!(!o.status.success(), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot write the postmortem"), "{err}");
    assert!(err.contains(&out.display().to_string()), "{err}");
    assert_eq!(entries(dir.path()), before, "nothing left behind");
    // … and an existing one keeps its content and mode.
    std::fs::write(&out, "old\n").unwrap();
    chmod(&out, 0o640);
    let o = postmortem(&t, &out, Some(1));
    assert!(!o.status.success(), "{o:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old\n");
    assert_eq!(mode(&out), 0o640);
    let mut with_old = before.clone();
    with_old.push("pm.md".into());
    with_old.sort();
    assert_eq!(entries(dir.path()), with_old);

    // A missing directory.
    let o = postmortem(&t, &dir.path().join("nope/pm.md"), None);
    assert!(!o.status.success(), "{o:?}");
    assert!(!dir.path().join("nope").exists());

    // An unwritable directory (root writes anywhere, so only as another user).
    if unsafe { libc::geteuid() } != 0 {
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        chmod(&ro, 0o500);
        let o = postmortem(&t, &ro.join("pm.md"), None);
        assert!(!o.status.success(), "{o:?}");
        assert!(entries(&ro).is_empty());
    }
}
