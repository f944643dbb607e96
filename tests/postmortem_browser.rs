//! The HTML postmortem opened in a real headless browser (Debian's
//! `chromium`): the DOM it builds has the title, the lifecycle table and one
//! `<svg>` per chart, and its screenshot is far from a blank page's. Skipped,
//! saying so, where chromium is not installed — unless `IC_REQUIRE_CHROMIUM=1`
//! (as `.ci/run` sets), which makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var_os("IC_REQUIRE_CHROMIUM").is_none(),
            "IC_REQUIRE_CHROMIUM is set but chromium is not installed (apt-get install chromium)"
        );
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
    }
    found
}

/// Runs headless chromium on `page` with `args`, with its own profile, bounded in time.
fn browse(browser: &Path, profile: &Path, args: &[&str], page: &Path) -> std::process::Output {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = std::time::Instant::now() + Duration::from_secs(25);
    while child.try_wait().ok().flatten().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 25 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("chromium output")
}

#[test]
fn the_html_postmortem_renders_in_a_real_browser_with_its_title_lifecycle_and_charts() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("pm.html");
    let o = Command::new(env!("CARGO_BIN_EXE_ic"))
        .env("IC_LOG", "off")
        .args(["postmortem", "--format", "html", "-o"])
        .arg(&page)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/incident.jsonl"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let profile = dir.path().join("profile");
    let dom = browse(&browser, &profile, &["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<title>Postmortem: error_rate on shop /api/payments</title>"),
        "{dom}"
    );
    assert!(dom.contains("<h2>Lifecycle</h2>"), "{dom}");
    let lifecycle = &dom[dom.find("<h2>Lifecycle</h2>").unwrap()..];
    let table = &lifecycle[..lifecycle.find("</table>").expect("the lifecycle table")];
    for stage in ["Impact started", "Detected", "Mitigated", "Resolved"] {
        assert!(table.contains(&format!("<td>{stage}</td>")), "{table}");
    }
    assert_eq!(dom.matches("<svg").count(), 3, "one per chart");

    // A screenshot of the page against one of an empty page the same size.
    let shot = dir.path().join("pm.png");
    browse(
        &browser,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1000,2000",
        ],
        &page,
    );
    let blank_page = dir.path().join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank = dir.path().join("blank.png");
    browse(
        &browser,
        &profile,
        &[
            &format!("--screenshot={}", blank.display()),
            "--window-size=1000,2000",
        ],
        &blank_page,
    );
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let (ours, empty) = (size(&shot), size(&blank));
    assert!(
        ours > 0 && empty > 0,
        "screenshots: {ours} and {empty} bytes"
    );
    assert!(
        ours > 10 * empty && ours > 50_000,
        "the page's screenshot ({ours} bytes) is not far from a blank one ({empty} bytes)"
    );
}
