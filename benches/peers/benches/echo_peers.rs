//! Loopback echo: greenthread vs tokio (current thread) vs may (1 worker) vs std
//! (thread per connection), each serving on its own OS thread, all loaded by the same
//! client: a tokio current-thread runtime on another OS thread, `CONNS` connections each
//! doing 64-byte request/response ping-pong for a fixed time.
//!
//! Reported per server: round trips/s, p50/p99 latency (client side), and the server's CPU
//! time per round trip = process CPU (`getrusage(RUSAGE_SELF)`) minus the client thread's
//! (`RUSAGE_THREAD`) over the run, divided by the round trips. On 2 cores the client and
//! the server each saturate one, so throughput alone cannot separate servers; CPU per round
//! trip can. Then connect + accept + close per second.
//!
//! ```text
//! cargo bench -p greenthread-peers --bench echo_peers            # 3 s per run
//! ECHO_SECS=5 ECHO_ROUNDS=3 cargo bench -p greenthread-peers --bench echo_peers
//! ```
//!
//! Loopback only; every run stops by itself.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNS: usize = 100;
const MSG: usize = 64;
/// The servers' read buffer: larger than a request, as a real server's would be, so a read
/// that returns a whole request is a short read (which lets readiness-tracking runtimes
/// skip the read that would fail with `EAGAIN`). The same for every server.
const BUF: usize = 4096;

/// CPU time (user + system) of the process or of the calling thread.
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: `ru` is a valid out-pointer; `who` is RUSAGE_SELF or RUSAGE_THREAD.
    let mut ru: libc::rusage = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::getrusage(who, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A server running on its own OS thread until `stop` is set and one more connection
/// arrives; returns when every connection it served has closed. It is handed a bound std
/// listener to learn a free port; the runtimes that have their own `bind` (backlog 1024)
/// drop it and bind the same address with their own call, std keeps it (backlog 128).
type Server = fn(std::net::TcpListener, Arc<AtomicBool>);

fn greenthread_server(l: std::net::TcpListener, stop: Arc<AtomicBool>) {
    let addr = l.local_addr().unwrap();
    drop(l);
    let l = greenthread::net::TcpListener::bind(addr).unwrap();
    let mut handles = Vec::new();
    loop {
        let (mut s, _) = l.accept().unwrap();
        if stop.load(Ordering::SeqCst) {
            break;
        }
        s.set_nodelay(true).unwrap();
        handles.push(greenthread::spawn(move || {
            let mut buf = [0u8; BUF];
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
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
}

fn tokio_server(l: std::net::TcpListener, stop: Arc<AtomicBool>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async move {
        let addr = l.local_addr().unwrap();
        drop(l);
        let l = tokio::net::TcpListener::bind(addr).await.unwrap();
        let mut tasks = Vec::new();
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            if stop.load(Ordering::SeqCst) {
                break;
            }
            s.set_nodelay(true).unwrap();
            tasks.push(tokio::spawn(async move {
                let mut buf = [0u8; BUF];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

fn may_server(l: std::net::TcpListener, stop: Arc<AtomicBool>) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        may::config().set_workers(1);
    });
    let addr = l.local_addr().unwrap();
    drop(l);
    // SAFETY: may's spawn is unsafe because coroutines must not block the worker with OS
    // primitives; this one only uses may's own sockets and joins may coroutines.
    let h = unsafe {
        may::coroutine::spawn(move || {
            let l = may::net::TcpListener::bind(addr).unwrap();
            let mut hs = Vec::new();
            loop {
                let (mut s, _) = l.accept().unwrap();
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                s.set_nodelay(true).unwrap();
                // SAFETY: as above.
                hs.push(may::coroutine::spawn(move || {
                    let mut buf = [0u8; BUF];
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
                }));
            }
            for h in hs {
                h.join().unwrap();
            }
        })
    };
    h.join().unwrap();
}

fn std_server(l: std::net::TcpListener, stop: Arc<AtomicBool>) {
    let mut ts = Vec::new();
    loop {
        let (mut s, _) = l.accept().unwrap();
        if stop.load(Ordering::SeqCst) {
            break;
        }
        s.set_nodelay(true).unwrap();
        ts.push(std::thread::spawn(move || {
            let mut buf = [0u8; BUF];
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
        }));
    }
    for t in ts {
        t.join().unwrap();
    }
}

/// What the client measured.
struct Load {
    ops: u64,
    latencies: Vec<u32>,
    client_cpu: Duration,
}

/// The client: a tokio current-thread runtime on this (new) OS thread.
fn client(addr: SocketAddr, dur: Duration, echo: bool) -> Load {
    std::thread::spawn(move || {
        let cpu0 = cpu(libc::RUSAGE_THREAD);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let (ops, latencies) = rt.block_on(async move {
            let end = Instant::now() + dur;
            let mut tasks = Vec::new();
            let n = if echo { CONNS } else { 10 };
            for _ in 0..n {
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut ops = 0u64;
                    if echo {
                        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        let msg = [7u8; MSG];
                        let mut buf = [0u8; MSG];
                        while Instant::now() < end {
                            let t = Instant::now();
                            s.write_all(&msg).await.unwrap();
                            s.read_exact(&mut buf).await.unwrap();
                            lat.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
                            ops += 1;
                        }
                    } else {
                        while Instant::now() < end {
                            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
                            drop(s);
                            ops += 1;
                        }
                    }
                    (ops, lat)
                }));
            }
            let mut all = Vec::new();
            let mut ops = 0;
            for t in tasks {
                let (o, l) = t.await.unwrap();
                ops += o;
                all.extend(l);
            }
            (ops, all)
        });
        Load {
            ops,
            latencies,
            client_cpu: cpu(libc::RUSAGE_THREAD) - cpu0,
        }
    })
    .join()
    .unwrap()
}

struct Row {
    name: &'static str,
    per_s: f64,
    p50: Duration,
    p99: Duration,
    server_cpu_per_op: Duration,
}

fn run(name: &'static str, server: Server, dur: Duration, echo: bool) -> Row {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let st = Arc::clone(&stop);
    let (tx, rx) = mpsc::channel();
    let srv = std::thread::spawn(move || {
        tx.send(()).unwrap();
        server(l, st);
    });
    rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50)); // the server reaches accept
    let cpu0 = cpu(libc::RUSAGE_SELF);
    let t0 = Instant::now();
    let mut load = client(addr, dur, echo);
    let wall = t0.elapsed();
    let process = cpu(libc::RUSAGE_SELF) - cpu0;
    stop.store(true, Ordering::SeqCst);
    drop(std::net::TcpStream::connect(addr).unwrap());
    srv.join().unwrap();
    load.latencies.sort_unstable();
    let pct = |p: f64| {
        load.latencies
            .get(((load.latencies.len() as f64 - 1.0) * p) as usize)
            .map_or(Duration::ZERO, |&n| Duration::from_nanos(n as u64))
    };
    Row {
        name,
        per_s: load.ops as f64 / wall.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        server_cpu_per_op: process.saturating_sub(load.client_cpu) / load.ops.max(1) as u32,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter may follow.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let secs: f64 = std::env::var("ECHO_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let rounds: usize = std::env::var("ECHO_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let dur = Duration::from_secs_f64(secs);
    let servers: [(&'static str, Server); 4] = [
        ("greenthread", greenthread_server),
        ("tokio current_thread", tokio_server),
        ("may (1 worker)", may_server),
        ("std thread per connection", std_server),
    ];
    for (echo, title) in [(true, "echo"), (false, "connect_accept_close")] {
        if filter.as_deref().is_some_and(|f| !title.contains(f)) {
            continue;
        }
        println!("\n## {title}: {secs} s per run, {rounds} round(s)\n");
        if echo {
            println!(
                "| server | round trips/s | p50 | p99 | server CPU per round trip | vs tokio |"
            );
            println!("|---|---|---|---|---|---|");
        } else {
            println!("| server | connections/s | server CPU per connection | vs tokio |");
            println!("|---|---|---|---|");
        }
        for round in 0..rounds {
            let rows: Vec<Row> = servers
                .iter()
                .map(|&(name, s)| run(name, s, dur, echo))
                .collect();
            let tokio_cpu = rows[1].server_cpu_per_op.as_secs_f64();
            for r in &rows {
                let ratio = r.server_cpu_per_op.as_secs_f64() / tokio_cpu;
                if echo {
                    println!(
                        "| {} (run {}) | {:.0} | {:.1?} | {:.1?} | {:.2?} | {ratio:.2}x |",
                        r.name,
                        round + 1,
                        r.per_s,
                        r.p50,
                        r.p99,
                        r.server_cpu_per_op
                    );
                } else {
                    println!(
                        "| {} (run {}) | {:.0} | {:.2?} | {ratio:.2}x |",
                        r.name,
                        round + 1,
                        r.per_s,
                        r.server_cpu_per_op
                    );
                }
            }
        }
    }
}
