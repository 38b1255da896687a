//! An echo server and N green-thread clients in one process, on one OS thread: every
//! socket call parks a green thread, the hub waits in the poller. Prints round trips/s.
//!
//! ```text
//! cargo run --release --example echo -- [clients=100] [seconds=2]
//! ```
//!
//! Loopback only; it stops by itself after the given time.

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenthread::net::{TcpListener, TcpStream};

fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let secs: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2.0);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    println!("echo server on {addr}, {clients} clients, {secs} s");

    // The server: one green thread per connection.
    greenthread::spawn_n(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            s.set_nodelay(true).unwrap();
            greenthread::spawn_n(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });

    let total = Rc::new(Cell::new(0u64));
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let total = Rc::clone(&total);
            greenthread::spawn(move || {
                let mut c = TcpStream::connect(addr).expect("connect");
                c.set_nodelay(true).unwrap();
                let msg = [42u8; 64];
                let mut back = [0u8; 64];
                while Instant::now() < end {
                    c.write_all(&msg).unwrap();
                    c.read_exact(&mut back).unwrap();
                    total.set(total.get() + 1);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client");
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{} round trips in {elapsed:.2} s: {:.0} round trips/s",
        total.get(),
        total.get() as f64 / elapsed
    );
}
