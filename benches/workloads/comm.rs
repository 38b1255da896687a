//! Communication workloads shared by `benches/peers/benches/comm_peers.rs` and the
//! callgrind driver `benches/peers/src/bin/comm_callgrind.rs` (each includes this file
//! with `#[path]`), so the times and the instruction counts are of the same code.

#![allow(dead_code)]

use std::num::NonZeroUsize;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenthread::channel::sync_channel;
use greenthread::pool::Pool;
use greenthread::sync::{Event, Semaphore};

/// `iters` messages through a `sync_channel(128)` from a producer green thread to a
/// consumer green thread of the same hub.
pub fn channel_one_hub(iters: u64) -> Duration {
    let (tx, rx) = sync_channel::<u64>(128);
    let producer = greenthread::spawn(move || {
        for i in 0..iters {
            tx.send(i).unwrap();
        }
    });
    let consumer = greenthread::spawn(move || {
        let mut sum = 0u64;
        for _ in 0..iters {
            sum = sum.wrapping_add(rx.recv().unwrap());
        }
        sum
    });
    let t = Instant::now();
    producer.join().unwrap();
    std::hint::black_box(consumer.join().unwrap());
    t.elapsed()
}

/// `iters` messages through a `sync_channel(128)` from a plain OS thread (its main green
/// thread) to this one.
pub fn channel_two_threads(iters: u64) -> Duration {
    let (tx, rx) = sync_channel::<u64>(128);
    let t = Instant::now();
    let producer = std::thread::spawn(move || {
        for i in 0..iters {
            tx.send(i).unwrap();
        }
    });
    let mut sum = 0u64;
    for _ in 0..iters {
        sum = sum.wrapping_add(rx.recv().unwrap());
    }
    producer.join().unwrap();
    std::hint::black_box(sum);
    t.elapsed()
}

/// One iteration = one round trip through two events: A sets `ping`, B (waiting on it)
/// resumes, clears it and sets `pong`, A resumes. Two set -> waiter-resumes hand-offs.
pub fn event_ping_pong(iters: u64) -> Duration {
    let ping = Rc::new(Event::new());
    let pong = Rc::new(Event::new());
    let (p, q) = (Rc::clone(&ping), Rc::clone(&pong));
    let b = greenthread::spawn(move || {
        for _ in 0..iters {
            p.wait();
            p.clear();
            q.set();
        }
    });
    let t = Instant::now();
    for _ in 0..iters {
        ping.set();
        pong.wait();
        pong.clear();
    }
    let e = t.elapsed();
    b.join().unwrap();
    e
}

/// `jobs` trivial jobs through `Pool::imap` on a pool of 100.
pub fn pool_imap(jobs: u64) -> u64 {
    let pool = Pool::new(NonZeroUsize::new(100).unwrap());
    pool.imap(|x: u64| x + 1, 0..jobs).sum()
}

/// The same by hand: a `Semaphore(100)` bounds the running jobs, results come from the
/// handles, in order.
pub fn semaphore_pool(jobs: u64) -> u64 {
    let sem = Arc::new(Semaphore::new(100));
    let mut handles = std::collections::VecDeque::new();
    let mut sum = 0;
    for x in 0..jobs {
        sem.acquire();
        let s = Arc::clone(&sem);
        handles.push_back(greenthread::spawn(move || {
            let r = x + 1;
            s.release().unwrap();
            r
        }));
        if handles.len() >= 100 {
            sum += handles.pop_front().unwrap().join().unwrap();
        }
    }
    for h in handles {
        sum += h.join().unwrap();
    }
    sum
}
