//! mpsc-shaped channels: disconnection, iterators, timeouts, kill while blocked,
//! cross-OS-thread use, deadlock reports (local flavour).

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

use greenthread::channel::{
    Receiver, Sender, SyncSender, channel, local_channel, local_sync_channel, sync_channel,
};
use greenthread::sched::ParkError;
use greenthread::sync::Local;

static_assertions::assert_impl_all!(Sender<u8>: Send, Sync, Clone);
static_assertions::assert_impl_all!(SyncSender<u8>: Send, Sync, Clone);
static_assertions::assert_impl_all!(Receiver<u8>: Send);
static_assertions::assert_not_impl_any!(Receiver<u8>: Sync);
static_assertions::assert_not_impl_any!(Sender<Rc<u8>>: Send, Sync);
static_assertions::assert_not_impl_any!(Local<Sender<u8>>: Send, Sync);
static_assertions::assert_not_impl_any!(Local<Receiver<u8>>: Send, Sync);

#[test]
fn unbounded_send_recv_and_disconnect() {
    let (tx, rx) = channel();
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    tx2.send(2).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(1));
    drop(tx2);
    // Buffered messages still come out after the last sender is gone.
    assert_eq!(rx.recv(), Ok(2));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)),
        Err(RecvTimeoutError::Disconnected)
    );
}

#[test]
fn receiver_drop_disconnects_senders_and_drops_messages() {
    let item = Rc::new(());
    let (tx, rx) = channel();
    tx.send(Rc::clone(&item)).unwrap();
    drop(rx);
    assert_eq!(Rc::strong_count(&item), 1, "buffered message dropped");
    let SendError(back) = tx.send(Rc::clone(&item)).unwrap_err();
    assert!(Rc::ptr_eq(&back, &item));
}

#[test]
fn receiver_drop_wakes_blocked_sender_with_its_message() {
    let (tx, rx) = sync_channel(0);
    let sender = greenthread::spawn(move || tx.send(String::from("m")));
    greenthread::yield_now(); // the sender waits for a receiver
    drop(rx);
    assert_eq!(sender.join().unwrap(), Err(SendError(String::from("m"))));
}

#[test]
fn blocked_receiver_learns_of_disconnection() {
    let (tx, rx) = channel::<u8>();
    let r = greenthread::spawn(move || rx.recv());
    greenthread::yield_now();
    drop(tx);
    assert_eq!(r.join().unwrap(), Err(RecvError));
}

#[test]
fn sync_channel_bounds_and_try_send() {
    let (tx, rx) = sync_channel(1);
    tx.try_send(1).unwrap();
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    let t = Instant::now();
    assert_eq!(
        tx.send_timeout(3, Duration::from_millis(10)),
        Err(TrySendError::Full(3))
    );
    assert!(t.elapsed() >= Duration::from_millis(10));
    assert_eq!(rx.recv(), Ok(1));
    drop(rx);
    assert_eq!(tx.try_send(4), Err(TrySendError::Disconnected(4)));
}

#[test]
fn recv_timeout_waits_at_least_the_timeout() {
    let (_tx, rx) = channel::<u8>();
    let t = Instant::now();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(15)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(15));
}

#[test]
fn iterators() {
    let (tx, rx) = channel();
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2]);
    let producer = greenthread::spawn(move || {
        for i in 3..6 {
            tx.send(i).unwrap();
            greenthread::yield_now();
        }
    });
    assert_eq!((&rx).into_iter().collect::<Vec<_>>(), [3, 4, 5]);
    producer.join().unwrap();
    assert_eq!(rx.into_iter().count(), 0);
}

#[test]
fn kill_blocked_receiver_and_sender() {
    let (tx, rx) = sync_channel::<u32>(0);
    let rx = Rc::new(rx);
    let r = Rc::clone(&rx);
    let victim = greenthread::spawn(move || r.recv());
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    // The next send is not swallowed by the dead receiver.
    let t2 = tx.clone();
    let sender = greenthread::spawn(move || t2.send(9));
    greenthread::yield_now();
    assert_eq!(rx.recv(), Ok(9));
    sender.join().unwrap().unwrap();
    // A killed sender's message is never received.
    let t3 = tx.clone();
    let victim = greenthread::spawn(move || t3.send(1));
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn across_os_threads_every_message_once_in_order() {
    let (tx, rx) = sync_channel(8);
    let producers: Vec<_> = (0..3u32)
        .map(|k| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    tx.send((k, i)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let got: Vec<(u32, u32)> = rx.iter().collect();
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(got.len(), 900);
    for k in 0..3 {
        let mine: Vec<u32> = got.iter().filter(|m| m.0 == k).map(|m| m.1).collect();
        assert_eq!(mine, (0..300).collect::<Vec<_>>());
    }
}

#[test]
fn local_channel_deadlock_is_reported() {
    let (tx, rx) = local_channel::<u8>();
    assert!(matches!(
        rx.recv_with(None),
        Err(Some(ParkError::Deadlock(_)))
    ));
    let p = catch_unwind(AssertUnwindSafe(|| rx.recv())).unwrap_err();
    assert!(
        p.downcast_ref::<String>()
            .unwrap()
            .contains("Receiver::recv")
    );
    tx.send(1).unwrap();
    assert_eq!(rx.recv(), Ok(1));
    let (stx, _srx) = local_sync_channel::<u8>(0);
    let p = catch_unwind(AssertUnwindSafe(|| stx.send(1))).unwrap_err();
    assert!(p.downcast_ref::<String>().unwrap().contains("deadlock"));
}

#[test]
fn receivers_served_in_order_by_rendezvous() {
    // Two green threads share the receiver through an Rc; they are served in turn.
    let (tx, rx) = sync_channel(0);
    let rx = Rc::new(rx);
    let log = Rc::new(RefCell::new(Vec::new()));
    let gs: Vec<_> = (0..2)
        .map(|i| {
            let (rx, log) = (Rc::clone(&rx), Rc::clone(&log));
            greenthread::spawn(move || {
                let v = rx.recv().unwrap();
                log.borrow_mut().push((i, v));
            })
        })
        .collect();
    greenthread::yield_now();
    tx.try_send('a').unwrap();
    tx.try_send('b').unwrap();
    for g in gs {
        g.join().unwrap();
    }
    assert_eq!(*log.borrow(), [(0, 'a'), (1, 'b')]);
}
