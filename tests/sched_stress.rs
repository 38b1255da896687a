//! Seeded randomized stress (issue 4, item 8): thousands of green threads spawning,
//! sleeping, yielding, killing, cancelling, waiting, linking, parking and waking (also
//! from another OS thread), on an OS thread that exits while some are still alive.
//!
//! Checked: every green thread's outcome is observed exactly once by its links; every
//! waiter sees that same outcome; a cancelled or killed-before-start green thread never
//! ran; every closure is dropped exactly once; and nothing leaks (mappings of the process
//! before and after, in a child process).
//!
//! The seed comes from `GREENTHREAD_SEED` (default below) and is printed on failure:
//! `GREENTHREAD_SEED=1234 cargo test --test sched_stress -- --nocapture`.

mod support;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenthread::sched::{Exit, Parker, WaitError, WaitOn, Waker, Wakeup};
use greenthread::{Builder, GreenThread};

const DEFAULT_SEED: u64 = 0x5eed_1234_abcd_0042;
/// Green threads spawned per round, in total.
const SPAWNS: usize = 3000;
/// Rounds after the warm-up one, each with the next seed.
const ROUNDS: u64 = 8;

fn seed() -> u64 {
    std::env::var("GREENTHREAD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// SplitMix64: small, good enough, no dependency.
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
        self.next() % n.max(1)
    }
}

/// How a green thread ended, as seen by links and waiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Value(u64),
    Panicked,
    Killed,
    Cancelled,
}

fn seen(r: Result<&u64, WaitError>) -> Seen {
    match r {
        Ok(v) => Seen::Value(*v),
        Err(WaitError::Exited(Exit::Panicked(_))) => Seen::Panicked,
        Err(WaitError::Exited(Exit::Killed)) => Seen::Killed,
        Err(WaitError::Exited(Exit::Cancelled)) => Seen::Cancelled,
        Err(e) => panic!("wait failed: {e}"),
    }
}

/// What the OS thread running the stress reports, shared with the test thread.
#[derive(Default)]
struct Record {
    /// Green-thread id -> outcomes its (first) link saw; must end with exactly one each.
    outcomes: HashMap<u64, Vec<Seen>>,
    /// Ids whose closure body started.
    ran: Vec<u64>,
    /// Extra links: id -> (links added and not removed, times called).
    extra: HashMap<u64, (u32, u32)>,
    /// Waits that returned: (id, outcome seen).
    waits: Vec<(u64, Seen)>,
    spawned_with_handle: usize,
}

struct World {
    rng: RefCell<Rng>,
    handles: RefCell<Vec<Rc<GreenThread<u64>>>>,
    wakers: RefCell<Vec<Waker>>,
    spawned: Cell<usize>,
    to_os: std::sync::mpsc::Sender<Waker>,
    record: Arc<Mutex<Record>>,
    closures: Arc<AtomicUsize>,
    closures_dropped: Arc<AtomicUsize>,
}

/// Counts closure drops (every closure is dropped exactly once, run or not).
struct ClosureGuard(Arc<AtomicUsize>);

impl Drop for ClosureGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl World {
    fn roll(&self, n: u64) -> u64 {
        self.rng.borrow_mut().below(n)
    }

    fn random_handle(&self) -> Option<Rc<GreenThread<u64>>> {
        let hs = self.handles.borrow();
        if hs.is_empty() {
            return None;
        }
        let i = self.roll(hs.len() as u64) as usize;
        Some(Rc::clone(&hs[i]))
    }

    /// Spawns an actor in a random way; returns its handle unless spawn_n.
    fn spawn_actor(self: &Rc<Self>, depth: u32) -> Option<Rc<GreenThread<u64>>> {
        if self.spawned.get() >= SPAWNS {
            return None;
        }
        self.spawned.set(self.spawned.get() + 1);
        let w = Rc::clone(self);
        let guard = ClosureGuard(Arc::clone(&self.closures_dropped));
        self.closures.fetch_add(1, Ordering::SeqCst);
        let kind = self.roll(10);
        let body = move || {
            let _g = guard;
            let me = greenthread::current().id();
            w.record.lock().unwrap().ran.push(me);
            actor(&w, depth)
        };
        let builder = if self.roll(4) == 0 {
            Builder::new().name(format!("actor-{depth}"))
        } else {
            Builder::new()
        };
        let delay = Duration::from_micros(self.roll(1500));
        let gt = match kind {
            0 => {
                builder
                    .spawn_n(move || {
                        body();
                    })
                    .unwrap();
                return None;
            }
            1 => builder.spawn_after(delay, body).unwrap(),
            2 => builder.spawn_after_local(delay, body).unwrap(),
            _ => builder.spawn(body).unwrap(),
        };
        let id = gt.id();
        let rec = Arc::clone(&self.record);
        gt.link(move |gt| {
            let s = seen(gt.wait());
            rec.lock().unwrap().outcomes.entry(id).or_default().push(s);
        });
        let gt = Rc::new(gt);
        self.record.lock().unwrap().spawned_with_handle += 1;
        self.handles.borrow_mut().push(Rc::clone(&gt));
        Some(gt)
    }
}

/// A green thread's random program. Returns a value derived from its id.
fn actor(w: &Rc<World>, depth: u32) -> u64 {
    let mut children: Vec<Rc<GreenThread<u64>>> = Vec::new();
    let steps = w.roll(12);
    for _ in 0..steps {
        match w.roll(12) {
            0 | 1 if depth < 6 => {
                if let Some(c) = w.spawn_actor(depth + 1) {
                    children.push(c);
                }
            }
            2 => greenthread::yield_now(),
            3 => greenthread::sleep(Duration::from_micros(w.roll(400))),
            4 => {
                if let Some(h) = w.random_handle() {
                    h.kill(); // may be ourselves: then we unwind right here
                }
            }
            5 => {
                if let Some(h) = w.random_handle() {
                    h.cancel();
                }
            }
            6 => {
                // wait on one of our own children (no cycles possible)
                if let Some(c) = children.pop() {
                    let s = seen(c.wait());
                    w.record.lock().unwrap().waits.push((c.id(), s));
                }
            }
            7 => {
                if let Some(h) = w.random_handle() {
                    let id = h.id();
                    let rec = Arc::clone(&w.record);
                    let link = h.link(move |_| {
                        rec.lock().unwrap().extra.entry(id).or_default().1 += 1;
                    });
                    let removed = w.roll(2) == 0 && h.unlink(link);
                    if !removed {
                        w.record.lock().unwrap().extra.entry(id).or_default().0 += 1;
                    }
                }
            }
            8 => {
                let p = Parker::new();
                let waker = p.waker();
                let external = w.roll(2) == 0;
                if external {
                    let _ = w.to_os.send(waker);
                } else {
                    w.wakers.borrow_mut().push(waker);
                }
                let deadline = Instant::now() + Duration::from_micros(w.roll(800));
                match p.park(WaitOn::Other("stress"), Some(deadline), external) {
                    Ok(Wakeup::Woken | Wakeup::TimedOut) => {}
                    Err(_) => greenthread::sched::check_interrupt(),
                }
            }
            9 => {
                let waker = {
                    let mut ws = w.wakers.borrow_mut();
                    if ws.is_empty() {
                        None
                    } else {
                        let i = w.roll(ws.len() as u64) as usize;
                        Some(ws.swap_remove(i))
                    }
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            10 if w.roll(20) == 0 => panic!("stress panic"),
            _ => greenthread::yield_now(),
        }
    }
    greenthread::current().id().wrapping_mul(3)
}

/// Runs one stress round on a fresh OS thread, which exits with whatever is still alive.
fn run(seed: u64) {
    let record = Arc::new(Mutex::new(Record::default()));
    let closures = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel::<Waker>();
    // Cross-thread waker: wakes what it is sent, at random moments.
    let os_waker = std::thread::spawn(move || {
        let mut rng = Rng(seed ^ 0xdead_beef);
        let mut woke = 0u64;
        for w in rx {
            if rng.below(4) == 0 {
                std::thread::sleep(Duration::from_micros(rng.below(200)));
            }
            if w.wake() {
                woke += 1;
            }
        }
        woke
    });
    let (rec, c, d) = (
        Arc::clone(&record),
        Arc::clone(&closures),
        Arc::clone(&dropped),
    );
    std::thread::Builder::new()
        .name("stress".into())
        .spawn(move || {
            let w = Rc::new(World {
                rng: RefCell::new(Rng(seed)),
                handles: RefCell::new(Vec::new()),
                wakers: RefCell::new(Vec::new()),
                spawned: Cell::new(0),
                to_os: tx,
                record: rec,
                closures: c,
                closures_dropped: d,
            });
            // Roots, until the spawn budget is used up.
            while w.spawned.get() < SPAWNS {
                for _ in 0..20 {
                    w.spawn_actor(0);
                }
                greenthread::sleep(Duration::from_micros(w.roll(300)));
                // wait for a random few, in the main green thread
                for _ in 0..5 {
                    if let Some(h) = w.random_handle() {
                        let s = seen(h.wait());
                        w.record.lock().unwrap().waits.push((h.id(), s));
                    }
                }
            }
            // Leave some alive: the OS thread's exit kills them. Wait for half.
            let hs: Vec<_> = w.handles.borrow().clone();
            for h in hs.iter().step_by(2) {
                let s = seen(h.wait());
                w.record.lock().unwrap().waits.push((h.id(), s));
            }
            w.wakers.borrow_mut().clear();
        })
        .unwrap()
        .join()
        .unwrap();
    let woke = os_waker.join().unwrap();

    let r = record.lock().unwrap();
    let ctx = format!("seed {seed}");
    // every closure dropped exactly once
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        closures.load(Ordering::SeqCst),
        "{ctx}: closures not dropped exactly once"
    );
    // every green thread with a handle: its link saw exactly one outcome
    assert_eq!(
        r.outcomes.len(),
        r.spawned_with_handle,
        "{ctx}: links that never fired"
    );
    for (id, v) in &r.outcomes {
        assert_eq!(v.len(), 1, "{ctx}: green thread {id} observed {v:?}");
    }
    // waiters saw the same outcome as the links
    for (id, s) in &r.waits {
        assert_eq!(r.outcomes[id][0], *s, "{ctx}: waiter of {id} disagrees");
    }
    // never-started outcomes never ran; values come from runs
    let ran: std::collections::HashSet<u64> = r.ran.iter().copied().collect();
    assert_eq!(ran.len(), r.ran.len(), "{ctx}: a closure ran twice");
    for (id, v) in &r.outcomes {
        match v[0] {
            Seen::Cancelled => assert!(!ran.contains(id), "{ctx}: cancelled {id} ran"),
            Seen::Value(x) => {
                assert!(ran.contains(id), "{ctx}: {id} returned without running");
                assert_eq!(x, id.wrapping_mul(3), "{ctx}: wrong value");
            }
            Seen::Panicked => assert!(ran.contains(id), "{ctx}"),
            Seen::Killed => {}
        }
    }
    // extra links: called once unless removed in time
    for (id, (kept, called)) in &r.extra {
        assert_eq!(kept, called, "{ctx}: extra links of {id}");
    }
    let counts = r.outcomes.values().fold(HashMap::new(), |mut m, v| {
        *m.entry(format!("{:?}", v[0]).split('(').next().unwrap().to_string())
            .or_insert(0) += 1;
        m
    });
    eprintln!(
        "{ctx}: {} spawned with handles, outcomes {counts:?}, {} waits, {woke} cross-thread wakes",
        r.spawned_with_handle,
        r.waits.len()
    );
}

/// The process's mapping count where it can be had (Linux); `None` elsewhere.
fn map_count() -> Option<usize> {
    #[cfg(target_os = "linux")]
    return Some(support::map_count());
    #[cfg(not(target_os = "linux"))]
    return None;
}

#[test]
fn stress() {
    if support::is_child() {
        let seed = seed();
        eprintln!("GREENTHREAD_SEED={seed}");
        // The green threads' deliberate panics would flood stderr.
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"stress panic") {
                default_hook(info);
            }
        }));
        let result = std::panic::catch_unwind(|| {
            run(seed); // warm-up round: process-wide state, thread stack cache
            let before = map_count();
            let t0 = Instant::now();
            for round in 1..=ROUNDS {
                run(seed.wrapping_add(round));
            }
            let after = map_count();
            eprintln!(
                "{ROUNDS} rounds took {:?}; mappings {before:?} -> {after:?}",
                t0.elapsed()
            );
            if !support::skip_if(
                support::maps_unreliable_under_qemu(),
                "qemu-user",
                "the mapping count of a 32-bit guest is not reliable",
            ) {
                assert!(after <= before, "mappings leaked: {before:?} -> {after:?}");
            }
        });
        if let Err(p) = result {
            eprintln!("stress failed with GREENTHREAD_SEED={seed}");
            std::panic::resume_unwind(p);
        }
        return;
    }
    let seed = seed().to_string();
    let out = support::run_in_child_with_env("stress", &[("GREENTHREAD_SEED", &seed)]);
    if !out.status.success() {
        panic!("stress failed with GREENTHREAD_SEED={seed}\n{out}");
    }
    out.assert_success();
    for line in out.stderr.lines().filter(|l| !l.starts_with(' ')) {
        eprintln!("{line}");
    }
}
