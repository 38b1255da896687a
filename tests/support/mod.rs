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
//! --test-threads=1` and `GREENTHREAD_CHILD=1` in its environment, with core dumps disabled
//! (Unix). `NAME` is the test's path inside the binary (`module::test` for tests in a module).
//!
//! # Emulators
//!
//! Under qemu-user there is no binfmt_misc, so the test binary cannot `exec` itself: when
//! [`RUNNER_ENV`] is set (`.ci/cross.sh` sets it to the same command cargo's runner uses,
//! e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib`)
//! the child is started through it: its words, then the test binary and the arguments. Under
//! Wine the test binary is a Windows process whose children are Windows processes too, so no
//! runner is needed there.
//!
//! # How a crash looks
//!
//! [`ChildOutput::assert_aborted`] and [`ChildOutput::assert_segfault`] check the platform's
//! form: death by `SIGABRT`/`SIGSEGV` on Unix (qemu-user re-raises the guest's signal on
//! itself, so the same holds under emulation), and the exit code `std::process::abort`'s
//! `__fastfail` (`STATUS_STACK_BUFFER_OVERRUN`) or an unhandled `EXCEPTION_ACCESS_VIOLATION`
//! leaves on Windows.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::io::Read;
#[cfg(unix)]
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Set in the child's environment; the test body checks it with [`is_child`].
pub const CHILD_ENV: &str = "GREENTHREAD_CHILD";

/// A command (words separated by spaces) that runs target binaries, for emulated targets.
pub const RUNNER_ENV: &str = "GREENTHREAD_TEST_RUNNER";

/// Windows exit code of a process ended by `std::process::abort` (`__fastfail`).
pub const STATUS_STACK_BUFFER_OVERRUN: u32 = 0xC000_0409;
/// Windows exit code of a process ended by an unhandled access violation.
pub const STATUS_ACCESS_VIOLATION: u32 = 0xC000_0005;
/// Windows exit code of a process ended by an unhandled guard-page exception.
pub const STATUS_GUARD_PAGE_VIOLATION: u32 = 0x8000_0001;
/// Windows exit code of a process ended by an unhandled stack overflow.
pub const STATUS_STACK_OVERFLOW: u32 = 0xC000_00FD;

/// How long a child may run before it is killed and the test fails.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether this process is a child started by [`run_in_child`].
///
/// On Windows the first call in a child also makes an unhandled exception end the process
/// with the exception's code, as it does on Windows without a debugger or error reporting:
/// Wine would otherwise start its debugger (`winedbg --auto`), which replaces the exit code.
/// This is the Windows counterpart of the core-dump limit set for Unix children.
pub fn is_child() -> bool {
    let child = std::env::var_os(CHILD_ENV).is_some();
    #[cfg(windows)]
    if child {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(windows_crash_without_debugger);
    }
    child
}

/// Whether the test binary runs under Wine (its ntdll exports `wine_get_version`).
#[cfg(windows)]
pub fn under_wine() -> bool {
    use core::ffi::c_void;
    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn GetModuleHandleA(name: *const u8) -> *mut c_void;
        fn GetProcAddress(module: *mut c_void, name: *const u8) -> *mut c_void;
    }
    // SAFETY: both names are NUL-terminated; ntdll is loaded in every Windows process.
    unsafe {
        let ntdll = GetModuleHandleA(b"ntdll.dll\0".as_ptr());
        !ntdll.is_null() && !GetProcAddress(ntdll, b"wine_get_version\0".as_ptr()).is_null()
    }
}

/// Whether the test binary runs under Wine; never on other platforms.
#[cfg(not(windows))]
pub fn under_wine() -> bool {
    false
}

/// Whether `/proc/self/maps` cannot be trusted for counting or classifying this process's
/// mappings: a 32-bit guest under qemu-user, which reserves the whole guest address space as
/// one `PROT_NONE` host mapping and lists the guest's own `PROT_NONE` mappings (guard pages)
/// merged with it, or not at all. Detected through `GREENTHREAD_TEST_RUNNER`, which names the
/// emulator under qemu (see `.ci/cross.sh`).
#[allow(dead_code)]
pub fn maps_unreliable_under_qemu() -> bool {
    cfg!(target_pointer_width = "32") && std::env::var(RUNNER_ENV).is_ok_and(|r| r.contains("qemu"))
}

/// For a test the emulator cannot support: when `emulated` is true, writes
/// `SKIPPED under <emulator>: <test name>: <reason>` to the real stderr (past libtest's
/// capture, so it shows in CI logs; `.ci/cross.sh` lists these lines per target) and returns
/// true; the test then returns without checking anything.
pub fn skip_if(emulated: bool, emulator: &str, reason: &str) -> bool {
    if emulated {
        use std::io::Write;
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("<unnamed test>");
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED under {emulator}: {test}: {reason}"
        );
    }
    emulated
}

#[cfg(windows)]
fn windows_crash_without_debugger() {
    use windows_sys::Win32::System::Diagnostics::Debug::{
        EXCEPTION_EXECUTE_HANDLER, EXCEPTION_POINTERS, SetUnhandledExceptionFilter,
    };
    unsafe extern "system" fn end_with_exception_code(_: *const EXCEPTION_POINTERS) -> i32 {
        EXCEPTION_EXECUTE_HANDLER
    }
    // SAFETY: installs a top-level filter that only returns a constant; it stays valid for
    // the whole process.
    unsafe { SetUnhandledExceptionFilter(Some(end_with_exception_code)) };
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
    #[cfg(unix)]
    #[track_caller]
    pub fn assert_signal(&self, signal: i32) {
        assert_eq!(
            self.status.signal(),
            Some(signal),
            "child should have died by signal {signal}, got {:?}\n{self}",
            self.status
        );
    }

    /// Asserts the child exited with the Windows status `code` (e.g.
    /// [`STATUS_ACCESS_VIOLATION`]).
    #[cfg(windows)]
    #[track_caller]
    pub fn assert_exit_code(&self, code: u32) {
        assert_eq!(
            self.status.code().map(|c| c as u32),
            Some(code),
            "child should have exited with {code:#x}, got {:?}\n{self}",
            self.status
        );
    }

    /// Asserts the child exited normally with `code` (`std::process::exit(code)`), on any
    /// platform.
    #[track_caller]
    pub fn assert_exited_with(&self, code: i32) {
        assert_eq!(
            self.status.code(),
            Some(code),
            "child should have exited with {code}, got {:?}\n{self}",
            self.status
        );
    }

    /// Asserts the child died of `std::process::abort` (or `libc::abort`).
    #[track_caller]
    pub fn assert_aborted(&self) {
        #[cfg(unix)]
        self.assert_signal(libc::SIGABRT);
        #[cfg(windows)]
        self.assert_exit_code(STATUS_STACK_BUFFER_OVERRUN);
    }

    /// Asserts the child died of an invalid memory access that nothing handled.
    #[track_caller]
    pub fn assert_segfault(&self) {
        #[cfg(unix)]
        self.assert_signal(libc::SIGSEGV);
        #[cfg(windows)]
        self.assert_exit_code(STATUS_ACCESS_VIOLATION);
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
    let runner = std::env::var(RUNNER_ENV).unwrap_or_default();
    let mut runner = runner.split_whitespace();
    let mut cmd = match runner.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(runner).arg(exe);
            cmd
        }
        None => Command::new(exe),
    };
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
    #[cfg(unix)]
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
