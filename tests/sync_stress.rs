//! Seeded randomized stress of the lock layer: several OS threads, each with many green
//! threads, mixing every lock type and operation (blocking, non-blocking, timed and
//! Python-shaped acquires with valid and invalid arguments, guards, re-entrancy, `wait`,
//! `rawlink`/`unlink`), with kills landing anywhere a green thread can switch.
//!
//! Checked:
//! - **mutual exclusion**: never two holders of `Lock`/`RLock`, never more holders than
//!   permits of a semaphore (an atomic "inside" count per object, across OS threads);
//! - **permit conservation**: once everything stopped, every object is back to its initial
//!   state (nothing lost, nothing created), whatever was killed or timed out;
//! - **FIFO** where it is observable: untimed blocking acquires of `Lock` and `RLock` made
//!   by green threads of one OS thread complete in the order they were made;
//! - **links**: every `rawlink` callback is either called exactly once or unlinked, never
//!   both, and only while its semaphore is ready.
//!
//! The seed comes from `GREENTHREAD_SEED` (decimal or `0x` hex) or a default, and is
//! printed with any failure. `stress` is bounded (a few seconds in a debug build).
//! Soak: `GREENTHREAD_SOAK=1 cargo test --release --test sync_stress` makes `stress` run
//! bigger rounds with successive seeds for `GREENTHREAD_SOAK_SECS` (default 300) seconds;
//! `cargo test --test sync_stress -- --ignored` runs the same as `stress_soak`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenthread::sync::{
    AcquireError, BoundedSemaphore, DummySemaphore, LinkId, Lock, RLock, Semaphore,
};
use greenthread::{Error, GreenThread};

const DEFAULT_SEED: u64 = 0x5eed_1e55_2025;
const SEM_PERMITS: usize = 3;
const BOUNDED_PERMITS: usize = 2;

/// splitmix64: small, good enough, and the same everywhere.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn micros(&mut self, max: u64) -> Duration {
        Duration::from_micros(self.below(max + 1))
    }

    fn fork(&mut self) -> Rng {
        Rng(self.next())
    }
}

#[derive(Clone, Copy)]
struct Size {
    threads: usize,
    green: usize,
    ops: usize,
    kills: usize,
}

/// About two seconds in a debug build on two cores.
const BOUNDED: Size = Size {
    threads: 3,
    green: 12,
    ops: 4000,
    kills: 60,
};

const SOAK: Size = Size {
    threads: 4,
    green: 24,
    ops: 3000,
    kills: 300,
};

/// State of one link: set by its callback and by a successful `unlink`.
#[derive(Default, Clone, Copy)]
struct LinkState {
    called: u32,
    unlinked: bool,
}

/// Everything the OS threads share.
struct Shared {
    lock: Lock,
    sem: Arc<Semaphore>,
    bounded: Arc<BoundedSemaphore>,
    rlock: RLock,
    dummy: DummySemaphore,
    in_lock: AtomicUsize,
    in_sem: AtomicUsize,
    in_bounded: AtomicUsize,
    in_rlock: AtomicUsize,
    next_link: AtomicU64,
    links: Mutex<HashMap<u64, LinkState>>,
    ops: AtomicUsize,
    kills: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            lock: Lock::new(),
            sem: Arc::new(Semaphore::new(SEM_PERMITS)),
            bounded: Arc::new(BoundedSemaphore::new(BOUNDED_PERMITS)),
            rlock: RLock::new(),
            dummy: DummySemaphore::new(),
            in_lock: AtomicUsize::new(0),
            in_sem: AtomicUsize::new(0),
            in_bounded: AtomicUsize::new(0),
            in_rlock: AtomicUsize::new(0),
            next_link: AtomicU64::new(0),
            links: Mutex::new(HashMap::new()),
            ops: AtomicUsize::new(0),
            kills: AtomicUsize::new(0),
            failures: Mutex::new(Vec::new()),
        }
    }

    fn fail(&self, what: String) {
        lock(&self.failures).push(what);
    }

    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<u64, LinkState>> {
        lock(&self.links)
    }
}

/// Acquisitions that succeeded (all rounds), for the summary line.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// Locks a test mutex, ignoring poisoning (a failed assertion elsewhere must not hide the
/// report behind a cascade of poison errors).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counts a holder in while alive (out when dropped, also while a kill unwinds), checking
/// the object's limit.
struct Inside<'a>(&'a AtomicUsize);

impl<'a> Inside<'a> {
    fn enter(counter: &'a AtomicUsize, limit: usize, what: &str) -> Inside<'a> {
        HELD.fetch_add(1, Ordering::Relaxed);
        let before = counter.fetch_add(1, Ordering::SeqCst);
        assert!(
            before < limit,
            "{what}: {} holders, limit {limit}",
            before + 1
        );
        Inside(counter)
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Releases with `release()` when dropped: a permit got from a non-guard acquire.
struct Manual<'a>(&'a dyn Fn() -> Result<(), Error>);

impl Drop for Manual<'_> {
    fn drop(&mut self) {
        (self.0)().expect("releasing a held permit");
    }
}

/// The critical section: hold it a random while, switching or not.
fn hold(rng: &mut Rng) {
    match rng.below(4) {
        0 => {}
        1 => greenthread::yield_now(),
        2 => greenthread::sleep(rng.micros(100)),
        _ => {
            for _ in 0..rng.below(3) {
                greenthread::yield_now();
            }
        }
    }
}

/// Random Python-shaped arguments and the result they must produce when invalid.
fn python_args(rng: &mut Rng) -> (bool, Option<f64>, Option<Error>) {
    match rng.below(8) {
        0 => (true, None, None),
        1 => (false, None, None),
        2 => (true, Some(rng.below(2000) as f64 / 1e6), None),
        3 => (true, Some(-1.0), None),
        4 => (false, Some(0.001), Some(Error::TimeoutWithNonBlocking)),
        5 => (true, Some(-0.25), Some(Error::NegativeTimeout)),
        6 => (true, Some(f64::INFINITY), Some(Error::TimeoutTooLarge)),
        _ => (false, Some(-1.0), None),
    }
}

/// FIFO bookkeeping of one object on one OS thread: tickets of untimed blocking acquires
/// and the last one completed.
#[derive(Default)]
struct Fifo {
    next: Cell<u64>,
    last_done: Cell<Option<u64>>,
}

impl Fifo {
    fn ticket(&self) -> u64 {
        let t = self.next.get();
        self.next.set(t + 1);
        t
    }

    fn done(&self, ticket: u64, what: &str) {
        if let Some(last) = self.last_done.get() {
            assert!(
                ticket > last,
                "{what}: untimed acquire #{ticket} completed after #{last} (not FIFO)"
            );
        }
        self.last_done.set(Some(ticket));
    }
}

/// Per-OS-thread state shared by its green threads.
#[derive(Default)]
struct Local {
    lock_fifo: Fifo,
    rlock_fifo: Fifo,
}

/// A link registered by a worker: which semaphore, its id, its token.
type MyLink = (bool, LinkId, u64);

fn op_lock(s: &Shared, local: &Local, rng: &mut Rng) {
    let l = &s.lock;
    let release = || l.release();
    match rng.below(5) {
        0 => {
            let t = local.lock_fifo.ticket();
            let _g = l.lock();
            local.lock_fifo.done(t, "Lock");
            let _in = Inside::enter(&s.in_lock, 1, "Lock");
            hold(rng);
        }
        1 => {
            if let Some(_g) = l.try_lock() {
                let _in = Inside::enter(&s.in_lock, 1, "Lock");
                hold(rng);
            }
        }
        2 => {
            if let Some(_g) = l.lock_timeout(rng.micros(2000)) {
                let _in = Inside::enter(&s.in_lock, 1, "Lock");
                hold(rng);
            }
        }
        3 => {
            let (blocking, timeout, invalid) = python_args(rng);
            let untimed = blocking && matches!(timeout, None | Some(-1.0));
            let ticket = untimed.then(|| local.lock_fifo.ticket());
            match (l.acquire_with(blocking, timeout), invalid) {
                (Err(AcquireError::Invalid(e)), Some(want)) => assert_eq!(e, want),
                (Ok(true), None) => {
                    let _m = Manual(&release);
                    if let Some(t) = ticket {
                        local.lock_fifo.done(t, "Lock");
                    }
                    let _in = Inside::enter(&s.in_lock, 1, "Lock");
                    hold(rng);
                }
                (Ok(false), None) => assert!(!untimed, "an untimed acquire failed"),
                (r, want) => panic!("Lock::acquire_with: {r:?}, expected error {want:?}"),
            }
        }
        _ => {
            let t = local.lock_fifo.ticket();
            l.acquire();
            let _m = Manual(&release);
            local.lock_fifo.done(t, "Lock");
            let _in = Inside::enter(&s.in_lock, 1, "Lock");
            hold(rng);
        }
    }
}

fn op_rlock(s: &Shared, local: &Local, rng: &mut Rng) {
    let r = &s.rlock;
    if rng.chance(10) {
        assert!(!r.is_owned());
        assert_eq!(r.release(), Err(Error::NotOwner));
    }
    let depth = 1 + rng.below(3);
    // First level: any form; the rest re-enter at once.
    let first = match rng.below(4) {
        0 => {
            let t = local.rlock_fifo.ticket();
            let g = r.lock();
            local.rlock_fifo.done(t, "RLock");
            Some(g)
        }
        1 => r.try_lock(),
        2 => r.lock_timeout(rng.micros(2000)),
        _ => {
            let (blocking, timeout, invalid) = python_args(rng);
            match (r.acquire_with(blocking, timeout), invalid) {
                (Err(AcquireError::Invalid(e)), Some(want)) => {
                    assert_eq!(e, want);
                    None
                }
                (Ok(true), None) => {
                    // Hand the level to a guard, which releases it like the others.
                    let g = r.try_lock().expect("re-entrant");
                    r.release().unwrap();
                    Some(g)
                }
                (Ok(false), None) => None,
                (res, want) => panic!("RLock::acquire_with: {res:?}, expected error {want:?}"),
            }
        }
    };
    let Some(_first) = first else {
        return;
    };
    let _in = Inside::enter(&s.in_rlock, 1, "RLock");
    assert!(r.is_owned());
    let mut levels = Vec::new();
    for _ in 1..depth {
        levels.push(r.lock());
        hold(rng);
    }
    hold(rng);
}

fn op_semaphore(s: &Shared, rng: &mut Rng, bounded: bool) {
    let (counter, limit, what) = if bounded {
        (&s.in_bounded, BOUNDED_PERMITS, "BoundedSemaphore")
    } else {
        (&s.in_sem, SEM_PERMITS, "Semaphore")
    };
    // Both types have the same API; pick the calls through closures.
    let acquire = || {
        if bounded {
            s.bounded.acquire()
        } else {
            s.sem.acquire()
        }
    };
    let try_acquire = || {
        if bounded {
            s.bounded.try_acquire()
        } else {
            s.sem.try_acquire()
        }
    };
    let timed = |d| {
        if bounded {
            s.bounded.acquire_timeout(d)
        } else {
            s.sem.acquire_timeout(d)
        }
    };
    let python = |b, t| {
        if bounded {
            s.bounded.acquire_with(b, t)
        } else {
            s.sem.acquire_with(b, t)
        }
    };
    let release = || {
        if bounded {
            s.bounded.release()
        } else {
            s.sem.release()
        }
    };
    let got = match rng.below(5) {
        0 => {
            acquire();
            true
        }
        1 => try_acquire(),
        2 => timed(rng.micros(2000)),
        3 => {
            let (blocking, timeout, invalid) = python_args(rng);
            match (python(blocking, timeout), invalid) {
                (Err(AcquireError::Invalid(e)), Some(want)) => {
                    assert_eq!(e, want);
                    false
                }
                (Ok(got), None) => got,
                (r, want) => panic!("{what}::acquire_with: {r:?}, expected error {want:?}"),
            }
        }
        _ => {
            // The guard forms.
            if bounded {
                if let Some(_g) = s.bounded.acquire_guard_timeout(rng.micros(1000)) {
                    let _in = Inside::enter(counter, limit, what);
                    hold(rng);
                }
            } else if let Some(_g) = s.sem.acquire_guard_timeout(rng.micros(1000)) {
                let _in = Inside::enter(counter, limit, what);
                hold(rng);
            }
            return;
        }
    };
    if got {
        let _m = Manual(&release);
        let _in = Inside::enter(counter, limit, what);
        hold(rng);
    }
}

fn op_wait(s: &Shared, rng: &mut Rng) {
    let timeout = Some(rng.micros(1000));
    if rng.chance(50) {
        let n = s.sem.wait(timeout);
        assert!(n <= SEM_PERMITS, "Semaphore::wait returned {n}");
    } else {
        let n = s.bounded.wait(timeout);
        assert!(n <= BOUNDED_PERMITS, "BoundedSemaphore::wait returned {n}");
    }
}

fn op_dummy(s: &Shared, rng: &mut Rng) {
    let d = &s.dummy;
    match rng.below(3) {
        0 => {
            let _g = d.acquire_guard();
            hold(rng);
        }
        1 => assert!(d.try_acquire() && d.acquire_timeout(Duration::ZERO)),
        _ => assert_eq!(d.wait(Some(Duration::ZERO)), 1),
    }
    assert!(!d.locked() && d.ready());
    d.release().unwrap();
}

fn op_link(shared: &Arc<Shared>, rng: &mut Rng, mine: &mut Vec<MyLink>) {
    if !mine.is_empty() && rng.chance(50) {
        let (bounded, id, token) = mine.swap_remove(rng.below(mine.len() as u64) as usize);
        let removed = if bounded {
            shared.bounded.unlink(id)
        } else {
            shared.sem.unlink(id)
        };
        let mut links = shared.links();
        let st = links.get_mut(&token).unwrap();
        if removed {
            assert_eq!(st.called, 0, "a link was unlinked after it was called");
            st.unlinked = true;
        }
        // Else it has been called, or a runner (maybe on another OS thread) has taken it
        // out to call it right now: the final check sees it called.
        return;
    }
    let token = shared.next_link.fetch_add(1, Ordering::SeqCst);
    shared.links().insert(token, LinkState::default());
    let bounded = rng.chance(50);
    let sh = Arc::clone(shared);
    // (Readiness at the call is checked by the deterministic tests: here other OS threads
    // may take the permit at any moment. The counter must never exceed the permits.)
    let on_call = move |counter: usize, permits: usize| {
        let mut links = sh.links();
        let st = links.get_mut(&token).unwrap();
        if st.unlinked || st.called != 0 || counter > permits {
            let msg = format!(
                "link {token}: called={} unlinked={} counter={counter}/{permits}",
                st.called, st.unlinked
            );
            sh.fail(msg);
        }
        st.called += 1;
    };
    let id = if bounded {
        shared.bounded.rawlink(move |s: &BoundedSemaphore| {
            on_call(s.counter(), BOUNDED_PERMITS);
        })
    } else {
        shared
            .sem
            .rawlink(move |s: &Semaphore| on_call(s.counter(), SEM_PERMITS))
    };
    mine.push((bounded, id, token));
}

/// One worker green thread: `ops` random operations.
fn worker(shared: Arc<Shared>, local: Rc<Local>, mut rng: Rng, ops: usize) {
    let mut mine = Vec::new();
    for _ in 0..ops {
        match rng.below(16) {
            0..=3 => op_lock(&shared, &local, &mut rng),
            4..=6 => op_rlock(&shared, &local, &mut rng),
            7..=8 => op_semaphore(&shared, &mut rng, false),
            9..=10 => op_semaphore(&shared, &mut rng, true),
            11 => op_wait(&shared, &mut rng),
            12 => op_dummy(&shared, &mut rng),
            13 => op_link(&shared, &mut rng, &mut mine),
            14 => greenthread::yield_now(),
            _ => greenthread::sleep(rng.micros(200)),
        }
        shared.ops.fetch_add(1, Ordering::Relaxed);
    }
}

/// One OS thread: `size.green` workers and a killer that kills `size.kills` of them at
/// random moments, replacing each with a fresh worker.
fn os_thread(shared: Arc<Shared>, mut rng: Rng, size: Size) {
    let local = Rc::new(Local::default());
    let workers: Rc<RefCell<Vec<GreenThread<()>>>> = Rc::new(RefCell::new(Vec::new()));
    let spawn_worker = {
        let (shared, local, workers) =
            (Arc::clone(&shared), Rc::clone(&local), Rc::clone(&workers));
        move |rng: Rng, ops: usize| {
            let (shared, local) = (Arc::clone(&shared), Rc::clone(&local));
            workers
                .borrow_mut()
                .push(greenthread::spawn(move || worker(shared, local, rng, ops)));
        }
    };
    for _ in 0..size.green {
        spawn_worker(rng.fork(), size.ops);
    }
    let mut krng = rng.fork();
    let killer_workers = Rc::clone(&workers);
    let killer = greenthread::spawn(move || {
        let mut killed = 0;
        loop {
            greenthread::sleep(krng.micros(3000));
            let victim = {
                let w = killer_workers.borrow();
                let live: Vec<usize> = (0..w.len()).filter(|&i| !w[i].is_finished()).collect();
                if live.is_empty() {
                    break;
                }
                live[krng.below(live.len() as u64) as usize]
            };
            if killed == size.kills || !krng.chance(30) {
                continue;
            }
            // Not inside the borrow: the kill switches into the victim.
            let handle = killer_workers.borrow()[victim].handle();
            handle.kill();
            killed += 1;
            spawn_worker(krng.fork(), size.ops / 4);
        }
        killed
    });
    let killed = killer.join().unwrap();
    let mut i = 0;
    loop {
        let next = workers.borrow().get(i).map(GreenThread::handle);
        let Some(_h) = next else { break };
        let outcome = {
            let w = workers.borrow();
            match w[i].wait() {
                Ok(()) => None,
                Err(e) => match e.exit() {
                    Some(exit) if exit.is_killed() => None,
                    Some(exit) => Some(format!("worker panicked: {exit}")),
                    None => Some(format!("wait failed: {e}")),
                },
            }
        };
        if let Some(msg) = outcome {
            shared.fail(msg);
        }
        i += 1;
    }
    shared.kills.fetch_add(killed, Ordering::Relaxed);
}

fn seed_from_env() -> u64 {
    match std::env::var("GREENTHREAD_SEED") {
        Ok(v) => {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("GREENTHREAD_SEED={v:?} is not a number"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

/// One round with `seed`: panics (naming the seed) on any failure.
fn round(seed: u64, size: Size) {
    let shared = Arc::new(Shared::new());
    let mut rng = Rng(seed);
    // A watchdog: a hang is a failure too, and must name the seed.
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let t = Instant::now();
            while !done.load(Ordering::SeqCst) {
                if t.elapsed() > Duration::from_secs(60) {
                    let _ = writeln!(
                        std::io::stderr(),
                        "sync_stress: seed {seed:#x} hung for 60 s; aborting"
                    );
                    std::process::abort();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let threads: Vec<_> = (0..size.threads)
        .map(|_| {
            let (shared, rng) = (Arc::clone(&shared), rng.fork());
            std::thread::spawn(move || os_thread(shared, rng, size))
        })
        .collect();
    for t in threads {
        if let Err(p) = t.join() {
            shared.fail(format!("OS thread panicked: {p:?}"));
        }
    }
    // Quiescent: every permit must be back.
    let s = &shared;
    if s.lock.locked() {
        s.fail("Lock still locked".into());
    }
    if s.rlock.locked() {
        s.fail("RLock still locked".into());
    }
    if s.sem.counter() != SEM_PERMITS {
        s.fail(format!(
            "Semaphore counter {} != {SEM_PERMITS}",
            s.sem.counter()
        ));
    }
    if s.bounded.counter() != BOUNDED_PERMITS {
        s.fail(format!(
            "BoundedSemaphore counter {} != {BOUNDED_PERMITS}",
            s.bounded.counter()
        ));
    }
    assert_eq!(s.bounded.release(), Err(Error::TooManyReleases));
    // Links: both semaphores are ready, so a link registered now gets a runner on this
    // hub, which calls every link still registered (those whose runner never ran because
    // its OS thread exited first).
    for _ in 0..2 {
        let (tx, rx) = std::sync::mpsc::channel();
        let tx2 = tx.clone();
        s.sem.rawlink(move |_| tx.send(()).unwrap());
        s.bounded.rawlink(move |_| tx2.send(()).unwrap());
        let t = Instant::now();
        let mut got = 0;
        while got < 2 && t.elapsed() < Duration::from_secs(10) {
            greenthread::yield_now();
            got += rx.try_iter().count();
        }
    }
    for (token, st) in s.links().iter() {
        if st.called + u32::from(st.unlinked) != 1 {
            let msg = format!(
                "link {token}: called {} times, unlinked {}",
                st.called, st.unlinked
            );
            s.fail(msg);
        }
    }
    done.store(true, Ordering::SeqCst);
    watchdog.join().unwrap();
    let failures = lock(&shared.failures);
    assert!(
        failures.is_empty(),
        "sync_stress failed with GREENTHREAD_SEED={seed:#x} ({} ops): {:#?}",
        shared.ops.load(Ordering::Relaxed),
        &failures[..failures.len().min(10)]
    );
    assert!(shared.ops.load(Ordering::Relaxed) > 0);
    println!(
        "sync_stress: seed {seed:#x}: {} ops, {} kills, {} links",
        shared.ops.load(Ordering::Relaxed),
        shared.kills.load(Ordering::Relaxed),
        shared.links().len()
    );
}

fn soak(first_seed: u64) {
    let secs: u64 = std::env::var("GREENTHREAD_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let t = Instant::now();
    let mut seed = first_seed;
    let mut rounds = 0;
    while t.elapsed() < Duration::from_secs(secs) {
        round(seed, SOAK);
        seed = seed.wrapping_add(1);
        rounds += 1;
    }
    println!("sync_stress soak: {rounds} rounds, seeds {first_seed:#x}..{seed:#x}");
}

#[test]
fn stress() {
    let seed = seed_from_env();
    if std::env::var("GREENTHREAD_SOAK").is_ok_and(|v| v == "1") {
        soak(seed);
    } else {
        let t = Instant::now();
        round(seed, BOUNDED);
        println!(
            "sync_stress: {:?}, {} acquisitions held",
            t.elapsed(),
            HELD.load(Ordering::Relaxed)
        );
    }
}

#[test]
#[ignore = "soak: long; run with --ignored (GREENTHREAD_SOAK_SECS, GREENTHREAD_SEED)"]
fn stress_soak() {
    soak(seed_from_env());
}
