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
    let c = Config::parse(Path::new("/etc/ic/ic.yaml"), &text, env(&secrets)).unwrap();
    assert_eq!(c.service.to_string(), "checkout-api");
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
    assert_eq!(
        pay.tls.ca_file.as_deref(),
        Some(Path::new("/etc/ic/./ca.pem"))
    );
    assert_eq!(
        c.timeline_dir.as_deref(),
        Some(Path::new("/etc/ic/./incidents"))
    );
    assert_eq!(c.metrics[0].interval.get(), Duration::from_secs(5));
    assert!((c.detect.slo.fraction() - 0.999).abs() < 1e-12);
    assert!(c.notify.webhook.is_some());
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
    let c = parse("service: \"${SERVICE_NAME:-shop}\"\n").unwrap();
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
