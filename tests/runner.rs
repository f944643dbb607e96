//! The command runner against real `sh` processes: exit codes, merged stderr,
//! the output cap, timeout and cancel killing the whole process group
//! (SIGTERM, then SIGKILL), redaction of the command echo and the output,
//! event data, and the errors. Every test is bounded well under 10 s; the
//! only sleeps are inside the spawned shell commands.
#![cfg(unix)]

use incident_commander::runner::{
    CommandOutcome, Confirmed, KILL_GRACE, RunError, RunOptions, run,
};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Fails the test if `fut` takes longer than 10 s.
async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("test took longer than 10 s")
}

/// A cancel switch nobody will turn on.
fn no_cancel() -> watch::Receiver<bool> {
    watch::channel(false).1
}

async fn run_ok(command: &str, opts: &RunOptions) -> CommandOutcome {
    bounded(run(command, Confirmed::by("ann"), opts, no_cancel()))
        .await
        .unwrap()
}

#[tokio::test]
async fn exit_codes_are_reported() {
    let ok = run_ok("echo hello", &RunOptions::default()).await;
    assert_eq!(ok.exit_code, Some(0));
    assert_eq!(ok.signal, None);
    assert!(ok.succeeded());
    assert_eq!(ok.output, "hello\n");
    assert_eq!(ok.confirmed_by, "ann");
    assert!(ok.summary().starts_with("exit 0 in "), "{}", ok.summary());

    let three = run_ok("exit 3", &RunOptions::default()).await;
    assert_eq!(three.exit_code, Some(3));
    assert!(!three.succeeded());
    assert!(!three.timed_out && !three.cancelled && !three.truncated);
    assert!(three.summary().starts_with("exit 3 in "));
}

#[tokio::test]
async fn stderr_is_merged_with_stdout() {
    let o = run_ok("echo out; echo oops >&2; exit 1", &RunOptions::default()).await;
    assert!(o.output.contains("out\n"), "{:?}", o.output);
    assert!(o.output.contains("oops\n"), "{:?}", o.output);
    assert_eq!(o.exit_code, Some(1));
}

#[tokio::test]
async fn a_megabyte_of_output_is_capped_without_hanging() {
    let started = Instant::now();
    let o = run_ok(
        "printf '%1048576s' ''; echo done >&2",
        &RunOptions::default(),
    )
    .await;
    assert_eq!(
        o.exit_code,
        Some(0),
        "the command must not block on a full pipe"
    );
    assert!(o.truncated);
    assert_eq!(o.output.len(), 64 * 1024);
    assert!(o.summary().ends_with(", output truncated"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn multibyte_output_is_cut_on_a_char_boundary() {
    let opts = RunOptions {
        output_cap: 7,
        ..RunOptions::default()
    };
    let o = run_ok("printf 'ééééé'", &opts).await;
    assert_eq!(o.output, "ééé");
    assert!(o.truncated);
}

#[tokio::test]
async fn a_timeout_stops_a_sleeping_command() {
    let opts = RunOptions {
        timeout: Duration::from_millis(300),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let o = run_ok("sleep 30", &opts).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(o.timed_out && !o.cancelled);
    assert_eq!(o.exit_code, None);
    assert!(o.signal.is_some());
    assert!(!o.succeeded());
    assert!(
        o.summary().starts_with("timed out after "),
        "{}",
        o.summary()
    );
}

/// Whether process `pid` is gone or a zombie (dead, waiting to be reaped).
#[cfg(target_os = "linux")]
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S …": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[tokio::test]
async fn background_children_are_killed_with_the_group() {
    let opts = RunOptions {
        timeout: Duration::from_millis(300),
        ..RunOptions::default()
    };
    let started = Instant::now();
    // The background sleep holds stdout open: without the group kill (or the
    // drain limit), the call would wait for it.
    let o = run_ok("sleep 30 & echo $!; sleep 30", &opts).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(o.timed_out);
    let pid: u32 = o.output.trim().parse().unwrap();
    #[cfg(target_os = "linux")]
    assert!(is_dead(pid), "background child {pid} survived");
    #[cfg(not(target_os = "linux"))]
    let _ = pid;
}

#[tokio::test]
async fn a_background_child_left_running_does_not_hold_the_call() {
    let started = Instant::now();
    // The shell exits at once; the background sleep keeps the pipes open.
    let o = run_ok("sleep 3 & echo hi", &RunOptions::default()).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(o.exit_code, Some(0));
    assert_eq!(o.output, "hi\n");
}

#[tokio::test]
async fn a_command_ignoring_sigterm_gets_sigkill() {
    let opts = RunOptions {
        timeout: Duration::from_millis(200),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let o = run_ok("trap '' TERM; sleep 30 & sleep 30", &opts).await;
    let took = started.elapsed();
    assert!(
        took >= KILL_GRACE,
        "SIGKILL came before the grace period: {took:?}"
    );
    assert!(took < KILL_GRACE + Duration::from_secs(3), "took {took:?}");
    assert!(o.timed_out);
    assert_eq!(o.signal, Some(libc::SIGKILL));
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn cancel_stops_a_running_command() {
    use std::os::unix::ffi::OsStrExt;
    use tokio::io::AsyncReadExt;

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("started");
    let path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    // Opened read-write so the open does not wait for the writer and reads
    // wait for data instead of seeing EOF.
    let mut started_signal = tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(&fifo)
        .unwrap();

    let (tx, rx) = watch::channel(false);
    let opts = RunOptions {
        env: vec![("FIFO".into(), fifo.display().to_string())],
        ..RunOptions::default()
    };
    let task = tokio::spawn(async move {
        run(
            "echo started > \"$FIFO\"; sleep 30",
            Confirmed::by("bob"),
            &opts,
            rx,
        )
        .await
    });
    let mut buf = [0u8; 8];
    let n = bounded(started_signal.read(&mut buf)).await.unwrap();
    assert_eq!(&buf[..n], b"started\n");
    let cancelled_at = Instant::now();
    tx.send(true).unwrap();
    let o = bounded(task).await.unwrap().unwrap();
    assert!(cancelled_at.elapsed() < Duration::from_secs(3));
    assert!(o.cancelled && !o.timed_out);
    assert_eq!(o.exit_code, None);
    assert_eq!(o.confirmed_by, "bob");
    assert!(
        o.summary().starts_with("cancelled after "),
        "{}",
        o.summary()
    );
}

#[tokio::test]
async fn a_cancel_already_on_does_not_start_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let (_tx, rx) = watch::channel(true);
    let command = format!("touch '{}'", marker.display());
    let o = bounded(run(
        &command,
        Confirmed::by("ann"),
        &RunOptions::default(),
        rx,
    ))
    .await
    .unwrap();
    assert!(o.cancelled);
    assert!(!marker.exists());
}

#[tokio::test]
async fn secrets_never_reach_the_command_echo_or_the_output() {
    let secret = "hunter2-pass-XYZ";
    let from_env = "s3cr3t-from-env-42";
    let bearer = "abc.def-123";
    let github = "ghp_0123456789abcdefghijABCDEFGHIJ";
    let opts = RunOptions {
        secrets: vec![secret.into(), from_env.into()],
        env: vec![("DEPLOY_KEY".into(), from_env.into())],
        ..RunOptions::default()
    };
    let command = format!(
        "echo 'pw {secret}'; echo \"key $DEPLOY_KEY\"; \
         echo 'Authorization: Bearer {bearer}' >&2; echo 'pushed with {github}'; \
         true -H 'Authorization: Bearer {bearer}' https://api.example.com/deploy"
    );
    let o = run_ok(&command, &opts).await;
    assert_eq!(o.exit_code, Some(0));
    for hidden in [secret, from_env, bearer, github] {
        assert!(!o.command.contains(hidden), "{hidden} in {:?}", o.command);
        assert!(!o.output.contains(hidden), "{hidden} in {:?}", o.output);
        let data = o.to_event_data().to_string();
        assert!(!data.contains(hidden), "{hidden} in {data}");
    }
    assert!(
        o.command
            .contains("-H 'Authorization: [redacted]' https://api.example.com/deploy")
    );
    assert!(
        o.output.contains("Authorization: [redacted]\n"),
        "{:?}",
        o.output
    );
    assert!(o.output.contains("pw [redacted]\n"), "{:?}", o.output);
    assert!(o.output.contains("key [redacted]\n"), "{:?}", o.output);
    assert!(
        o.output.contains("pushed with [redacted]\n"),
        "{:?}",
        o.output
    );
}

#[tokio::test]
async fn event_data_has_every_field() {
    let o = run_ok("echo hi; exit 3", &RunOptions::default()).await;
    let data = o.to_event_data();
    let keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "command",
        "confirmed_by",
        "exit_code",
        "signal",
        "duration_ms",
        "output",
        "truncated",
        "timed_out",
        "cancelled",
        "leftovers_ended",
    ];
    let mut got = keys.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(data["command"], "echo hi; exit 3");
    assert_eq!(data["confirmed_by"], "ann");
    assert_eq!(data["exit_code"], 3);
    assert!(data["signal"].is_null());
    assert!(data["duration_ms"].is_u64());
    assert_eq!(data["output"], "hi\n");
    assert_eq!(data["truncated"], false);
    assert_eq!(data["timed_out"], false);
    assert_eq!(data["cancelled"], false);
    // The timeline event folds into the incident's command list.
    let event = o
        .finished_draft("restart", 7)
        .into_event(8, incident_commander::clock::now());
    let inc = incident_commander::core::incident::Incident::fold([&event]);
    assert_eq!(inc.commands[0].exit_code, Some(3));
    assert_eq!(inc.commands[0].actor, "ann");
    assert!(
        event.msg.starts_with("ran `echo hi; exit 3`: exit 3") && event.data["run"] == 7,
        "{}",
        event.msg
    );
}

#[tokio::test]
async fn cwd_and_env_reach_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        cwd: Some(dir.path().to_path_buf()),
        env: vec![("IC_STEP".into(), "restart-api".into())],
        ..RunOptions::default()
    };
    let o = run_ok("pwd; echo \"$IC_STEP\"", &opts).await;
    let real = dir.path().canonicalize().unwrap();
    assert_eq!(o.output, format!("{}\nrestart-api\n", real.display()));
}

#[tokio::test]
async fn an_empty_command_is_an_error() {
    for command in ["", "  \n\t"] {
        let err = run(
            command,
            Confirmed::by("ann"),
            &RunOptions::default(),
            no_cancel(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, RunError::EmptyCommand));
        assert!(err.to_string().contains("empty"));
    }
}

#[tokio::test]
async fn a_missing_working_directory_says_so() {
    let opts = RunOptions {
        cwd: Some("/nonexistent/ic-runner-test".into()),
        ..RunOptions::default()
    };
    let err = run("true", Confirmed::by("ann"), &opts, no_cancel())
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::Spawn { .. }));
    let msg = err.to_string();
    assert!(msg.starts_with("cannot start `sh`"), "{msg}");
    assert!(
        msg.contains("/nonexistent/ic-runner-test does not exist"),
        "{msg}"
    );
}
