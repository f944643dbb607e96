//! Config loading: the documented example, defaults, and every kind of mistake
//! reported with its message and `line:col`.

use incident_commander::config::{self, Config, ConfigError};
use incident_commander::core::sample::StatusPattern;
use incident_commander::core::yaml::YamlError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'static {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn parse(text: &str) -> Result<Config, YamlError> {
    Config::parse(
        Path::new("ic.yaml"),
        text,
        env(&[("TOKEN", "s3cr3t-value")]),
    )
}

fn err(text: &str) -> YamlError {
    parse(text).expect_err("the config should be rejected")
}

const ONE_ENDPOINT: &str =
    "service: shop\nendpoints:\n  - name: a\n    url: http://127.0.0.1:1/x\n";

#[test]
fn example_config_documents_every_field_and_parses() {
    let text = std::fs::read_to_string("assets/example-config.yaml").unwrap();
    let secrets = [
        ("PAYMENTS_TOKEN", "tok-payments-123"),
        ("PROM_TOKEN", "tok-prom-456"),
        ("SLACK_WEBHOOK", "https://hooks.example.com/T000/B000/XXXX"),
    ];
    // The files it names, next to it: a CA certificate and a playbooks directory.
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::create_dir(dir.path().join("playbooks")).unwrap();
    let d = dir.path().display();
    let c = Config::parse(&dir.path().join("ic.yaml"), &text, env(&secrets)).unwrap();
    assert_eq!(c.service.to_string(), "checkout-api");
    assert_eq!(c.environment.as_ref().map(|e| e.expose()), Some("prod"));
    assert_eq!(
        c.theme,
        Some(incident_commander::config::ThemeName::Default)
    );
    assert_eq!(c.endpoints.len(), 2);
    let pay = &c.endpoints[0];
    assert_eq!(pay.interval(&c.poll), Duration::from_secs(1));
    assert_eq!(pay.timeout(&c.poll), Duration::from_millis(800));
    assert!(pay.critical);
    assert_eq!(
        pay.headers["Authorization"].expose(),
        "Bearer tok-payments-123"
    );
    assert_eq!(
        pay.expect.status,
        vec![StatusPattern::Code(200), StatusPattern::Class(2)]
    );
    assert_eq!(pay.tls.ca_file, Some(PathBuf::from(format!("{d}/ca.pem"))));
    assert_eq!(
        c.timeline_dir,
        Some(PathBuf::from(format!("{d}/incidents")))
    );
    assert_eq!(c.metrics[0].interval.get(), Duration::from_secs(5));
    assert!((c.detect.slo.fraction() - 0.999).abs() < 1e-12);
    assert!(c.notify.webhook.is_some());
    let windows: Vec<&str> = c.maintenance.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(windows, ["weekly db vacuum", "datacenter migration"]);
    // Every secret is known for redaction and none shows in debug output.
    let debug = format!("{c:?}");
    for (_, value) in secrets {
        assert!(
            c.secrets().iter().any(|s| s == value),
            "{value} not collected"
        );
        assert!(
            !debug.contains(value),
            "secret {value} leaked into Debug output"
        );
    }
    assert!(debug.contains("Bearer ${PAYMENTS_TOKEN}"));
}

#[test]
fn starter_config_from_init_is_valid() {
    let text = std::fs::read_to_string("assets/starter-config.yaml").unwrap();
    let c = Config::parse(Path::new("ic.yaml"), &text, env(&[])).unwrap();
    assert!(!c.endpoints.is_empty());
}

#[test]
fn defaults_fill_everything_optional() {
    let c = parse(ONE_ENDPOINT).unwrap();
    assert_eq!(c.poll.interval.get(), Duration::from_secs(2));
    assert_eq!(c.poll.timeout.get(), Duration::from_millis(1500));
    assert_eq!(c.poll.concurrency, 64);
    assert_eq!(c.endpoints[0].method.as_str(), "GET");
    assert!((c.detect.error_rate.fraction() - 0.01).abs() < 1e-12);
    assert_eq!(c.detect.latency_factor, 2.0);
    assert!(c.notify.desktop && c.notify.bell);
    assert!(c.secrets().is_empty());
}

#[test]
fn unknown_field_is_located_and_gets_the_nearest_name() {
    let e = err("service: shop\nendpoints:\n  - name: a\n    url: http://h/\n    intervl: 1s\n");
    assert_eq!((e.line, e.column), (Some(5), Some(5)));
    assert!(e.message.contains("unknown field `intervl`"), "{e}");
    assert_eq!(e.hint.as_deref(), Some("did you mean `interval`?"));
    assert!(
        e.to_string()
            .starts_with("ic.yaml:5:5: endpoints[0]: unknown field `intervl`"),
        "{e}"
    );

    let e = err("service: shop\ndetetc: {}\n");
    assert_eq!((e.line, e.column), (Some(2), Some(1)));
    assert_eq!(e.hint.as_deref(), Some("did you mean `detect`?"));
}

#[test]
fn wrong_type_is_located() {
    let e =
        err("service: shop\nendpoints:\n  - name: a\n    url: http://h/\n    critical: maybe\n");
    assert_eq!((e.line, e.column), (Some(5), Some(15)));
    assert!(
        e.message
            .contains("endpoints[0].critical: invalid type: string \"maybe\", expected a boolean"),
        "{e}"
    );

    let e = err("service: shop\npoll: {concurrency: lots}\n");
    assert_eq!((e.line, e.column), (Some(2), Some(21)));
}

#[test]
fn bad_duration_is_located_and_explained() {
    let e = err("service: shop\npoll:\n  interval: 5xs\n");
    assert_eq!((e.line, e.column), (Some(3), Some(13)));
    assert!(
        e.message
            .contains("poll.interval: `5xs` has an unknown unit `xs`"),
        "{e}"
    );

    let e = err("service: shop\npoll:\n  timeout: 1500\n");
    assert_eq!((e.line, e.column), (Some(3), Some(12)));
    assert!(e.message.contains("has no unit"), "{e}");
}

#[test]
fn bad_percentage_is_located_and_explained() {
    let e = err("service: shop\ndetect:\n  slo: 99.9\n");
    assert_eq!((e.line, e.column), (Some(3), Some(8)));
    assert!(e.message.contains("% sign"), "{e}");

    let e = err("service: shop\ndetect: {error_rate: 120%}\n");
    assert_eq!((e.line, e.column), (Some(2), Some(22)));
    assert!(e.message.contains("out of range"), "{e}");
}

#[test]
fn missing_env_var_is_named_and_located() {
    let e = err(
        "service: shop\nendpoints:\n  - name: a\n    url: http://h/\n    headers: {X-Key: \"${API_KEY}\"}\n",
    );
    assert_eq!((e.line, e.column), (Some(5), Some(22)));
    assert!(
        e.message
            .contains("environment variable API_KEY is not set"),
        "{e}"
    );

    // A default makes it optional.
    let c = parse(&ONE_ENDPOINT.replace("shop", "\"${SERVICE_NAME:-shop}\"")).unwrap();
    assert_eq!(c.service.expose(), "shop");
}

#[test]
fn yaml_syntax_error_is_located() {
    let e = err("service: shop\nendpoints:\n  - name: a\n    url: [http://h/\n");
    assert!(e.line.is_some() && e.column.is_some(), "{e}");
    assert!(
        !e.message.contains(" at line "),
        "position is not repeated in the message: {e}"
    );
    let e = err("service: shop\n\tpoll: {}\n");
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn semantic_mistakes_are_reported() {
    let e = err(
        "service: shop\nendpoints:\n  - {name: a, url: \"http://h/\"}\n  - {name: a, url: \"http://h/\"}\n",
    );
    assert_eq!((e.line, e.column), (Some(4), Some(12)));
    assert!(e.message.contains("`a` is used twice"), "{e}");

    let e = err("service: shop\nendpoints:\n  - {name: a, url: \"ftp://h/\"}\n");
    assert!(e.message.contains("only http:// and https://"), "{e}");

    let e = err(
        "service: shop\nendpoints:\n  - {name: a, url: \"http://h/\", expect: {status: [700]}}\n",
    );
    assert!(e.message.contains("not an HTTP status"), "{e}");

    let e = err("service: shop\nendpoints:\n  - {name: a, url: \"http://h/\", method: FETCH}\n");
    assert!(e.message.contains("unknown variant `FETCH`"), "{e}");

    let e = err("service: shop\nendpoints:\n  - {name: a, url: \"http://h/\", interval: 0s}\n");
    assert!(
        e.message.contains("interval and timeout must be above 0s"),
        "{e}"
    );

    let e = err(
        "service: shop\nendpoints:\n  - {name: a, url: \"http://h/\", expect: {json: {status: ok}}}\n",
    );
    assert!(e.message.contains("start it with a slash"), "{e}");

    let e = err("endpoints: []\n");
    assert!(e.message.contains("missing field `service`"), "{e}");

    // A responder named like the tool would never count as a person.
    let e = err(&format!("{ONE_ENDPOINT}responder: ic\n"));
    assert_eq!((e.line, e.column), (Some(5), Some(1)), "{e}");
    assert!(e.message.contains("the tool or automation uses"), "{e}");
    assert_eq!(
        parse(&format!("{ONE_ENDPOINT}responder: ann\n"))
            .unwrap()
            .responder
            .map(|r| r.to_string()),
        Some("ann".into())
    );

    let e = err("");
    assert!(e.message.contains("empty"), "{e}");
}

#[test]
fn interpolated_secrets_never_appear_in_errors() {
    // The token is valid as an environment value but makes the URL invalid.
    let c = Config::parse(
        Path::new("ic.yaml"),
        "service: shop\nendpoints:\n  - {name: a, url: \"http://h:${TOKEN}/\"}\n",
        env(&[("TOKEN", "not-a-port-s3cr3t")]),
    );
    let e = c.expect_err("invalid port");
    assert!(!e.to_string().contains("s3cr3t"), "{e}");
    assert!(e.to_string().contains("${TOKEN}"), "{e}");
}

#[test]
fn lookup_order_is_flag_env_cwd_then_platform_dir() {
    let flag = PathBuf::from("/a/ic.yaml");
    let envp = PathBuf::from("/b/ic.yaml");
    assert_eq!(
        config::locate(Some(&flag), Some(envp.clone())).unwrap(),
        flag
    );
    assert_eq!(config::locate(None, Some(envp.clone())).unwrap(), envp);
    let cwd = std::env::current_dir().unwrap();
    if !cwd.join("ic.yaml").exists() {
        match config::locate(None, None) {
            Err(ConfigError::NotFound { looked }) => assert!(looked.contains("./ic.yaml")),
            Ok(p) => assert!(p.ends_with("ic.yaml")),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn load_reports_missing_and_non_utf8_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let e = Config::load(&missing).unwrap_err();
    assert!(e.to_string().contains("cannot read"), "{e}");
    let binary = dir.path().join("bin.yaml");
    std::fs::write(&binary, b"service: \xff\xfe\n").unwrap();
    let e = Config::load(&binary).unwrap_err();
    assert!(e.to_string().contains("not UTF-8"), "{e}");
}

// ---------------------------------------------------------------------------
// `ic lint` and the commands that run a config validate through the same code

/// Runs `ic ARGS` in `cwd` with `env`; returns (exit code, stderr).
fn ic_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ic"))
        .current_dir(cwd)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("IC_CONFIG")
        .env("IC_LOG", "off")
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The first line of the error `ic` printed for the config: `FILE:LINE:COL: message`.
fn first_error(stderr: &str) -> String {
    stderr
        .lines()
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .find(|l| l.contains("ic.yaml:"))
        .unwrap_or("")
        .to_string()
}

#[test]
fn lint_check_watch_and_the_view_reject_the_same_configs_at_the_same_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("garbage.pem"), "not a certificate\n").unwrap();
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    std::fs::create_dir(dir.path().join("a-dir")).unwrap();
    let open = dir.path().join("open-to-all");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let ep = "service: t\nendpoints:\n  - name: a\n    url: http://127.0.0.1:1/\n";
    // (case, config, (line, column), message fragment)
    let cases: Vec<(&str, String, (usize, usize), &str)> = vec![
        (
            "a header name with a space",
            format!("{ep}    headers:\n      \"X Bad\": v\n"),
            (6, 7),
            "`X Bad` is not a valid header name",
        ),
        (
            "CR/LF in a header value",
            format!("{ep}    headers:\n      X-Ok: \"a\\r\\nInjected: 1\"\n"),
            (6, 13),
            "has a character a header cannot carry",
        ),
        (
            "CR/LF from the environment",
            format!("{ep}    headers:\n      X-Token: \"${{IC_TEST_CRLF}}\"\n"),
            (6, 16),
            "has a character a header cannot carry",
        ),
        (
            "a missing tls.ca_file",
            format!("{ep}    tls: {{ca_file: ./missing.pem}}\n"),
            (5, 20),
            "tls.ca_file",
        ),
        (
            "a tls.ca_file that is not PEM",
            format!("{ep}    tls: {{ca_file: garbage.pem}}\n"),
            (5, 20),
            "no PEM certificate",
        ),
        (
            "a tls.ca_file that is a directory",
            format!("{ep}    tls: {{ca_file: a-dir}}\n"),
            (5, 20),
            "tls.ca_file",
        ),
        (
            "a timeline_dir that is a file",
            format!("timeline_dir: ./a-file\n{ep}"),
            (1, 15),
            "is a file, not a directory",
        ),
        (
            "a timeline_dir under a file",
            format!("timeline_dir: a-file/incidents\n{ep}"),
            (1, 15),
            "is a file, not a directory",
        ),
        (
            "a timeline_dir anyone may write to",
            format!("timeline_dir: ./open-to-all\n{ep}"),
            (1, 15),
            "writable by every user",
        ),
        (
            "nothing to watch",
            "service: t\nendpoints: []\n".to_string(),
            (2, 1),
            "nothing to watch",
        ),
        (
            "missing playbooks",
            format!("playbooks: ./no-such-playbooks\n{ep}"),
            (1, 12),
            "no-such-playbooks",
        ),
        (
            "a missing playbook in a list",
            format!("playbooks: [a-dir, ./nope.yaml]\n{ep}"),
            (1, 20),
            "nope.yaml",
        ),
        (
            "no probe could ever run",
            format!("poll: {{concurrency: 0}}\n{ep}"),
            (1, 21),
            "poll.concurrency",
        ),
        (
            "an endpoint interval of 0s",
            format!("{ep}    interval: 0s\n"),
            (5, 15),
            "interval and timeout must be above 0s",
        ),
    ];
    let env = [("IC_TEST_CRLF", "tok-s3cret\r\nX-Injected: 1")];
    for (case, text, (line, col), fragment) in cases {
        let cfg = dir.path().join("ic.yaml");
        std::fs::write(&cfg, &text).unwrap();
        let want = format!("{}:{line}:{col}: ", cfg.display());
        let mut seen = Vec::new();
        for args in [
            &["lint", "ic.yaml"][..],
            &["--config", "ic.yaml", "check"],
            &[
                "--config",
                "ic.yaml",
                "watch",
                "--duration",
                "1s",
                "--no-incident",
            ],
            // The full-screen view loads its sources before it needs a terminal.
            &["--config", "ic.yaml"],
        ] {
            let (code, err) = ic_in(dir.path(), args, &env);
            assert_eq!(code, Some(2), "{case}: {args:?} accepted it:\n{err}");
            assert!(!err.contains("s3cret"), "{case}: {err}");
            assert!(
                err.contains("\n  hint: "),
                "{case}: {args:?} gave no hint:\n{err}"
            );
            seen.push(first_error(&err).replace("ic.yaml:", &format!("{}:", cfg.display())));
        }
        // The same message, at the same place, from all four.
        let relative_want = format!("ic.yaml:{line}:{col}: ");
        for (got, args) in seen.iter().zip(["lint", "check", "watch", "the view"]) {
            assert!(
                got.contains(&relative_want) || got.contains(&want),
                "{case}: {args}: want {relative_want}…, got {got:?}"
            );
            assert!(got.contains(fragment), "{case}: {args}: {got}");
        }
        let strip = |s: &str| {
            s.split_once(": ")
                .map(|(_, m)| m.to_string())
                .unwrap_or_default()
        };
        assert_eq!(strip(&seen[0]), strip(&seen[1]), "{case}");
        assert_eq!(strip(&seen[1]), strip(&seen[2]), "{case}");
        assert_eq!(strip(&seen[2]), strip(&seen[3]), "{case}");
    }
}

#[test]
fn relative_paths_resolve_once_against_a_relative_config_path() {
    let cwd = tempfile::tempdir().unwrap();
    let dir = cwd.path().join("dir");
    std::fs::create_dir_all(dir.join("playbooks")).unwrap();
    std::fs::copy(
        "playbooks/http-5xx-spike.yaml",
        dir.join("playbooks/one.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("ic.yaml"),
        "service: t\nplaybooks: ./playbooks\ntimeline_dir: ./incidents\nnotify: {desktop: false, bell: false}\nendpoints:\n  - {name: a, url: \"http://127.0.0.1:1/\", interval: 200ms, timeout: 100ms}\n",
    )
    .unwrap();
    let (code, err) = ic_in(
        cwd.path(),
        &[
            "--config",
            "dir/ic.yaml",
            "watch",
            "--duration",
            "1s",
            "--no-incident",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = ic_in(cwd.path(), &["lint", "dir/ic.yaml"], &[]);
    assert_eq!(code, Some(0), "{err}");
    let c = Config::load(&dir.join("ic.yaml")).unwrap();
    assert!(c.timeline_dir.as_deref().unwrap().is_absolute());
}

#[test]
fn credentials_headers_and_counts_are_checked_where_written() {
    let parse_env = |text: &str| {
        Config::parse(
            Path::new("ic.yaml"),
            text,
            env(&[("CRLF", "tok-s3cret\r\nX: y")]),
        )
    };
    let cases: Vec<(String, (usize, usize), &str)> = vec![
        (
            format!("{ONE_ENDPOINT}    headers: {{X-Key: a, x-key: b}}\n"),
            (5, 14),
            "header `x-key` is given twice (also as `X-Key`)",
        ),
        (
            "service: t\nmetrics:\n  - {name: m, url: \"http://h/metrics\", headers: {\"a:b\": c}}\n"
                .into(),
            (3, 50),
            "`a:b` is not a valid header name",
        ),
        (
            "service: t\nprometheus:\n  url: http://h:9090\n  bearer_token: \"${CRLF}\"\n".into(),
            (3, 3),
            "bearer_token `${CRLF}` has a character a header cannot carry",
        ),
        (
            "service: t\nprometheus:\n  url: http://h:9090\n  bearer_token: a\n  basic_auth: {username: u, password: p}\n"
                .into(),
            (3, 3),
            "more than one credential",
        ),
        (
            "service: t\nalertmanager: {url: \"http://u:p@h:9093\", bearer_token: t}\n".into(),
            (2, 15),
            "both a bearer_token and user:password@",
        ),
        (
            format!("poll: {{timeout: 0s}}\n{ONE_ENDPOINT}"),
            (1, 17),
            "must be above 0s",
        ),
        (
            format!("poll: {{concurrency: -3}}\n{ONE_ENDPOINT}"),
            (1, 21),
            "poll.concurrency is -3",
        ),
        (
            format!("{ONE_ENDPOINT}detect: {{latency_factor: 1}}\n"),
            (5, 1),
            "detect.latency_factor",
        ),
    ];
    for (text, (line, column), fragment) in cases {
        let e = parse_env(&text).expect_err(&text);
        assert_eq!((e.line, e.column), (Some(line), Some(column)), "{e}");
        assert!(e.message.contains(fragment), "{e}");
        assert!(e.hint.is_some(), "{e}");
        assert!(!e.message.contains("\n"), "the hint is split off: {e:?}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}

#[test]
fn theme_and_environment_are_read_and_bad_values_are_located() {
    use incident_commander::config::ThemeName;
    let with = |extra: &str| {
        format!("service: shop\n{extra}endpoints:\n  - name: a\n    url: http://127.0.0.1:1/x\n")
    };
    let c = parse(&with("environment: prod\ntheme: high-contrast\n")).unwrap();
    assert_eq!(c.environment.as_ref().map(|e| e.expose()), Some("prod"));
    assert_eq!(c.theme, Some(ThemeName::HighContrast));
    for name in ThemeName::ALL {
        let c = parse(&with(&format!("theme: {name}\n"))).unwrap();
        assert_eq!(c.theme, Some(name));
    }
    // Both optional.
    let c = parse(ONE_ENDPOINT).unwrap();
    assert_eq!((c.environment.is_none(), c.theme), (true, None));

    // An unknown theme: at its value, with every choice.
    let e = err(&with("theme: neon\n"));
    assert_eq!((e.line, e.column), (Some(2), Some(8)), "{e}");
    assert!(
        e.message.contains(
            "`neon` is not a theme: choose one of default, high-contrast, colorblind, mono"
        ),
        "{e}"
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("theme: high-contrast"),
        "{e}"
    );
    // Names are exact: no other case, no underscores.
    for bad in ["Mono", "high_contrast", "\"\""] {
        let e = err(&with(&format!("theme: {bad}\n")));
        assert_eq!(e.line, Some(2), "{bad}: {e}");
        assert!(e.message.contains("is not a theme"), "{bad}: {e}");
    }
    let e = err(&with("theme: [mono]\n"));
    assert_eq!(e.line, Some(2), "{e}");

    // An environment is one short line, not empty.
    let e = err(&with("environment: \"\"\n"));
    assert_eq!((e.line, e.column), (Some(2), Some(14)), "{e}");
    assert!(e.message.contains("environment is empty"), "{e}");
    let e = err(&with("environment: \"prod\\nstaging\"\n"));
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.contains("not one short line"), "{e}");
    let e = err(&with(&format!("environment: {}\n", "x".repeat(30))));
    assert!(e.message.contains("at most 24 characters"), "{e}");
    // From the environment, like any string.
    let c = Config::parse(
        Path::new("ic.yaml"),
        &with("environment: \"${DEPLOY_ENV}\"\n"),
        env(&[("DEPLOY_ENV", "production")]),
    )
    .unwrap();
    assert_eq!(c.environment.unwrap().expose(), "production");
}
