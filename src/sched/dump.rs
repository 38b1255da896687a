//! Snapshots of a hub's green threads: [`dump`](super::dump) for users (a debug endpoint,
//! a signal handler thread that asks for one, a test failure) and the deadlock report.

use core::fmt;
use std::time::Duration;

use super::park::WaitOn;

/// What a live green thread is doing, as shown by [`dump`](super::dump).
///
/// ```
/// use greenthread::sched::GreenState;
///
/// let _later = greenthread::spawn_after(std::time::Duration::from_secs(1), || ());
/// let states: Vec<GreenState> = greenthread::dump().green_threads.iter().map(|g| g.state).collect();
/// assert!(states.contains(&GreenState::Running)); // us
/// assert!(states.contains(&GreenState::Delayed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GreenState {
    /// Spawned, not started, runnable.
    NotStarted,
    /// Spawned with `spawn_after`, waiting for its start time.
    Delayed,
    /// Started and runnable, waiting for its turn.
    Ready,
    /// Running now (the green thread that took the snapshot).
    Running,
    /// Blocked; [`GreenInfo::waiting_on`] says on what.
    Parked,
}

impl fmt::Display for GreenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            GreenState::NotStarted => "not started",
            GreenState::Delayed => "delayed",
            GreenState::Ready => "ready",
            GreenState::Running => "running",
            GreenState::Parked => "parked",
        })
    }
}

/// One green thread in a [`HubDump`]. `Display` prints it on one line.
///
/// ```
/// let gt = greenthread::Builder::new().name("w").spawn(|| ()).unwrap();
/// let dump = greenthread::dump();
/// let info = dump.green_threads.iter().find(|g| g.id == gt.id()).unwrap();
/// assert_eq!(info.name.as_deref(), Some("w"));
/// assert_eq!(info.to_string(), format!("green thread {} 'w': not started", gt.id()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GreenInfo {
    /// Its id ([`GreenThread::id`](super::GreenThread::id)).
    pub id: u64,
    /// Its name, if any.
    pub name: Option<String>,
    /// What it is doing.
    pub state: GreenState,
    /// What it waits on, when parked.
    pub waiting_on: Option<WaitOn>,
    /// Time left until its park times out (parked) or it starts (delayed), if bounded.
    pub time_left: Option<Duration>,
    /// Parked on something another OS thread may end.
    pub external: bool,
    /// The OS thread's own stack.
    pub is_main: bool,
    /// Its closure returned or unwound; it is calling its links.
    pub exiting: bool,
    /// It has been killed and is unwinding (or will, at its next switch point).
    pub killed: bool,
    /// Usable stack size in bytes (0 for the main green thread, which runs on the OS
    /// thread's stack).
    pub stack_size: usize,
}

impl fmt::Display for GreenInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "green thread {}", self.id)?;
        if let Some(n) = &self.name {
            write!(f, " '{n}'")?;
        }
        if self.is_main {
            f.write_str(" (main)")?;
        }
        write!(f, ": {}", self.state)?;
        if let Some(w) = &self.waiting_on {
            write!(f, ", waits on {w}")?;
        }
        if self.external {
            f.write_str(" (may still be woken from another OS thread)")?;
        }
        if let Some(t) = self.time_left {
            write!(f, ", {t:.3?} left")?;
        }
        if self.exiting {
            f.write_str(", calling its links")?;
        }
        if self.killed {
            f.write_str(", killed")?;
        }
        Ok(())
    }
}

/// A snapshot of every live green thread of one hub (one OS thread), from
/// [`dump`](super::dump). `Display` prints one line per green thread.
///
/// ```
/// let worker = greenthread::Builder::new()
///     .name("worker")
///     .spawn(|| greenthread::sleep(std::time::Duration::from_millis(50)))
///     .unwrap();
/// greenthread::yield_now(); // let it start sleeping
/// let dump = greenthread::dump();
/// let text = dump.to_string();
/// assert!(text.contains("'worker': parked, waits on sleep"), "{text}");
/// assert!(dump.green_threads.iter().any(|g| g.is_main));
/// worker.kill();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubDump {
    /// The hub's id ([`HubHandle::id`](super::HubHandle::id)).
    pub hub_id: u64,
    /// The name of the hub's OS thread, if it has one.
    pub thread_name: Option<String>,
    /// Every live green thread, by id.
    pub green_threads: Vec<GreenInfo>,
}

impl fmt::Display for HubDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hub {}", self.hub_id)?;
        if let Some(n) = &self.thread_name {
            write!(f, " (OS thread '{n}')")?;
        }
        writeln!(f, ": {} green thread(s)", self.green_threads.len())?;
        for g in &self.green_threads {
            writeln!(f, "  {g}")?;
        }
        Ok(())
    }
}

/// The report carried by a deadlock error: every blocked green thread of the hub, and what
/// each waits on.
///
/// ```
/// use greenthread::sched::{ParkError, Parker, WaitOn};
///
/// let Err(ParkError::Deadlock(report)) = Parker::new().park(WaitOn::Other("Godot"), None, false)
/// else {
///     unreachable!()
/// };
/// assert_eq!(report.blocked().len(), 1);
/// assert!(report.to_string().contains("waits on Godot"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlockReport {
    dump: HubDump,
    gone: bool,
}

impl DeadlockReport {
    pub(crate) fn new(dump: HubDump) -> DeadlockReport {
        DeadlockReport { dump, gone: false }
    }

    /// For a blocking call made after this OS thread's hub shut down.
    pub(crate) fn hub_gone() -> DeadlockReport {
        DeadlockReport {
            dump: HubDump {
                hub_id: 0,
                thread_name: None,
                green_threads: Vec::new(),
            },
            gone: true,
        }
    }

    /// The blocked green threads, by id.
    ///
    /// ```
    /// use greenthread::sched::{ParkError, Parker, WaitOn};
    ///
    /// if let Err(ParkError::Deadlock(r)) = Parker::new().park(WaitOn::Sleep, None, false) {
    ///     assert!(r.blocked()[0].is_main);
    /// }
    /// ```
    pub fn blocked(&self) -> &[GreenInfo] {
        &self.dump.green_threads
    }

    /// The hub's id.
    ///
    /// ```
    /// use greenthread::sched::{HubHandle, ParkError, Parker, WaitOn};
    ///
    /// if let Err(ParkError::Deadlock(r)) = Parker::new().park(WaitOn::Sleep, None, false) {
    ///     assert_eq!(r.hub_id(), HubHandle::current().id());
    /// }
    /// ```
    pub fn hub_id(&self) -> u64 {
        self.dump.hub_id
    }
}

impl fmt::Display for DeadlockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.gone {
            return f.write_str(
                "deadlock: the hub of this OS thread has shut down (the thread is exiting); \
                 nothing can wake a blocked green thread any more (gevent: LoopExit)",
            );
        }
        write!(
            f,
            "deadlock: every green thread of hub {}",
            self.dump.hub_id
        )?;
        if let Some(n) = &self.dump.thread_name {
            write!(f, " (OS thread '{n}')")?;
        }
        write!(
            f,
            " is blocked and nothing can wake one: no timer is pending and no blocked green \
             thread waits on anything another OS thread could end (gevent: LoopExit, \"This \
             operation would block forever\"). {} blocked:",
            self.dump.green_threads.len()
        )?;
        for g in &self.dump.green_threads {
            write!(f, "\n  {g}")?;
        }
        Ok(())
    }
}
