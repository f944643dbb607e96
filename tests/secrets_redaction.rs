//! Secrets stay hidden in every form they come back in: an endpoint that
//! reflects a secret percent-encoded (upper-, lower- and mixed-case hex, every
//! byte encoded) or form-encoded (space as `+`), in a `Location`, another
//! header and its body; secrets too short to redact, which `ic lint` warns
//! about by variable name; and credentials in a URL's userinfo, sent as HTTP
//! basic auth to the URL's origin only and hidden everywhere `ic` shows the
//! URL (errors, `ic check`, its JSON `url`, exemplars, `ic watch`, timelines, logs).

mod support;

use incident_commander::config::Config;
use incident_commander::source::probe::{ProbeTarget, probe};
use std::path::Path;
use support::hostile::*;

/// Every encoded form `/reflect-encoded` sends back, plus the raw value.
fn forms(secret: &str) -> Vec<String> {
    let mut all = vec![secret.to_string()];
    all.extend(ENCODINGS.iter().map(|how| encoded_as(secret, how)));
    all
}

fn leaks(text: &str, secret: &str) -> Vec<String> {
    let mut found: Vec<String> = forms(secret)
        .into_iter()
        .filter(|f| text.contains(f.as_str()))
        .collect();
    // The mixed-case form: compare with hex digits folded.
    let folded = text.to_ascii_lowercase();
    let lower = percent_encoded(secret, false).to_ascii_lowercase();
    if folded.contains(&lower) && !found.iter().any(|f| f.eq_ignore_ascii_case(&lower)) {
        found.push(format!("{lower} (in some case)"));
    }
    found
}

#[tokio::test]
async fn percent_and_form_encoded_reflections_are_redacted() {
    let h = Hostile::start().await;
    // `hunter/2` reflected as `hunter%2F2`, `hunter%2f2`, `hunter+2` …
    assert!(percent_encoded(ODD_SECRET, true).starts_with("hunter%2F2"));
    let text = format!(
        "service: t\nendpoints:\n  - {{name: e, url: \"{}\", headers: {{X-Reflect: \"${{{ODD_SECRET_VAR}}}\"}}}}\n",
        h.url("/reflect-encoded")
    );
    let c = Config::parse(Path::new("t.yaml"), &text, |k| {
        (k == ODD_SECRET_VAR).then(|| ODD_SECRET.to_string())
    })
    .unwrap();
    let t = ProbeTarget::from_config(&c.endpoints[0], &c).unwrap();
    let s = probe(&t, incident_commander::clock::now()).await;
    let ex = s.exemplar.clone().expect("a 500 keeps an exemplar");
    // The server really reflected it (so the test is not vacuous) …
    let seen = h.heads_on(h.port);
    assert!(seen[0].head.contains(ODD_SECRET), "{seen:#?}");
    // The body is cut at 200 bytes: its first lines are in the exemplar.
    for how in ["upper", "lower", "mixed"] {
        assert!(
            ex.body.contains(&format!("{how}=[redacted]\n")),
            "{how}: {}",
            ex.body
        );
    }
    assert!(
        ex.headers.contains("location: /login?next=[redacted]"),
        "{}",
        ex.headers
    );
    for how in ENCODINGS {
        assert!(
            ex.headers.contains(&format!("x-{how}: [redacted]")),
            "{how}: {}",
            ex.headers
        );
    }
    // … and no form of it is anywhere in the sample.
    let all = format!("{s:?}");
    assert!(
        leaks(&all, ODD_SECRET).is_empty(),
        "{:?} in {all}",
        leaks(&all, ODD_SECRET)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ic_check_and_watch_never_show_an_encoded_secret() {
    let h = Hostile::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (cfg, log) = (dir.path().join("ic.yaml"), dir.path().join("ic.log"));
    let timelines = dir.path().join("incidents");
    std::fs::write(
        &cfg,
        format!(
            "service: t\ntimeline_dir: {}\nnotify: {{desktop: false, bell: false}}\npoll: {{interval: 200ms, timeout: 1s}}\n\
             endpoints:\n{}",
            timelines.display(),
            ENCODINGS
                .iter()
                .map(|how| format!(
                    "  - {{name: {how}, url: \"{}\", headers: {{X-Reflect: \"${{{ODD_SECRET_VAR}}}\"}}}}\n",
                    h.url(&format!("/reflect-redirect?as={how}"))
                ))
                .collect::<String>()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ic"))
            .arg("-c")
            .arg(&cfg)
            .arg("--log-file")
            .arg(&log)
            .args(args)
            .env(ODD_SECRET_VAR, ODD_SECRET)
            .env("IC_LOG", "debug")
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let mut seen = String::new();
    for args in [
        &["check", "--json"][..],
        &["check"],
        &["watch", "--json", "--duration", "3s"],
        &["postmortem", "--timeline-dir", timelines.to_str().unwrap()],
    ] {
        seen.push_str(&tokio::task::block_in_place(|| run(args)));
    }
    for f in incident_commander::journal::timelines(&timelines) {
        seen.push_str(&std::fs::read_to_string(f).unwrap());
    }
    seen.push_str(&std::fs::read_to_string(&log).unwrap_or_default());
    // The redirects were followed and are shown (redacted).
    assert!(seen.contains("\"final_url\":\"http://127.0.0.1:"), "{seen}");
    assert!(seen.contains("/gone?next=[redacted]"), "{seen}");
    assert!(
        h.heads_on(h.port)
            .iter()
            .all(|s| s.head.contains(ODD_SECRET)),
        "the secret was sent"
    );
    let found = leaks(&seen, ODD_SECRET);
    assert!(found.is_empty(), "{found:?} leaked:\n{seen}");
}

#[test]
fn ic_lint_warns_about_secrets_too_short_to_redact_by_name_only() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ic.yaml");
    std::fs::write(
        &cfg,
        "service: t\n# X-Old: \"${IC_SHORT_TOKEN}\"\nendpoints:\n  - name: a\n    url: http://127.0.0.1:1/\n    headers:\n      X-Key: \"k-${IC_SHORT_TOKEN}\"\n      X-Team: \"${IC_SHORT_DEFAULT:-zq}\"\n      X-Long: \"${IC_LONG_TOKEN}\"\n",
    )
    .unwrap();
    let lint = |json: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ic"));
        cmd.arg("lint")
            .arg(&cfg)
            .env("IC_SHORT_TOKEN", "q7z")
            .env("IC_LONG_TOKEN", "long-enough-token")
            .env_remove("IC_SHORT_DEFAULT")
            .env("IC_LOG", "off");
        if json {
            cmd.arg("--json");
        }
        cmd.output().unwrap()
    };
    let o = lint(false);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let file = cfg.display();
    assert!(
        err.contains(&format!(
            "{file}:7:17: warning: the value of ${{IC_SHORT_TOKEN}} is under 4 characters"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:8:16: warning: the value of ${{IC_SHORT_DEFAULT}}"
        )),
        "{err}"
    );
    assert!(!err.contains("IC_LONG_TOKEN"), "{err}");
    assert!(
        err.contains("hint: if IC_SHORT_TOKEN is a secret, make it longer"),
        "{err}"
    );
    assert!(!out.contains("q7z") && !err.contains("q7z"), "{out}{err}");
    assert!(out.contains("1 file checked, all valid"), "{out}");

    let o = lint(true);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(
        (
            v["warnings"][0]["line"].as_u64(),
            v["warnings"][0]["column"].as_u64()
        ),
        (Some(7), Some(17))
    );
    assert!(!v.to_string().contains("q7z"), "{v}");
}

/// `ic-probe:p@ss:w0rd-9f2c`, as basic auth sends it.
const BASIC: &str = "Basic aWMtcHJvYmU6cEBzczp3MHJkLTlmMmM=";
/// The password as written in a URL (`@` and `:` percent-encoded), and decoded.
const PASSWORD_IN_URL: &str = "p%40ss%3Aw0rd-9f2c";
const PASSWORD: &str = "p@ss:w0rd-9f2c";

fn userinfo_url(h: &Hostile, path: &str) -> String {
    format!(
        "http://ic-probe:{PASSWORD_IN_URL}@127.0.0.1:{}{path}",
        h.port
    )
}

fn no_password(text: &str) -> bool {
    !text.contains(PASSWORD) && !text.contains(PASSWORD_IN_URL) && !text.contains(&BASIC[6..])
}

#[tokio::test]
async fn userinfo_is_sent_as_basic_auth_to_its_origin_only_and_never_shown() {
    let h = Hostile::start().await;
    let parse = |text: &str| Config::parse(Path::new("t.yaml"), text, |_| None);
    let endpoint = |url: &str, extra: &str| {
        format!("service: t\nendpoints:\n  - {{name: e, url: \"{url}\"{extra}}}\n")
    };
    let c = parse(&endpoint(&userinfo_url(&h, "/headers"), "")).unwrap();
    assert!(no_password(&format!("{c:?}")), "{c:?}");
    let t = ProbeTarget::from_config(&c.endpoints[0], &c).unwrap();
    assert_eq!(
        t.url_display,
        format!("http://ic-probe:[redacted]@127.0.0.1:{}/headers", h.port)
    );
    let s = probe(&t, incident_commander::clock::now()).await;
    assert!(s.class.is_ok(), "{:?}", s.error);
    let head = &h.heads_on(h.port)[0].head;
    assert_eq!(header_value(head, "authorization"), Some(BASIC), "{head}");
    assert!(!head.contains(PASSWORD_IN_URL), "{head}");

    // Echoed back in a failing answer, it is redacted from the exemplar.
    let c = parse(&endpoint(
        &userinfo_url(&h, "/echo"),
        ", expect: {status: [201]}",
    ))
    .unwrap();
    let t = ProbeTarget::from_config(&c.endpoints[0], &c).unwrap();
    let s = probe(&t, incident_commander::clock::now()).await;
    let ex = s.exemplar.clone().expect("a failure keeps an exemplar");
    assert!(
        h.heads_on(h.port)[1].head.contains(BASIC),
        "the credential was sent"
    );
    assert!(no_password(&format!("{s:?}")), "{s:?}");

    // Not to another origin.
    lock(&h.counters.heads).clear();
    let c = parse(&endpoint(
        &userinfo_url(&h, &redirect_path(302, &h.other_url("/headers"))),
        "",
    ))
    .unwrap();
    let t = ProbeTarget::from_config(&c.endpoints[0], &c).unwrap();
    let s = probe(&t, incident_commander::clock::now()).await;
    assert!(s.class.is_ok(), "{:?}", s.error);
    let other = &h.heads_on(h.other_port)[0].head;
    assert_eq!(header_value(other, "authorization"), None, "{other}");
    drop(ex);

    // Userinfo and an Authorization header at once: which one is meant?
    let e = parse(&endpoint(
        &userinfo_url(&h, "/headers"),
        ", headers: {authorization: \"Bearer x\"}",
    ))
    .unwrap_err();
    assert!(
        e.message
            .contains("credentials in its URL and an Authorization header"),
        "{e}"
    );
    assert!(no_password(&e.to_string()), "{e}");
}

#[test]
fn ic_check_shows_urls_with_their_password_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ic.yaml");
    let port = support::free_port();
    std::fs::write(
        &cfg,
        format!(
            "service: t\nendpoints:\n  - {{name: a, url: \"http://ic-probe:{PASSWORD_IN_URL}@127.0.0.1:{port}/x\"}}\n  - {{name: b, url: \"http://ic-probe:${{IC_URL_PASSWORD}}@127.0.0.1:{port}/y\"}}\n"
        ),
    )
    .unwrap();
    let log = dir.path().join("ic.log");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_ic"))
            .arg("-c")
            .arg(&cfg)
            .arg("--log-file")
            .arg(&log)
            .args(args)
            .env("IC_URL_PASSWORD", PASSWORD_IN_URL)
            .env("IC_LOG", "debug")
            .output()
            .unwrap();
        (
            o.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    };
    let (code, json) = run(&["check", "--json"]);
    assert_eq!(code, Some(1), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v[0]["url"],
        format!("http://ic-probe:[redacted]@127.0.0.1:{port}/x")
    );
    assert_eq!(
        v[1]["url"],
        format!("http://ic-probe:${{IC_URL_PASSWORD}}@127.0.0.1:{port}/y")
    );
    let (_, table) = run(&["check"]);
    let (_, lint) = run(&["lint"]);
    let timelines = dir.path().join("incidents");
    let (_, watch) = run(&[
        "watch",
        "--json",
        "--duration",
        "2s",
        "--timeline-dir",
        timelines.to_str().unwrap(),
    ]);
    assert!(watch.contains("\"name\":\"a\""), "{watch}");
    let mut files = std::fs::read_to_string(&log).unwrap();
    for f in incident_commander::journal::timelines(&timelines) {
        files.push_str(&std::fs::read_to_string(f).unwrap());
    }
    for text in [&json, &table, &lint, &watch, &files] {
        assert!(no_password(text), "{text}");
    }
}
