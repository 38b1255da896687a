//! Hand-off workloads shared by `benches/sync.rs` and `benches/peers/benches/sync_peers.rs`
//! (each includes this file with `#[path]`), so both reports time exactly the same code.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenthread::sched::{Parker, WaitOn, Waker};
use greenthread::sync::{Lock, Semaphore};

/// Something one green thread gives and another takes: a permit, or a lock's release.
pub trait Handoff: 'static {
    fn give(&self);
    fn take(&self);
}

impl Handoff for Semaphore {
    fn give(&self) {
        self.release().unwrap();
    }
    fn take(&self) {
        self.acquire();
    }
}

/// A `Lock` has no owner, so either side may release it.
impl Handoff for Lock {
    fn give(&self) {
        self.release().unwrap();
    }
    fn take(&self) {
        self.acquire();
    }
}

/// One iteration = one round trip between two green threads: A gives `ping` to B, B gives
/// `pong` back (two hand-offs, two parks, two switches). Both start taken.
fn ping_pong<H: Handoff>(ping: H, pong: H, iters: u64) -> Duration {
    let (ping, pong) = (Rc::new(ping), Rc::new(pong));
    let (p, q) = (Rc::clone(&ping), Rc::clone(&pong));
    let a = greenthread::spawn(move || {
        for _ in 0..iters {
            p.give();
            q.take();
        }
    });
    let (p, q) = (ping, pong);
    let z = greenthread::spawn(move || {
        for _ in 0..iters {
            p.take();
            q.give();
        }
    });
    let t = Instant::now();
    a.join().unwrap();
    z.join().unwrap();
    t.elapsed()
}

/// [`ping_pong`] through two `Semaphore`s that start at 0.
pub fn semaphore_ping_pong(iters: u64) -> Duration {
    ping_pong(Semaphore::new(0), Semaphore::new(0), iters)
}

/// [`ping_pong`] through two `Lock`s that start held.
pub fn lock_ping_pong(iters: u64) -> Duration {
    let (ping, pong) = (Lock::new(), Lock::new());
    ping.acquire();
    pong.acquire();
    ping_pong(ping, pong, iters)
}

/// The hub's own floor: the same round trip with a bare `Parker`/`Waker` and a turn flag
/// (no lock at all). What a lock adds is the difference.
pub fn parker_ping_pong(iters: u64) -> Duration {
    let turn = Rc::new(Cell::new(0u8));
    let slots: Rc<[RefCell<Option<Waker>>; 2]> = Rc::new([RefCell::new(None), RefCell::new(None)]);
    let side = |me: u8| {
        let (turn, slots) = (Rc::clone(&turn), Rc::clone(&slots));
        greenthread::spawn(move || {
            let other = 1 - me;
            for _ in 0..iters {
                while turn.get() != me {
                    let p = Parker::new();
                    *slots[me as usize].borrow_mut() = Some(p.waker());
                    p.park(WaitOn::Other("turn"), None, false).unwrap();
                }
                turn.set(other);
                let w = slots[other as usize].borrow_mut().take();
                if let Some(w) = w {
                    w.wake();
                }
            }
        })
    };
    let a = side(0);
    let z = side(1);
    let t = Instant::now();
    a.join().unwrap();
    z.join().unwrap();
    t.elapsed()
}

/// One iteration = one round trip between the main green threads of two OS threads through
/// two `Semaphore`s (each side's hub blocks its OS thread while it waits).
pub fn cross_thread_semaphore_ping_pong(iters: u64) -> Duration {
    let ping = Arc::new(Semaphore::new(0));
    let pong = Arc::new(Semaphore::new(0));
    let (p, q) = (Arc::clone(&ping), Arc::clone(&pong));
    let other = std::thread::spawn(move || {
        for _ in 0..iters {
            p.acquire();
            q.release().unwrap();
        }
    });
    let t = Instant::now();
    for _ in 0..iters {
        ping.release().unwrap();
        pong.acquire();
    }
    let elapsed = t.elapsed();
    other.join().unwrap();
    elapsed
}
