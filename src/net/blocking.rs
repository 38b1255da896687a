//! `spawn_blocking`: a small pool of OS threads for calls that have no readiness API.
//!
//! Workers are started on demand, up to [`BLOCKING_THREADS`], and exit after
//! [`IDLE_EXIT`] without work. Jobs run in FIFO order. The caller parks with an *external*
//! park (another OS thread ends it), so deadlock detection never fires while a job runs.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use crate::sched::{self, ParkError, Parker, WaitOn, Waker};

/// Most OS threads the [`spawn_blocking`] pool runs at once; further jobs queue (FIFO).
pub const BLOCKING_THREADS: usize = 8;

/// A pool thread exits after this long without work.
const IDLE_EXIT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<PoolState>,
    cond: Condvar,
}

struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState {
            queue: VecDeque::new(),
            threads: 0,
            idle: 0,
        }),
        cond: Condvar::new(),
    })
}

impl Pool {
    /// Queues `job`, starting a worker if none is idle and the pool is not full. Returns
    /// the job back if no worker exists and none could be started.
    fn submit(&'static self, job: Job) -> Result<(), Job> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.queue.push_back(job);
        if st.idle > 0 {
            drop(st);
            self.cond.notify_one();
            return Ok(());
        }
        if st.threads < BLOCKING_THREADS {
            st.threads += 1;
            drop(st);
            let started = std::thread::Builder::new()
                .name("greenthread-blocking".into())
                .spawn(move || self.work());
            if started.is_err() {
                let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                st.threads -= 1;
                if st.threads == 0 {
                    // Nobody will ever run it: hand it back (it is the last one queued
                    // unless another caller raced; either way take the newest).
                    return st.queue.pop_back().map_or(Ok(()), Err);
                }
            }
        }
        Ok(())
    }

    fn work(&self) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(job) = st.queue.pop_front() {
                drop(st);
                job();
                st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            st.idle += 1;
            let (s, res) = self
                .cond
                .wait_timeout(st, IDLE_EXIT)
                .unwrap_or_else(PoisonError::into_inner);
            st = s;
            st.idle -= 1;
            if res.timed_out() && st.queue.is_empty() {
                st.threads -= 1;
                return;
            }
        }
    }
}

/// Where a job leaves its result, and whom it wakes.
struct Slot<R> {
    result: Option<std::thread::Result<R>>,
    waker: Option<Waker>,
}

/// Runs `f` on a pool of OS threads and parks the calling green thread until it returns
/// (gevent's `threadpool.apply`): for what has no readiness API and would otherwise block
/// every green thread of this OS thread (file I/O, a blocking C call, DNS). Other green
/// threads of the hub run meanwhile.
///
/// The pool has at most [`BLOCKING_THREADS`] OS threads; more jobs wait their turn.
///
/// **Kill or interrupt while waiting**: the green thread unwinds at once, but `f` cannot
/// be stopped: it runs to its end on the pool thread, and its result (or panic) is dropped
/// there.
///
/// # Examples
///
/// ```
/// let len = greenthread::spawn_blocking(|| std::fs::read_to_string("Cargo.toml").map(|s| s.len()));
/// assert!(len.unwrap() > 0);
/// ```
///
/// # Python equivalent
///
/// `gevent.get_hub().threadpool.apply(func)` (`gevent.threadpool.ThreadPool.apply`).
///
/// # Differences
///
/// One process-wide pool of [`BLOCKING_THREADS`] OS threads (gevent: one pool per hub, 10
/// threads by default); no arguments (capture them in the closure); a killed caller does
/// not wait for `f`.
///
/// # Panics
///
/// If `f` panics, the panic is resumed in the caller (with `resume_unwind`, so the
/// payload is the original one). A pending kill of the calling green thread unwinds it.
/// Called while the OS thread is panicking (nothing may switch then), or if no pool thread
/// can be started, `f` runs on the calling OS thread instead.
pub fn spawn_blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    if std::thread::panicking() {
        return f();
    }
    sched::check_interrupt();
    let slot = Arc::new(Mutex::new(Slot {
        result: None,
        waker: None,
    }));
    let mut parker = Parker::new();
    slot.lock().unwrap_or_else(PoisonError::into_inner).waker = Some(parker.waker());
    let job_slot = Arc::clone(&slot);
    let job: Job = Box::new(move || {
        let r = catch_unwind(AssertUnwindSafe(f));
        let mut s = job_slot.lock().unwrap_or_else(PoisonError::into_inner);
        s.result = Some(r);
        let w = s.waker.take();
        drop(s);
        if let Some(w) = w {
            w.wake();
        }
        // `job_slot` drops here: if the caller gave up (killed), the result goes with it.
    });
    if let Err(job) = pool().submit(job) {
        job();
    }
    loop {
        let what = WaitOn::Other("spawn_blocking");
        match parker.park(what, None, true) {
            Ok(_) | Err(ParkError::Deadlock(_)) | Err(ParkError::Panicking) => {}
            Err(ParkError::Interrupted) => sched::check_interrupt(),
        }
        let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = s.result.take() {
            drop(s);
            return match r {
                Ok(v) => v,
                Err(payload) => resume_unwind(payload),
            };
        }
        // Woken by an interrupt handler that returned, or spuriously: park again.
        parker = Parker::new();
        s.waker = Some(parker.waker());
    }
}
