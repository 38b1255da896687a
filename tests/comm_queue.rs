//! Queue, LifoQueue, PriorityQueue, JoinableQueue, rendezvous channel: blocking, FIFO
//! hand-off, timeouts, kill while blocked (nothing lost or duplicated), cross-OS-thread,
//! deadlock reports (local), bad input.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenthread::queue::{
    Empty, Full, JoinableQueue, LifoQueue, PriorityQueue, Queue, QueueError, TaskDoneError,
};
use greenthread::sched::ParkError;
use greenthread::sync::Local;

static_assertions::assert_impl_all!(Queue<u8>: Send, Sync);
static_assertions::assert_impl_all!(PriorityQueue<u8>: Send, Sync);
static_assertions::assert_not_impl_any!(Queue<Rc<u8>>: Send, Sync);
static_assertions::assert_not_impl_any!(Local<Queue<u8>>: Send, Sync);
static_assertions::assert_impl_all!(Full<u8>: Send, Sync, std::error::Error);
static_assertions::assert_impl_all!(Empty: Send, Sync, std::error::Error);
static_assertions::assert_impl_all!(TaskDoneError: Send, Sync, std::error::Error);
static_assertions::assert_impl_all!(QueueError<u8>: Send, Sync, std::error::Error);

#[test]
fn fifo_lifo_priority_orders() {
    let q = Queue::new();
    let l = LifoQueue::new();
    let p = PriorityQueue::new();
    for i in [3, 1, 2] {
        q.put(i);
        l.put(i);
        p.put(i);
    }
    assert_eq!(q.try_iter().collect::<Vec<_>>(), [3, 1, 2]);
    assert_eq!(l.try_iter().collect::<Vec<_>>(), [2, 1, 3]);
    assert_eq!(p.try_iter().collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn bad_input_errors() {
    let q = Queue::bounded(1);
    q.try_put(1).unwrap();
    assert_eq!(q.try_put(2), Err(Full(2)));
    assert!(q.is_full());
    assert_eq!(q.put_timeout(3, Duration::ZERO), Err(Full(3)));
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Err(Empty));
    assert_eq!(q.get_timeout(Duration::ZERO), Err(Empty));
    // task_done: one put, so one task_done; the second is an error, nothing changes.
    assert_eq!(q.unfinished_tasks(), 1);
    q.task_done().unwrap();
    assert_eq!(q.task_done(), Err(TaskDoneError));
    assert_eq!(q.unfinished_tasks(), 0);
    assert_eq!(
        TaskDoneError.to_string(),
        "task_done() called too many times"
    );
    assert_eq!(Full(1u8).to_string(), "the queue is full");
    assert_eq!(Empty.to_string(), "the queue is empty");
    // A rendezvous queue is always full, never holds an item.
    let ch = Queue::<u8>::channel();
    assert!(ch.is_full() && ch.is_empty());
    assert_eq!(ch.try_put(1), Err(Full(1)));
}

#[test]
fn blocked_getters_are_served_in_order_with_hand_off() {
    let q = Rc::new(Queue::new());
    let got = Rc::new(RefCell::new(Vec::new()));
    let getters: Vec<_> = (0..3)
        .map(|i| {
            let (q, got) = (Rc::clone(&q), Rc::clone(&got));
            greenthread::spawn(move || {
                let v = q.get();
                got.borrow_mut().push((i, v));
            })
        })
        .collect();
    greenthread::yield_now(); // all three wait
    q.put('a');
    q.put('b');
    // A newcomer cannot barge: both items are already handed over.
    assert_eq!(q.try_get(), Err(Empty));
    q.put('c');
    for g in getters {
        g.join().unwrap();
    }
    assert_eq!(*got.borrow(), [(0, 'a'), (1, 'b'), (2, 'c')]);
}

#[test]
fn blocked_putters_are_served_in_order() {
    let q = Rc::new(Queue::bounded(1));
    q.put(0);
    let putters: Vec<_> = (1..=3)
        .map(|i| {
            let q = Rc::clone(&q);
            greenthread::spawn(move || q.put(i))
        })
        .collect();
    greenthread::yield_now();
    assert_eq!(q.len(), 1);
    // A newcomer's try_put does not barge past the waiting putters.
    assert_eq!(q.try_put(99), Err(Full(99)));
    let got: Vec<i32> = (0..4).map(|_| q.get()).collect();
    assert_eq!(got, [0, 1, 2, 3]);
    for p in putters {
        p.join().unwrap();
    }
}

#[test]
fn rendezvous_put_blocks_until_taken() {
    let ch = Rc::new(Queue::channel());
    let log = Rc::new(RefCell::new(Vec::new()));
    let (c, l) = (Rc::clone(&ch), Rc::clone(&log));
    let putter = greenthread::spawn(move || {
        c.put(1);
        l.borrow_mut().push("put returned");
    });
    greenthread::yield_now();
    assert!(log.borrow().is_empty(), "put waits for a getter");
    assert_eq!(ch.peek(), Some(1), "the waiting putter's item");
    assert_eq!(ch.get(), 1);
    putter.join().unwrap();
    assert_eq!(*log.borrow(), ["put returned"]);
}

#[test]
fn put_timeout_gives_the_item_back() {
    let q = Queue::bounded(1);
    q.put(String::from("a"));
    let t = Instant::now();
    let Full(back) = q
        .put_timeout(String::from("b"), Duration::from_millis(10))
        .unwrap_err();
    assert!(t.elapsed() >= Duration::from_millis(10));
    assert_eq!(back, "b");
    assert_eq!(q.len(), 1);
}

#[test]
fn killed_getter_takes_nothing_and_next_getter_is_served() {
    let q = Rc::new(Queue::new());
    let qq = Rc::clone(&q);
    let victim = greenthread::spawn(move || {
        qq.get();
        unreachable!("killed first");
    });
    let qq = Rc::clone(&q);
    let next = greenthread::spawn(move || qq.get());
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    q.put(7);
    assert_eq!(next.join().unwrap(), 7);
    assert!(q.is_empty());
}

#[test]
fn killed_putter_item_is_not_queued() {
    let q = Rc::new(Queue::bounded(1));
    q.put(1);
    let qq = Rc::clone(&q);
    let victim = greenthread::spawn(move || qq.put(2));
    let qq = Rc::clone(&q);
    let next = greenthread::spawn(move || qq.put(3));
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    assert_eq!(q.get(), 1);
    next.join().unwrap();
    assert_eq!(q.try_iter().collect::<Vec<_>>(), [3]);
}

/// A getter whose park was won by a put, then killed before it ran: the item is its own
/// (`get` returns it); the kill lands at the next switch point. Nothing lost.
#[test]
fn kill_racing_a_hand_off_keeps_the_item() {
    let q = Rc::new(Queue::new());
    let got = Rc::new(RefCell::new(None));
    let (qq, g) = (Rc::clone(&q), Rc::clone(&got));
    let victim = greenthread::spawn(move || {
        *g.borrow_mut() = Some(qq.get());
        greenthread::yield_now();
        unreachable!();
    });
    greenthread::yield_now();
    q.put(5); // handed over; the victim has not run yet
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    assert_eq!(*got.borrow(), Some(5));
}

#[test]
fn join_waits_for_task_done() {
    let q = Rc::new(JoinableQueue::new());
    let done = Rc::new(RefCell::new(0));
    let (qq, d) = (Rc::clone(&q), Rc::clone(&done));
    let worker = greenthread::spawn(move || {
        loop {
            let n: u32 = qq.get();
            greenthread::yield_now();
            *d.borrow_mut() += n;
            qq.task_done().unwrap();
        }
    });
    for i in 1..=4 {
        q.put(i);
    }
    assert!(!q.join_timeout(Some(Duration::ZERO)).unwrap());
    q.join();
    assert_eq!(*done.borrow(), 10);
    worker.kill();
}

#[test]
fn resize_serves_waiting_putters() {
    let q = Rc::new(Queue::bounded(1));
    q.put(1);
    let qq = Rc::clone(&q);
    let putter = greenthread::spawn(move || qq.put(2));
    greenthread::yield_now();
    q.resize(Some(2));
    assert_eq!(q.len(), 2);
    putter.join().unwrap();
    q.resize(None);
    assert_eq!(q.maxsize(), None);
    q.resize(Some(0));
    assert!(q.is_full());
    assert_eq!(q.try_iter().collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn local_queue_deadlock_is_reported() {
    let q = Rc::new(Queue::<u8>::new_local());
    let qq = Rc::clone(&q);
    let other = greenthread::spawn(move || qq.get());
    greenthread::yield_now();
    let Err(QueueError::Hub(ParkError::Deadlock(report))) = q.get_with(None) else {
        panic!("a deadlock")
    };
    assert!(report.to_string().contains("Queue at 0x"), "{report}");
    let p = catch_unwind(AssertUnwindSafe(|| q.get())).unwrap_err();
    assert!(p.downcast_ref::<String>().unwrap().contains("Queue::get"));
    q.put(1);
    assert_eq!(other.join().unwrap(), 1);
    // A full local queue: the put is reported, the item comes back.
    let b = Queue::bounded_local(1);
    b.put(1);
    let Err(QueueError::HubPut(ParkError::Deadlock(_), back)) = b.put_with(2, None) else {
        panic!("a deadlock")
    };
    assert_eq!(back, 2);
}

#[test]
fn cross_os_thread_producer_and_consumer() {
    let q = Arc::new(Queue::bounded(4));
    let qq = Arc::clone(&q);
    let producer = std::thread::spawn(move || {
        let gs: Vec<_> = (0..2)
            .map(|k| {
                let qq = Arc::clone(&qq);
                greenthread::spawn(move || {
                    for i in 0..200 {
                        qq.put(k * 1000 + i);
                    }
                })
            })
            .collect();
        for g in gs {
            g.join().unwrap();
        }
    });
    let mut got: Vec<u32> = (0..400).map(|_| q.get()).collect();
    producer.join().unwrap();
    // Each producer's items arrive in its order.
    for k in 0..2 {
        let mine: Vec<u32> = got.iter().copied().filter(|v| v / 1000 == k).collect();
        assert_eq!(mine, (0..200).map(|i| k * 1000 + i).collect::<Vec<_>>());
    }
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), 400);
}

#[test]
fn dropping_a_queue_drops_its_items() {
    let item = Rc::new(());
    let q = Queue::new();
    q.put(Rc::clone(&item));
    q.put(Rc::clone(&item));
    assert_eq!(Rc::strong_count(&item), 3);
    drop(q);
    assert_eq!(Rc::strong_count(&item), 1);
}

/// Getters with tiny timeouts on one OS thread, putters with tiny timeouts on another:
/// hand-offs race timeouts (a put may serve a getter whose park is ending, and wake it too
/// late). Every item whose put succeeded is got exactly once; failed puts never arrive.
#[test]
fn timeouts_racing_cross_thread_hand_offs_lose_nothing() {
    const N: u64 = 20_000;
    let q = Arc::new(Queue::bounded(1));
    let qq = Arc::clone(&q);
    let producer = std::thread::spawn(move || {
        let mut sent = Vec::new();
        for i in 0..N {
            let r = if i % 3 == 0 {
                qq.try_put(i).map_err(|_| ())
            } else {
                qq.put_timeout(i, Duration::from_micros(i % 7))
                    .map_err(|_| ())
            };
            if r.is_ok() {
                sent.push(i);
            }
        }
        sent
    });
    let mut got = Vec::new();
    let mut misses = 0u32;
    loop {
        match q.get_timeout(Duration::from_micros(u64::from(misses % 5))) {
            Ok(v) => {
                got.push(v);
                misses = 0;
            }
            Err(Empty) => {
                misses += 1;
                if producer.is_finished() && q.is_empty() && misses > 100 {
                    break;
                }
            }
        }
    }
    let sent = producer.join().unwrap();
    got.extend(q.try_iter());
    assert_eq!(got, sent, "same items, each once, in order");
}
