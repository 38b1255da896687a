//! Exhaustive models of the lock layer's protocol (src/sync/raw.rs, waitqueue.rs and the
//! park words of src/sched/park.rs), checked with loom under every interleaving of its
//! atomic operations (bounded by `LOOM_MAX_PREEMPTIONS`).
//!
//! Built only with `RUSTFLAGS="--cfg loom"` (`.ci/run`, step "loom models"):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release --test loom_sync --target-dir target/loom
//! ```
//!
//! # What is modelled, and how faithfully
//!
//! The model restates the protocol with loom's atomics, step for step with the real code
//! and with the same memory orderings; each function names its counterpart. It models:
//!
//! - the state word (count, QLOCK, WAITERS) and the queue it locks (`WaitQueue`, spin
//!   lock on the QLOCK bit, the queue itself in an `UnsafeCell` loom checks for races);
//! - park words (`Words::arm/disarm/disarm_slot`): one winner per park, a waker's win
//!   publishing the permit it hands over;
//! - acquire: the fast path (`try_acquire_fast`), queueing from exactly the observed word
//!   (`enqueue_or_take`), parking, and leaving the queue after a timeout or kill (`leave`);
//! - release: the fast path, and `release_slow` for waiters of *other* OS threads (the
//!   permit in flight while the lock is dropped for the wake), watchers set aside and woken
//!   once the permit has settled, a lost wake moving on to the next waiter;
//! - a hub closing (teardown under `panic = "abort"`) disarming an abandoned park.
//!
//! Each OS thread of a real run is a loom thread here; a park is a loop on its park word
//! (the hub's sleep until its inbox is posted, which adds no ordering the model needs: the
//! wake's compare-and-swap is what the parker synchronises with). A timeout or kill is the
//! parker's own `disarm` racing the releaser's (the hub ends a park exactly that way).
//! Not modelled: same-OS-thread waiters (woken under the queue lock, so no in-flight
//! window), rawlink callbacks, deadlock detection.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use loom::thread;
use std::collections::VecDeque;

const WAITERS: usize = 1 << 0;
const QLOCK: usize = 1 << 1;
const SHIFT: u32 = 3;
const ONE: usize = 1 << SHIFT;
const ARMED: u64 = 1;

fn count(s: usize) -> usize {
    s >> SHIFT
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Acquire,
    Watch,
}

/// A park word (`Words` in park.rs), one park (seq 1) per waiter in these models, and the
/// parked OS thread (the hub's sleep: loom's park/unpark).
struct Park {
    word: AtomicU64,
    thread: thread::Thread,
}

impl Park {
    fn armed() -> Arc<Park> {
        // `Words::arm`: Release store of seq << 1 | ARMED.
        let p = Arc::new(Park {
            word: AtomicU64::new(0),
            thread: thread::current(),
        });
        p.word.store(1 << 1 | ARMED, Ordering::Release);
        p
    }
    /// `Words::disarm`: AcqRel compare-exchange; true for the one winner.
    fn disarm(&self) -> bool {
        self.word
            .compare_exchange(1 << 1 | ARMED, 1 << 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
    /// `Waker::wake`: win the park, then post to the parker's hub (unpark its OS thread).
    fn wake(&self) -> bool {
        let won = self.disarm();
        if won {
            self.thread.unpark();
        }
        won
    }
    /// The parker's side: sleep until a wake has won the park. The check is a
    /// read-modify-write, which reads the latest value: in the real hub the wake is posted
    /// through the inbox mutex, which orders it before the parker's check; loom's
    /// park/unpark orders nothing, and a plain load could keep reading the armed word.
    fn wait(&self) {
        while self.word.fetch_or(0, Ordering::Acquire) & ARMED != 0 {
            thread::park();
        }
    }
    /// `Words::disarm_slot`: hub teardown abandoning the parker.
    fn disarm_slot(&self) {
        self.word.fetch_and(!ARMED, Ordering::AcqRel);
    }
    fn is_armed(&self) -> bool {
        self.word.load(Ordering::Acquire) & ARMED != 0
    }
}

struct Waiter {
    park: Arc<Park>,
    kind: Kind,
    seq: u64,
}

/// `RawSem` + `WaitQueue`.
struct Sem {
    word: AtomicUsize,
    /// # Safety: only touched while holding QLOCK.
    queue: UnsafeCell<(VecDeque<Waiter>, u64)>,
}

/// How a model acquire ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Got {
    Permit,
    TimedOut,
}

impl Sem {
    fn new(permits: usize) -> Sem {
        Sem {
            word: AtomicUsize::new(permits << SHIFT),
            queue: UnsafeCell::new((VecDeque::new(), 0)),
        }
    }

    /// `WaitQueue::load`: Relaxed (every decision is confirmed by a compare-exchange).
    fn load(&self) -> usize {
        self.word.load(Ordering::Relaxed)
    }

    /// `WaitQueue::cas`: fails without touching memory while QLOCK is held (the word is
    /// frozen then: the holder's unlock stores a whole new value).
    fn cas(&self, current: usize, new: usize, success: Ordering) -> Result<(), usize> {
        if current & QLOCK != 0 {
            return Err(current);
        }
        self.word
            .compare_exchange(current, new, success, Ordering::Relaxed)
            .map(drop)
    }

    /// `WaitQueue::try_lock`: Acquire CAS setting QLOCK from exactly `s`.
    fn try_lock(&self, s: usize) -> Result<usize, usize> {
        if s & QLOCK != 0 {
            return Err(s);
        }
        self.word
            .compare_exchange(s, s | QLOCK, Ordering::Acquire, Ordering::Relaxed)
            .map(|_| s)
    }

    /// `WaitQueue::lock`: spins (yields) until QLOCK is taken; returns the state.
    fn lock(&self) -> usize {
        let mut s = self.load();
        loop {
            if s & QLOCK != 0 {
                thread::yield_now();
                s = self.load();
                continue;
            }
            match self.try_lock(s) {
                Ok(s) => return s,
                Err(a) => s = a,
            }
        }
    }

    /// `QueueGuard::drop`: Release store of the new state, QLOCK clear.
    fn unlock(&self, state: usize) {
        debug_assert!(state & QLOCK == 0);
        self.word.store(state, Ordering::Release);
    }

    fn with_queue<R>(&self, f: impl FnOnce(&mut (VecDeque<Waiter>, u64)) -> R) -> R {
        // SAFETY (model): callers hold QLOCK.
        self.queue.with_mut(|q| f(unsafe { &mut *q }))
    }

    /// `try_acquire_fast`.
    fn try_acquire_fast(&self) -> bool {
        let s = self.load();
        s >= ONE && self.cas(s, s - ONE, Ordering::Acquire).is_ok()
    }

    /// `enqueue_or_take`: `Ok(None)` took a permit (or, watching, found one);
    /// `Ok(Some)` queued with this park and seq.
    fn enqueue_or_take(&self, kind: Kind) -> Option<(Arc<Park>, u64)> {
        let park = Park::armed();
        let mut s = self.load();
        loop {
            if s & QLOCK != 0 {
                thread::yield_now();
                s = self.load();
                continue;
            }
            if s >= ONE {
                if kind == Kind::Watch {
                    return None;
                }
                match self.cas(s, s - ONE, Ordering::Acquire) {
                    Ok(_) => return None,
                    Err(a) => {
                        s = a;
                        continue;
                    }
                }
            }
            match self.try_lock(s) {
                Ok(state) => {
                    let seq = self.with_queue(|(q, next)| {
                        *next += 1;
                        q.push_back(Waiter {
                            park: Arc::clone(&park),
                            kind,
                            seq: *next,
                        });
                        *next
                    });
                    self.unlock(state | WAITERS);
                    return Some((park, seq));
                }
                Err(a) => s = a,
            }
        }
    }

    /// `leave`: takes entry `seq` out if a release has not popped it.
    fn leave(&self, seq: u64) {
        let mut state = self.lock();
        let empty = self.with_queue(|(q, _)| {
            q.retain(|w| w.seq != seq);
            q.is_empty()
        });
        if empty {
            state &= !WAITERS;
        }
        self.unlock(state);
    }

    /// Acquire; `timed`: the park also races a timeout (the parker's own disarm).
    fn acquire(&self, timed: bool) -> Got {
        if self.try_acquire_fast() {
            return Got::Permit;
        }
        let Some((park, seq)) = self.enqueue_or_take(Kind::Acquire) else {
            return Got::Permit;
        };
        if timed && park.disarm() {
            // The hub ended the park (timeout/kill) before any wake: leave the queue.
            self.leave(seq);
            return Got::TimedOut;
        }
        // Woken (or the timeout lost to a wake): the permit is ours.
        park.wait();
        Got::Permit
    }

    /// `wait_ready`: waits until the count is positive, takes nothing, returns the count.
    fn wait_ready(&self) -> usize {
        let n = count(self.load());
        if n > 0 {
            return n;
        }
        if let Some((park, _)) = self.enqueue_or_take(Kind::Watch) {
            park.wait();
        }
        count(self.load())
    }

    /// `release` + `release_slow`, every waiter on another OS thread. True if the permit
    /// was handed to a waiter whose park this release won; false if it went to the count.
    fn release(&self) -> bool {
        let s = self.load();
        if s & WAITERS == 0 && self.cas(s, s + ONE, Ordering::Release).is_ok() {
            return false;
        }
        // Slow path: take QLOCK, or raise the count if the waiters are gone meanwhile.
        let mut s = self.load();
        let mut state = loop {
            if s & QLOCK != 0 {
                thread::yield_now();
                s = self.load();
                continue;
            }
            if s & WAITERS == 0 {
                match self.cas(s, s + ONE, Ordering::Release) {
                    Ok(_) => return false,
                    Err(a) => {
                        s = a;
                        continue;
                    }
                }
            }
            match self.try_lock(s) {
                Ok(st) => break st,
                Err(a) => s = a,
            }
        };
        let mut watchers = Vec::new();
        loop {
            let Some(w) = self.with_queue(|(q, _)| q.pop_front()) else {
                break;
            };
            if w.kind == Kind::Watch {
                watchers.push(w);
                continue;
            }
            // In flight: finish, drop the lock, then wake.
            if self.with_queue(|(q, _)| q.is_empty()) {
                state &= !WAITERS;
            }
            self.unlock(state);
            if w.park.wake() {
                for w in watchers {
                    w.park.wake();
                }
                return true;
            }
            state = self.lock();
        }
        state += ONE;
        if self.with_queue(|(q, _)| q.is_empty()) {
            state &= !WAITERS;
        }
        self.unlock(state);
        for w in watchers {
            w.park.wake();
        }
        false
    }

    fn count(&self) -> usize {
        count(self.load())
    }
}

/// A lock (one permit) used by two OS threads besides its holder: mutual exclusion holds
/// and the permit comes back; a release hands off to a parked waiter through the
/// in-flight window.
#[test]
fn lock_hand_off_between_os_threads() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (sem, inside) = (Arc::clone(&sem), Arc::clone(&inside));
                thread::spawn(move || {
                    assert_eq!(sem.acquire(false), Got::Permit);
                    assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0, "two holders");
                    inside.fetch_sub(1, Ordering::Relaxed);
                    let _ = sem.release();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(sem.count(), 1, "the permit was lost or duplicated");
        assert_eq!(sem.word.load(Ordering::Relaxed) & (WAITERS | QLOCK), 0);
    });
}

/// A timeout (or kill) racing a release's wake: exactly one wins; either the waiter has
/// the permit or the permit is back in the count, never both, never neither.
#[test]
fn timeout_racing_a_wake_loses_nothing() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(0));
        let s = Arc::clone(&sem);
        let waiter = thread::spawn(move || s.acquire(true));
        let handed = sem.release();
        let got = waiter.join().unwrap();
        let expect = match got {
            Got::Permit => 0,
            Got::TimedOut => 1,
        };
        assert_eq!(sem.count(), expect, "{got:?}");
        // A hand-off happened only if the waiter has the permit (it may also have taken
        // it from the count on its fast path, before queueing).
        assert!(!handed || got == Got::Permit);
        assert_eq!(sem.word.load(Ordering::Relaxed) & (WAITERS | QLOCK), 0);
    });
}

/// Issue 17.1: a watcher (`Semaphore::wait`) on another OS thread, with nobody acquiring,
/// never sees the released permit in flight: it reads a positive count.
#[test]
fn watcher_never_sees_an_in_flight_permit() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(0));
        let s = Arc::clone(&sem);
        let watcher = thread::spawn(move || s.wait_ready());
        assert!(!sem.release(), "a watcher takes nothing");
        assert_eq!(watcher.join().unwrap(), 1);
        assert_eq!(sem.count(), 1);
    });
}

/// A watcher and an acquirer on two other OS threads, one release; the acquirer gives its
/// permit back when done. Whatever the order, the acquirer gets a permit (watchers take
/// nothing), the watcher is always woken (no lost wake: it returns, at the latest when
/// the acquirer releases), and the permit ends in the count.
#[test]
fn watcher_and_acquirer_both_served() {
    // Three threads besides main spinning on the queue lock: at the default bound of 3
    // preemptions this model takes over ten minutes; 2 keeps it to seconds.
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.preemption_bound = Some(2);
    b.check(|| {
        let sem = Arc::new(Sem::new(0));
        let (s1, s2) = (Arc::clone(&sem), Arc::clone(&sem));
        let watcher = thread::spawn(move || s1.wait_ready());
        let acquirer = thread::spawn(move || {
            let got = s2.acquire(false);
            let _ = s2.release();
            got
        });
        let _ = sem.release();
        let seen = watcher.join().unwrap();
        assert_eq!(acquirer.join().unwrap(), Got::Permit);
        assert!(seen <= 1);
        assert_eq!(sem.count(), 1, "the permit was lost or duplicated");
    });
}

/// Issue 10.4: a hub closing abandons a parked waiter by disarming its park word; a
/// release racing the close either hands the permit to the waiter before the close (the
/// abandoned thread then holds it: as a thread that died holding a lock) or skips it and
/// puts the permit back. It never reports a hand-off the waiter did not win.
#[test]
fn closing_hub_makes_parks_unwinnable() {
    loom::model(|| {
        let sem = Arc::new(Sem::new(0));
        let (park, _seq) = sem.enqueue_or_take(Kind::Acquire).expect("queued");
        let p = Arc::clone(&park);
        let closer = thread::spawn(move || p.disarm_slot());
        let handed = sem.release();
        closer.join().unwrap();
        assert!(!park.is_armed());
        // Either the release won the park before the close (the abandoned waiter holds the
        // permit, as a thread that died holding a lock) or the close won and the permit is
        // back in the count: exactly one of the two, never both, never neither.
        assert_eq!(handed as usize + sem.count(), 1);
        assert_eq!(sem.word.load(Ordering::Relaxed) & (QLOCK | WAITERS), 0);
    });
}
