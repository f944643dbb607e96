//! Team incidents over a real nats-server (JetStream) on 127.0.0.1: two
//! responders' `ic watch` and `ic event` from a third share one timeline;
//! a server outage loses nothing and duplicates nothing; a responder killed
//! with SIGKILL catches up; wrong credentials and TLS say what is wrong while
//! local work goes on.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::nats::Nats;
use support::proc::{ic, terminate, timelines};

/// An endpoint that always answers 200 (nothing fires: no incident opens by itself).
fn healthy() -> u16 {
    switchable(Arc::new(AtomicBool::new(false)))
}

/// A webhook receiver: the paths of the POSTs it got.
fn hooks() -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = vec![0u8; 65536];
                let n = s.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                if let Some(path) = head.strip_prefix("POST ").and_then(|r| r.split(' ').next()) {
                    seen.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(path.to_string());
                }
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });
    (port, got)
}

/// An endpoint that answers 200 until `fail` is set, then closes every
/// connection unanswered.
fn switchable(fail: Arc<AtomicBool>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let fail = fail.clone();
            std::thread::spawn(move || {
                let mut s = s;
                if fail.load(Ordering::SeqCst) {
                    return;
                }
                let mut buf = [0u8; 2048];
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            });
        }
    });
    port
}

/// One responder: a config and a timeline directory of their own.
struct Responder {
    config: PathBuf,
    dir: PathBuf,
    _home: tempfile::TempDir,
}

fn responder(name: &str, team: &str, endpoint: u16) -> Responder {
    let home = tempfile::tempdir().expect("temp dir");
    let dir = home.path().join("timelines");
    let config = home.path().join("ic.yaml");
    std::fs::write(
        &config,
        format!(
            "service: shop\ntimeline_dir: {}\npoll: {{interval: 1s}}\nendpoints:\n  - name: api\n    url: http://127.0.0.1:{endpoint}/\nteam:\n  responder: {name}\n{team}",
            dir.display()
        ),
    )
    .expect("write config");
    Responder {
        config,
        dir,
        _home: home,
    }
}

fn team_of(nats: &Nats) -> String {
    format!("  nats: {}\n", nats.url())
}

fn watch(r: &Responder) -> Child {
    ic().args(["watch", "--config"])
        .arg(&r.config)
        .env("IC_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ic watch")
}

fn event(r: &Responder, args: &[&str]) -> Output {
    let out = ic()
        .arg("event")
        .arg("--config")
        .arg(&r.config)
        .args(args)
        .output()
        .expect("run ic event");
    assert!(
        out.status.success(),
        "ic event {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The event ids of every timeline in `dir`, and how many lines carried one
/// (a duplicate would make that larger than the set).
fn ids(dir: &Path) -> (BTreeSet<String>, usize) {
    let mut set = BTreeSet::new();
    let mut lines = 0;
    for p in timelines(dir) {
        for l in std::fs::read_to_string(&p).unwrap_or_default().lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(l)
                && let Some(id) = v["id"].as_str()
            {
                set.insert(id.to_string());
                lines += 1;
            }
        }
    }
    (set, lines)
}

fn has_msg(dir: &Path, text: &str) -> bool {
    timelines(dir).iter().any(|p| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(text))
    })
}

/// Polls until `want` holds, for `within` at most; the time it took.
fn wait(within: Duration, what: &str, want: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < within {
        if want() {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("not within {within:?}: {what}");
}

#[test]
fn two_responders_and_a_pipeline_share_one_timeline() {
    let Some(nats) = Nats::start(&[]) else { return };
    let port = healthy();
    let alice = responder("alice", &team_of(&nats), port);
    let bob = responder("bob", &team_of(&nats), port);
    let carol = responder("carol", &team_of(&nats), port);
    let mut watches = [watch(&alice), watch(&bob)];
    event(&alice, &["-k", "open", "checkout pool exhausted"]);
    wait(
        Duration::from_secs(15),
        "bob's machine has alice's incident",
        || has_msg(&bob.dir, "checkout pool exhausted"),
    );
    event(&bob, &["rolled back the pool change"]);
    let took = wait(Duration::from_secs(10), "alice sees bob's note", || {
        has_msg(&alice.dir, "rolled back the pool change")
    });
    eprintln!("bob -> alice: {took:?}");
    // Carol has nothing here and no `ic` running: her note joins the team's incident.
    event(&carol, &["customers confirm checkout works"]);
    for r in [&alice, &bob] {
        wait(Duration::from_secs(10), "carol's note everywhere", || {
            has_msg(&r.dir, "customers confirm checkout works")
        });
    }
    assert_eq!(timelines(&bob.dir).len(), 1, "one incident, one file");
    assert_eq!(timelines(&carol.dir).len(), 1);
    wait(Duration::from_secs(10), "the files converge", || {
        ids(&alice.dir).0 == ids(&bob.dir).0
    });
    let (a, a_lines) = ids(&alice.dir);
    let (b, b_lines) = ids(&bob.dir);
    assert_eq!((a.len(), b.len()), (a_lines, b_lines), "no event twice");
    assert!(a.len() >= 3, "{a:?}");
    // Every copy says the same: the lines differ only in their `seq`.
    let line_of = |dir: &Path, text: &str| -> serde_json::Value {
        let all = support::proc::events(dir);
        let mut v = all
            .into_iter()
            .find(|e| e["msg"].as_str().is_some_and(|m| m.contains(text)))
            .expect("the event");
        v["seq"] = serde_json::Value::Null;
        v
    };
    assert_eq!(
        line_of(&alice.dir, "rolled back"),
        line_of(&bob.dir, "rolled back")
    );
    assert_eq!(line_of(&bob.dir, "rolled back")["actor"], "bob");
    // `ic incidents` on carol's machine lists the one open incident from the team.
    let out = ic()
        .args(["incidents", "--json", "--config"])
        .arg(&carol.config)
        .output()
        .expect("ic incidents");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["title"], "checkout pool exhausted");
    assert_eq!(list[0]["on_team"], true);
    for w in &mut watches {
        terminate(w, Duration::from_secs(10));
    }
}

#[test]
fn a_server_outage_loses_nothing_and_duplicates_nothing() {
    let Some(mut nats) = Nats::start(&[]) else {
        return;
    };
    let port = healthy();
    let alice = responder("alice", &team_of(&nats), port);
    let bob = responder("bob", &team_of(&nats), port);
    let mut a = watch(&alice);
    let mut b = watch(&bob);
    event(&alice, &["-k", "open", "search is slow"]);
    wait(Duration::from_secs(15), "bob has the incident", || {
        has_msg(&bob.dir, "search is slow")
    });
    nats.stop();
    // Both go on while the server is gone (ic event warns, and writes locally).
    for n in 0..3 {
        let out = event(&alice, &[&format!("alice offline note {n}")]);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot connect"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        event(&bob, &[&format!("bob offline note {n}")]);
    }
    std::thread::sleep(Duration::from_millis(500));
    nats.resume();
    wait(
        Duration::from_secs(20),
        "both files hold every note",
        || {
            (0..3).all(|n| {
                has_msg(&alice.dir, &format!("bob offline note {n}"))
                    && has_msg(&bob.dir, &format!("alice offline note {n}"))
            })
        },
    );
    wait(Duration::from_secs(5), "the same events", || {
        ids(&alice.dir).0 == ids(&bob.dir).0
    });
    for r in [&alice, &bob] {
        let (set, lines) = ids(&r.dir);
        assert_eq!(set.len(), lines, "no event twice in {}", r.dir.display());
        assert!(set.len() >= 7, "opened + 6 notes (+ metric snapshots)");
    }
    // Bob's ic is killed outright; alice writes on; bob's restarted ic catches up.
    let _ = b.kill();
    let _ = b.wait();
    event(&alice, &["while bob was gone"]);
    let mut b = watch(&bob);
    wait(Duration::from_secs(15), "bob catches up", || {
        has_msg(&bob.dir, "while bob was gone")
    });
    wait(Duration::from_secs(10), "bob has all alice has", || {
        ids(&bob.dir).0.is_superset(&ids(&alice.dir).0)
    });
    let (set, lines) = ids(&bob.dir);
    assert_eq!(set.len(), lines, "no event twice after the restart");
    terminate(&mut a, Duration::from_secs(10));
    terminate(&mut b, Duration::from_secs(10));
}

#[test]
fn wrong_credentials_say_so_and_local_work_goes_on() {
    let Some(nats) = Nats::start(&["--user", "ops", "--pass", "right-horse"]) else {
        return;
    };
    let port = healthy();
    let team = format!(
        "  nats: {}\n  user: ops\n  password: wrong-horse\n",
        nats.url()
    );
    let alice = responder("alice", &team, port);
    let out = event(&alice, &["-k", "open", "payments 5xx"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect"), "{err}");
    assert!(err.contains("credentials"), "says what to check: {err}");
    assert!(
        !err.contains("wrong-horse"),
        "the password is never printed: {err}"
    );
    assert!(
        has_msg(&alice.dir, "payments 5xx"),
        "written locally all the same"
    );
    // The right password: the event goes out.
    let good = format!(
        "  nats: {}\n  user: ops\n  password: right-horse\n",
        nats.url()
    );
    let bob = responder("bob", &good, port);
    let out = event(&bob, &["-k", "open", "payments 5xx"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let carol = responder("carol", &good, port);
    let out = ic()
        .args(["incidents", "--json", "--config"])
        .arg(&carol.config)
        .output()
        .expect("ic incidents");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(list[0]["on_team"], true, "{list}");
}

#[test]
fn tls_with_a_test_ca_connects_and_without_it_says_why() {
    if support::nats::binary().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("params");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    };
    let ca_file = write("ca.pem", ca.pem());
    let cert_file = write("server.pem", cert.pem());
    let key_file = write("server.key", key.serialize_pem());
    let Some(nats) = Nats::start(&[
        "--tls",
        "--tlscert",
        cert_file.to_str().expect("utf-8"),
        "--tlskey",
        key_file.to_str().expect("utf-8"),
    ]) else {
        return;
    };
    let port = healthy();
    let url = format!("tls://127.0.0.1:{}", nats.port);
    let trusted = format!("  nats: {url}\n  tls: {{ca_file: {}}}\n", ca_file.display());
    let alice = responder("alice", &trusted, port);
    let out = event(&alice, &["-k", "open", "tls incident"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bob = responder("bob", &trusted, port);
    event(&bob, &["joined over tls"]);
    assert!(
        has_msg(&bob.dir, "tls incident"),
        "bob's note joined the team's incident"
    );
    // Without the CA the server's certificate is not trusted: said so, written locally.
    let carol = responder("carol", &format!("  nats: {url}\n"), port);
    let out = event(&carol, &["-k", "open", "untrusted"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect") && err.to_lowercase().contains("tls"),
        "{err}"
    );
    assert!(has_msg(&carol.dir, "untrusted"));
}

#[test]
fn two_watches_page_once_and_the_survivor_takes_over_when_the_pager_dies() {
    let Some(nats) = Nats::start(&[]) else { return };
    let (hook, posts) = hooks();
    let gone = support::free_port();
    let fail = Arc::new(AtomicBool::new(false));
    let search = switchable(fail.clone());
    let config = |name: &str| {
        let home = tempfile::tempdir().expect("temp dir");
        let dir = home.path().join("timelines");
        let config = home.path().join("ic.yaml");
        std::fs::write(
            &config,
            format!(
                "service: shop\ntimeline_dir: {}\npoll: {{interval: 200ms, timeout: 150ms}}\n\
                 notify: {{desktop: false, bell: false, min_interval: 1s, webhook: {{url: 'http://127.0.0.1:{hook}/{name}'}}}}\n\
                 endpoints:\n  - {{name: api, url: 'http://127.0.0.1:{gone}/'}}\n  - {{name: search, url: 'http://127.0.0.1:{search}/'}}\n\
                 team:\n  responder: {name}\n  nats: {}\n",
                dir.display(),
                nats.url()
            ),
        )
        .expect("write config");
        Responder {
            config,
            dir,
            _home: home,
        }
    };
    let alice = config("alice");
    let bob = config("bob");
    let a = watch(&alice);
    let b = watch(&bob);
    let pages = || posts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    wait(Duration::from_secs(20), "one page", || !pages().is_empty());
    // Both machines hold the one incident the pager opened.
    wait(Duration::from_secs(10), "both have the incident", || {
        timelines(&alice.dir).len() == 1 && timelines(&bob.dir).len() == 1
    });
    let id = |dir: &Path| {
        incident_commander::journal::incident_id(&timelines(dir)[0]).expect("an incident")
    };
    assert_eq!(id(&alice.dir), id(&bob.dir), "one incident");
    let first = pages();
    assert_eq!(first.len(), 1, "paged once: {first:?}");
    let (mut pager, mut other, survivor, survivor_name) = if first[0] == "/alice" {
        (a, b, &bob, "/bob")
    } else {
        (b, a, &alice, "/alice")
    };
    // The pager dies without a word; a new failure starts: the survivor pages for it.
    let _ = pager.kill();
    let _ = pager.wait();
    let killed = Instant::now();
    fail.store(true, Ordering::SeqCst);
    wait(Duration::from_secs(25), "the survivor pages", || {
        pages().iter().any(|p| p == survivor_name)
    });
    eprintln!(
        "takeover and page within {:?} of the kill",
        killed.elapsed()
    );
    let all = pages();
    assert_eq!(all.len(), 2, "one page per failure, none twice: {all:?}");
    assert_eq!(
        timelines(&survivor.dir).len(),
        1,
        "the same incident goes on"
    );
    let survivor_events = support::proc::events(&survivor.dir);
    let fired: Vec<&serde_json::Value> = survivor_events
        .iter()
        .filter(|e| e["kind"] == "signal_fired")
        .collect();
    let targets: BTreeSet<&str> = fired
        .iter()
        .filter_map(|e| e["data"]["target"].as_str())
        .collect();
    assert!(
        targets.contains("api") && targets.contains("search"),
        "{targets:?}"
    );
    assert_eq!(
        fired
            .iter()
            .filter(|e| e["data"]["target"] == "api")
            .count(),
        1,
        "api recorded once, by the first pager"
    );
    terminate(&mut other, Duration::from_secs(10));
}

#[test]
fn one_location_in_trouble_is_regional_a_silent_one_is_unknown_and_two_of_three_is_down() {
    let Some(nats) = Nats::start(&[]) else { return };
    let (hook, posts) = hooks();
    let eu_port = healthy();
    let fail_us = Arc::new(AtomicBool::new(false));
    let us_port = switchable(fail_us.clone());
    let ap_port = support::free_port();
    let config = |name: &str, port: u16| {
        let home = tempfile::tempdir().expect("temp dir");
        let dir = home.path().join("timelines");
        let config = home.path().join("ic.yaml");
        std::fs::write(
            &config,
            format!(
                "service: shop\ntimeline_dir: {}\npoll: {{interval: 200ms, timeout: 150ms}}\n\
                 notify: {{desktop: false, bell: false, min_interval: 1s, webhook: {{url: 'http://127.0.0.1:{hook}/{name}'}}}}\n\
                 endpoints:\n  - {{name: api, url: 'http://127.0.0.1:{port}/'}}\n\
                 team:\n  responder: {name}\n  nats: {}\n  location: {name}\n  quorum_window: 3s\n",
                dir.display(),
                nats.url()
            ),
        )
        .expect("write config");
        Responder {
            config,
            dir,
            _home: home,
        }
    };
    let watch_noted = |r: &Responder| {
        let mut child = ic()
            .args(["watch", "--config"])
            .arg(&r.config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ic watch");
        let notes = support::proc::Lines::collect(child.stderr.take().expect("stderr"));
        (child, notes)
    };
    let (eu, us, ap) = (
        config("eu", eu_port),
        config("us", us_port),
        config("ap", ap_port),
    );
    let (mut eu_ic, eu_notes) = watch_noted(&eu);
    let (mut us_ic, _us_notes) = watch_noted(&us);
    let (mut ap_ic, _) = watch_noted(&ap);
    let pages = || posts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let no_incident = |rs: &[&Responder]| rs.iter().all(|r| timelines(&r.dir).is_empty());
    // ap cannot reach the endpoint, eu and us can: regional, nobody paged.
    let note = eu_notes
        .wait_for(Duration::from_secs(15), |l| {
            l.contains("regional: api fails from 1 of 3 locations (ap)")
        })
        .unwrap_or_else(|| panic!("no regional note: {:?}", eu_notes.all()));
    assert!(note.contains("eu, us answer"), "{note}");
    assert!(
        pages().is_empty() && no_incident(&[&eu, &us]),
        "{:?}",
        pages()
    );
    // ap is cut off (its ic stops): after the window it is unknown, not down.
    let _ = ap_ic.kill();
    let _ = ap_ic.wait();
    let silent_from = Instant::now();
    wait(
        Duration::from_secs(10),
        "ap's word is older than the window",
        || silent_from.elapsed() > Duration::from_secs(4),
    );
    // Now us fails too: one of the two locations heard is not a majority.
    fail_us.store(true, Ordering::SeqCst);
    let note = eu_notes
        .wait_for(Duration::from_secs(15), |l| {
            l.contains("1 of 2 locations (us)")
        })
        .unwrap_or_else(|| panic!("no note for us: {:?}", eu_notes.all()));
    assert!(note.contains("ap unknown"), "{note}");
    assert!(
        pages().is_empty() && no_incident(&[&eu, &us]),
        "a silent location is never down: {:?}",
        pages()
    );
    // ap is back, still failing: two of three locations — the endpoint is down, paged once.
    let (mut ap_ic, _) = watch_noted(&ap);
    wait(Duration::from_secs(15), "a page", || !pages().is_empty());
    wait(Duration::from_secs(10), "the incident everywhere", || {
        [&eu, &us, &ap].iter().all(|r| timelines(&r.dir).len() == 1)
    });
    assert_eq!(pages().len(), 1, "{:?}", pages());
    let fired: Vec<serde_json::Value> = support::proc::events(&eu.dir)
        .into_iter()
        .filter(|e| e["kind"] == "signal_fired")
        .collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    let evidence = fired[0]["data"]["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        evidence.contains("down from 2 of 3 locations (ap, us); eu answers"),
        "{evidence}"
    );
    for c in [&mut eu_ic, &mut us_ic, &mut ap_ic] {
        terminate(c, Duration::from_secs(10));
    }
}
