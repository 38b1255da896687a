//! Seeded randomized stress across OS threads: producers and consumers on three OS
//! threads share a bounded `Queue` and a `sync_channel`, with blocking, timed and
//! non-blocking calls, `with_timeout`, and random kills of blocked green threads (replaced
//! as they die). Every item successfully put is received exactly once; items whose put
//! failed are never received. Bounded work, deterministic assertions (conservation, not
//! timing). `GREENTHREAD_STRESS_SEED` picks the seed (printed on failure).

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use greenthread::channel::{Receiver, SyncSender, sync_channel};
use greenthread::queue::Queue;
use greenthread::sync::Mutex;
use greenthread::timeout::with_timeout;

const OS_THREADS: u64 = 3;
const PRODUCERS: u64 = 4;
const CONSUMERS: u64 = 3;
const ITEMS: u64 = 300;
const KILLS: usize = 6;

/// xorshift64*: small, seeded, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Shared {
    q: Queue<u64>,
    put: StdMutex<Vec<u64>>,
    got: StdMutex<Vec<u64>>,
    producers_done: AtomicUsize,
    counter: Mutex<u64>,
    increments: AtomicUsize,
}

fn producer(sh: &Shared, tx: &SyncSender<u64>, os: u64, p: u64, seed: u64) {
    let mut rng = Rng::new(seed ^ (os << 32) ^ (p << 16));
    for i in 0..ITEMS {
        let item = os << 40 | p << 24 | i;
        let ok = match rng.below(6) {
            0 => {
                sh.q.put(item);
                true
            }
            1 => {
                sh.q.put_timeout(item, Duration::from_micros(rng.below(500)))
                    .is_ok()
            }
            2 => sh.q.try_put(item).is_ok(),
            3 => tx.send(item).is_ok(),
            4 => tx.try_send(item).is_ok(),
            _ => match with_timeout(Duration::from_micros(rng.below(500)), || {
                sh.q.put(item);
            }) {
                Ok(()) => true,
                Err(_) => false,
            },
        };
        // No switch point between a successful put and this record.
        if ok {
            sh.put.lock().unwrap().push(item);
        }
        if rng.below(4) == 0 {
            let mut g = sh.counter.lock();
            let v = *g;
            greenthread::yield_now();
            *g = v + 1;
            drop(g);
            sh.increments.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn consumer(sh: &Shared, rx: &Receiver<u64>, os: u64, c: u64, seed: u64) {
    let mut rng = Rng::new(seed ^ (os << 32) ^ (c << 8) ^ 0xC0);
    loop {
        let got = match rng.below(5) {
            0 => sh.q.get_timeout(Duration::from_millis(2)).ok(),
            1 => sh.q.try_get().ok(),
            2 => rx.recv_timeout(Duration::from_millis(2)).ok(),
            3 => rx.try_recv().ok(),
            _ => with_timeout(Duration::from_millis(2), || sh.q.get()).ok(),
        };
        match got {
            Some(v) => sh.got.lock().unwrap().push(v),
            None => {
                // Done once every producer has finished, the queue is empty and the
                // channel is disconnected and drained (no item left in any buffer).
                if sh.producers_done.load(Ordering::SeqCst) == OS_THREADS as usize
                    && sh.q.is_empty()
                {
                    match rx.try_recv() {
                        Ok(v) => sh.got.lock().unwrap().push(v),
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
                        Err(std::sync::mpsc::TryRecvError::Empty) => greenthread::yield_now(),
                    }
                } else {
                    greenthread::yield_now();
                }
            }
        }
    }
}

fn os_thread(
    sh: Arc<Shared>,
    tx: SyncSender<u64>,
    rx: Arc<StdMutex<Receiver<u64>>>,
    os: u64,
    seed: u64,
) {
    let tx = Rc::new(tx);
    let mut rng = Rng::new(seed ^ os ^ 0x5EED);
    // The receiver is shared across OS threads behind a std mutex, taken only for a
    // non-blocking try_recv (never held across a switch); a forwarder green thread hands
    // its messages to this OS thread's consumers through a local rendezvous-ish channel,
    // on which they block, time out, and get killed. It ends (dropping `ltx`, so the
    // consumers learn of it) once the shared channel is disconnected and empty.
    let (ltx, lrx) = sync_channel::<u64>(1);
    let forwarder = {
        let (sh, rx) = (Arc::clone(&sh), Arc::clone(&rx));
        greenthread::spawn(move || {
            loop {
                let v = rx.lock().unwrap().try_recv();
                match v {
                    Ok(v) => {
                        if ltx.send(v).is_err() {
                            // Our consumers are gone: keep the item counted.
                            sh.got.lock().unwrap().push(v);
                        }
                    }
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        greenthread::sleep(Duration::from_micros(200));
                    }
                }
            }
        })
    };
    let lrx = Rc::new(lrx);
    let spawn_producer = |p: u64, generation: u64| {
        let (sh, tx) = (Arc::clone(&sh), Rc::clone(&tx));
        greenthread::spawn(move || producer(&sh, &tx, os, p + 100 * generation, seed))
    };
    let mut producers: Vec<_> = (0..PRODUCERS).map(|p| spawn_producer(p, 0)).collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let (sh, lrx) = (Arc::clone(&sh), Rc::clone(&lrx));
            greenthread::spawn(move || consumer(&sh, &lrx, os, c, seed))
        })
        .collect();
    // Kill random producers while they run; replace each with a fresh one (new ids).
    for k in 0..KILLS {
        for _ in 0..rng.below(20) {
            greenthread::yield_now();
        }
        let i = rng.below(producers.len() as u64) as usize;
        if !producers[i].is_finished() {
            producers[i].kill();
            let _ = producers[i].wait();
            producers[i] = spawn_producer(i as u64, k as u64 + 1);
        }
    }
    for p in producers {
        let _ = p.join();
    }
    drop(tx);
    sh.producers_done.fetch_add(1, Ordering::SeqCst);
    for c in consumers {
        c.join().unwrap();
    }
    drop(lrx);
    forwarder.join().unwrap();
}

#[test]
fn nothing_lost_or_duplicated_across_os_threads() {
    let seed: u64 = std::env::var("GREENTHREAD_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00C0_FFEE);
    let (tx, rx) = sync_channel::<u64>(2);
    let sh = Arc::new(Shared {
        q: Queue::bounded(3),
        put: StdMutex::new(Vec::new()),
        got: StdMutex::new(Vec::new()),
        producers_done: AtomicUsize::new(0),
        counter: Mutex::new(0),
        increments: AtomicUsize::new(0),
    });
    let rx = Arc::new(StdMutex::new(rx));
    let threads: Vec<_> = (0..OS_THREADS)
        .map(|os| {
            let (sh, rx, tx) = (Arc::clone(&sh), Arc::clone(&rx), tx.clone());
            std::thread::spawn(move || os_thread(sh, tx, rx, os, seed))
        })
        .collect();
    // The channel disconnects once every OS thread's producers are done.
    drop(tx);
    for t in threads {
        t.join().unwrap();
    }
    let mut leftover: Vec<u64> = sh.q.try_iter().collect();
    leftover.extend(rx.lock().unwrap().try_iter());
    let mut got = sh.got.lock().unwrap().clone();
    got.extend(leftover);
    let put = sh.put.lock().unwrap().clone();
    let count = |v: &[u64]| {
        let mut m = BTreeMap::new();
        for &x in v {
            *m.entry(x).or_insert(0u32) += 1;
        }
        m
    };
    let (cp, cg) = (count(&put), count(&got));
    assert!(
        cp.values().all(|&n| n == 1),
        "seed {seed}: an item was put twice"
    );
    assert!(
        cg.values().all(|&n| n == 1),
        "seed {seed}: an item was received twice"
    );
    let lost: Vec<_> = cp.keys().filter(|k| !cg.contains_key(k)).collect();
    let extra: Vec<_> = cg.keys().filter(|k| !cp.contains_key(k)).collect();
    assert!(
        lost.is_empty() && extra.is_empty(),
        "seed {seed}: lost {lost:x?}, received but never put {extra:x?}"
    );
    assert!(put.len() > 100, "seed {seed}: the run did real work");
    assert_eq!(
        *sh.counter.lock() as usize,
        sh.increments.load(Ordering::SeqCst),
        "seed {seed}: Mutex increments lost"
    );
}
