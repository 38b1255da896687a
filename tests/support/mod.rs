//! Helpers shared by the integration tests.
//!
//! # Crash tests in a child process
//!
//! A test that must crash (guard-page hit, abort path) re-runs *itself* in a child process:
//!
//! ```ignore
//! #[test]
//! fn overflow_aborts() {
//!     if support::is_child() {
//!         // ... the crashing action; only ever runs in the child ...
//!         return;
//!     }
//!     let out = support::run_in_child("overflow_aborts");
//!     out.assert_signal(libc::SIGABRT);
//!     out.assert_stderr_contains("has overflowed its stack");
//! }
//! ```
//!
//! The child is the current test binary run with `--exact NAME --nocapture
//! --test-threads=1` and `GREENTHREAD_CHILD=1` in its environment, with core dumps disabled.
//! `NAME` is the test's path inside the binary (`module::test` for tests in a module).

#![allow(dead_code)] // Each test binary uses a different subset.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Set in the child's environment; the test body checks it with [`is_child`].
pub const CHILD_ENV: &str = "GREENTHREAD_CHILD";

/// How long a child may run before it is killed and the test fails.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether this process is a child started by [`run_in_child`].
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// What a child run produced.
#[derive(Debug)]
pub struct ChildOutput {
    /// The child's exit status.
    pub status: ExitStatus,
    /// Everything the child wrote to stdout (libtest's chatter and the test's prints).
    pub stdout: String,
    /// Everything the child wrote to stderr.
    pub stderr: String,
}

impl ChildOutput {
    /// Asserts the child was killed by `signal` (e.g. `libc::SIGABRT`).
    #[track_caller]
    pub fn assert_signal(&self, signal: i32) {
        assert_eq!(
            self.status.signal(),
            Some(signal),
            "child should have died by signal {signal}, got {:?}\n{self}",
            self.status
        );
    }

    /// Asserts the child exited normally with status 0 (its test passed).
    #[track_caller]
    pub fn assert_success(&self) {
        assert!(
            self.status.success(),
            "child test failed: {:?}\n{self}",
            self.status
        );
        assert!(
            self.stdout.contains("1 passed"),
            "child ran no test (wrong name?)\n{self}"
        );
    }

    /// Asserts stderr contains `needle`.
    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
    }

    /// Asserts stderr does not contain `needle`.
    #[track_caller]
    pub fn assert_stderr_lacks(&self, needle: &str) {
        assert!(
            !self.stderr.contains(needle),
            "stderr has {needle:?}\n{self}"
        );
    }
}

impl std::fmt::Display for ChildOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- child stdout ---\n{}\n--- child stderr ---\n{}\n--- end ---",
            self.stdout, self.stderr
        )
    }
}

/// Runs the test `name` of the current test binary in a child process and waits for it
/// (at most [`CHILD_TIMEOUT`]; then the child is killed and this panics).
pub fn run_in_child(name: &str) -> ChildOutput {
    run_in_child_with_env(name, &[])
}

/// [`run_in_child`] with extra environment variables for the child.
pub fn run_in_child_with_env(name: &str, env: &[(&str, &str)]) -> ChildOutput {
    let exe = std::env::current_exe().expect("current test binary");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: the closure runs between fork and exec and only calls setrlimit, which is
    // async-signal-safe; it touches no memory shared with other threads.
    unsafe {
        cmd.pre_exec(|| {
            // A crash test aborts on purpose: don't let it write a core file.
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn child test process");
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child test {name} timed out after {CHILD_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    ChildOutput {
        status,
        stdout,
        stderr,
    }
}

/// Number of mappings of this process (lines of `/proc/self/maps`).
#[cfg(target_os = "linux")]
pub fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .count()
}
