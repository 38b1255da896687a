//! The Python API map is complete and every Rust item it names exists.
//!
//! `refer!` takes each item as a path (so a missing or renamed item fails to compile) and
//! records the spelling `IMPLEMENTS` uses; the test then checks that every mapping names a
//! recorded item, that every Python name of the four seed documents is mapped, and (where
//! `shared/seeds/` is beside the checkout) that every qualified name in the seeds is mapped.

use std::collections::BTreeSet;
use std::path::Path;

use greenthread::facade::IMPLEMENTS;

/// Records `$name` after making the compiler resolve `$item`.
macro_rules! refer {
    ($set:ident, fn $name:literal => $item:expr) => {{
        let _ = $item;
        $set.insert($name);
    }};
    ($set:ident, type $name:literal => $ty:ty) => {{
        let _: Option<$ty> = None;
        $set.insert($name);
    }};
}

fn rust_items() -> BTreeSet<&'static str> {
    use greenthread::sync::{BoundedSemaphore, DummySemaphore, Lock, RLock, Semaphore};
    let mut s = BTreeSet::new();
    // greenthread::thread (_thread, thread, gevent.thread)
    refer!(s, type "greenthread::thread::error" => greenthread::thread::error);
    refer!(s, type "greenthread::thread::LockType" => greenthread::thread::LockType);
    refer!(s, fn "greenthread::thread::start_new_thread" => greenthread::thread::start_new_thread::<fn()>);
    #[allow(deprecated)]
    {
        refer!(s, fn "greenthread::thread::start_new" => greenthread::thread::start_new::<fn()>);
        refer!(s, fn "greenthread::thread::allocate" => greenthread::thread::allocate);
        refer!(s, fn "greenthread::thread::exit_thread" => greenthread::thread::exit_thread);
    }
    refer!(s, fn "greenthread::thread::interrupt_main" => greenthread::thread::interrupt_main);
    refer!(s, fn "greenthread::thread::exit" => greenthread::thread::exit);
    refer!(s, fn "greenthread::thread::allocate_lock" => greenthread::thread::allocate_lock);
    refer!(s, fn "greenthread::thread::get_ident" => greenthread::thread::get_ident);
    refer!(s, fn "greenthread::thread::get_native_id" => greenthread::thread::get_native_id);
    refer!(s, fn "greenthread::thread::stack_size" => greenthread::thread::stack_size);
    refer!(s, fn "greenthread::thread::TIMEOUT_MAX" => greenthread::thread::TIMEOUT_MAX);
    // eventlet.greenthread
    refer!(s, type "greenthread::GreenThread" => greenthread::GreenThread<()>);
    refer!(s, fn "greenthread::GreenThread::cancel" => greenthread::GreenThread::<()>::cancel);
    refer!(s, fn "greenthread::GreenThread::kill" => greenthread::GreenThread::<()>::kill);
    refer!(s, fn "greenthread::GreenThread::link" => greenthread::GreenThread::<()>::link::<fn(&greenthread::GreenThread<()>)>);
    refer!(s, fn "greenthread::GreenThread::unlink" => greenthread::GreenThread::<()>::unlink);
    refer!(s, fn "greenthread::GreenThread::wait" => greenthread::GreenThread::<()>::wait);
    refer!(s, fn "greenthread::getcurrent" => greenthread::getcurrent);
    refer!(s, fn "greenthread::kill" => greenthread::kill::<()>);
    refer!(s, fn "greenthread::sleep" => greenthread::sleep);
    refer!(s, fn "greenthread::spawn" => greenthread::spawn::<fn(), ()>);
    refer!(s, fn "greenthread::spawn_after" => greenthread::spawn_after::<fn(), ()>);
    refer!(s, fn "greenthread::spawn_after_local" => greenthread::spawn_after_local::<fn(), ()>);
    refer!(s, fn "greenthread::spawn_n" => greenthread::spawn_n::<fn()>);
    // gevent.socket, gevent.threadpool
    #[cfg(unix)]
    refer!(s, fn "greenthread::net::wait_readable" => greenthread::net::wait_readable::<std::fs::File>);
    #[cfg(unix)]
    refer!(s, fn "greenthread::net::wait_writable" => greenthread::net::wait_writable::<std::fs::File>);
    #[cfg(windows)]
    refer!(s, fn "greenthread::net::wait_readable" => greenthread::net::wait_readable::<std::net::UdpSocket>);
    #[cfg(windows)]
    refer!(s, fn "greenthread::net::wait_writable" => greenthread::net::wait_writable::<std::net::UdpSocket>);
    refer!(s, fn "greenthread::net::TcpStream::connect" => greenthread::net::TcpStream::connect::<std::net::SocketAddr>);
    refer!(s, fn "greenthread::net::lookup_host" => greenthread::net::lookup_host::<&str>);
    refer!(s, fn "greenthread::spawn_blocking" => greenthread::spawn_blocking::<fn(), ()>);
    // gevent.lock and the lock objects
    refer!(s, fn "greenthread::sync::Lock::acquire_with" => <Lock>::acquire_with);
    refer!(s, fn "greenthread::sync::Lock::release" => <Lock>::release);
    refer!(s, fn "greenthread::sync::Lock::locked" => <Lock>::locked);
    refer!(s, type "greenthread::sync::Semaphore" => Semaphore);
    refer!(s, fn "greenthread::sync::Semaphore::acquire_with" => <Semaphore>::acquire_with);
    refer!(s, fn "greenthread::sync::Semaphore::locked" => <Semaphore>::locked);
    refer!(s, fn "greenthread::sync::Semaphore::rawlink" => <Semaphore>::rawlink::<fn(&Semaphore)>);
    refer!(s, fn "greenthread::sync::Semaphore::ready" => <Semaphore>::ready);
    refer!(s, fn "greenthread::sync::Semaphore::release" => <Semaphore>::release);
    refer!(s, fn "greenthread::sync::Semaphore::unlink" => <Semaphore>::unlink);
    refer!(s, fn "greenthread::sync::Semaphore::wait" => <Semaphore>::wait);
    refer!(s, type "greenthread::sync::BoundedSemaphore" => BoundedSemaphore);
    refer!(s, fn "greenthread::sync::BoundedSemaphore::acquire_with" => <BoundedSemaphore>::acquire_with);
    refer!(s, fn "greenthread::sync::BoundedSemaphore::locked" => <BoundedSemaphore>::locked);
    refer!(s, fn "greenthread::sync::BoundedSemaphore::rawlink" => <BoundedSemaphore>::rawlink::<fn(&BoundedSemaphore)>);
    refer!(s, fn "greenthread::sync::BoundedSemaphore::ready" => <BoundedSemaphore>::ready);
    refer!(s, fn "greenthread::sync::BoundedSemaphore::release" => <BoundedSemaphore>::release);
    refer!(s, fn "greenthread::sync::BoundedSemaphore::unlink" => <BoundedSemaphore>::unlink);
    refer!(s, fn "greenthread::sync::BoundedSemaphore::wait" => <BoundedSemaphore>::wait);
    refer!(s, type "greenthread::sync::DummySemaphore" => DummySemaphore);
    refer!(s, fn "greenthread::sync::DummySemaphore::acquire_with" => DummySemaphore::acquire_with);
    refer!(s, fn "greenthread::sync::DummySemaphore::locked" => DummySemaphore::locked);
    refer!(s, fn "greenthread::sync::DummySemaphore::ready" => DummySemaphore::ready);
    refer!(s, fn "greenthread::sync::DummySemaphore::release" => DummySemaphore::release);
    refer!(s, fn "greenthread::sync::DummySemaphore::wait" => DummySemaphore::wait);
    refer!(s, type "greenthread::sync::RLock" => RLock);
    refer!(s, fn "greenthread::sync::RLock::acquire_with" => <RLock>::acquire_with);
    refer!(s, fn "greenthread::sync::RLock::release" => <RLock>::release);
    // communication (issue 15)
    refer!(s, type "greenthread::sync::Event" => greenthread::sync::Event);
    refer!(s, fn "greenthread::sync::Event::set" => greenthread::sync::Event::set);
    refer!(s, fn "greenthread::sync::Event::clear" => greenthread::sync::Event::clear);
    refer!(s, fn "greenthread::sync::Event::is_set" => greenthread::sync::Event::is_set);
    refer!(s, fn "greenthread::sync::Event::wait_timeout" => greenthread::sync::Event::wait_timeout);
    refer!(s, fn "greenthread::sync::Event::rawlink" => |e: &greenthread::sync::Event| e.rawlink(|| ()));
    refer!(s, fn "greenthread::sync::Event::unlink" => greenthread::sync::Event::unlink);
    refer!(s, type "greenthread::sync::AsyncResult" => greenthread::sync::AsyncResult<u8>);
    refer!(s, fn "greenthread::sync::AsyncResult::set" => greenthread::sync::AsyncResult::<u8>::set);
    refer!(s, fn "greenthread::facade::gevent::AsyncResultExt::set_exception" => <greenthread::sync::AsyncResult<u8> as greenthread::facade::gevent::AsyncResultExt<u8, String>>::set_exception);
    refer!(s, fn "greenthread::sync::AsyncResult::get_timeout" => greenthread::sync::AsyncResult::<u8>::get_timeout);
    refer!(s, fn "greenthread::facade::gevent::AsyncResultExt::get_nowait" => <greenthread::sync::AsyncResult<u8> as greenthread::facade::gevent::AsyncResultExt<u8, String>>::get_nowait);
    refer!(s, fn "greenthread::sync::AsyncResult::ready" => greenthread::sync::AsyncResult::<u8>::ready);
    refer!(s, fn "greenthread::sync::AsyncResult::successful" => greenthread::sync::AsyncResult::<u8>::successful);
    refer!(s, fn "greenthread::sync::AsyncResult::wait_timeout" => greenthread::sync::AsyncResult::<u8>::wait_timeout);
    refer!(s, fn "greenthread::sync::AsyncResult::value" => greenthread::sync::AsyncResult::<u8>::value);
    refer!(s, fn "greenthread::facade::gevent::AsyncResultExt::exception" => <greenthread::sync::AsyncResult<u8> as greenthread::facade::gevent::AsyncResultExt<u8, String>>::exception);
    refer!(s, fn "greenthread::sync::AsyncResult::rawlink" => |r: &greenthread::sync::AsyncResult<u8>| r.rawlink(|| ()));
    refer!(s, type "greenthread::queue::Queue" => greenthread::queue::Queue<u8>);
    refer!(s, fn "greenthread::queue::Queue::put_timeout" => greenthread::queue::Queue::<u8>::put_timeout);
    refer!(s, fn "greenthread::queue::Queue::get_timeout" => greenthread::queue::Queue::<u8>::get_timeout);
    refer!(s, fn "greenthread::facade::gevent::QueueExt::put_nowait" => <greenthread::queue::Queue<u8> as greenthread::facade::gevent::QueueExt<u8>>::put_nowait);
    refer!(s, fn "greenthread::facade::gevent::QueueExt::get_nowait" => <greenthread::queue::Queue<u8> as greenthread::facade::gevent::QueueExt<u8>>::get_nowait);
    refer!(s, fn "greenthread::queue::Queue::peek" => greenthread::queue::Queue::<u8>::peek);
    refer!(s, fn "greenthread::facade::gevent::QueueExt::peek_nowait" => <greenthread::queue::Queue<u8> as greenthread::facade::gevent::QueueExt<u8>>::peek_nowait);
    refer!(s, fn "greenthread::facade::gevent::QueueExt::qsize" => <greenthread::queue::Queue<u8> as greenthread::facade::gevent::QueueExt<u8>>::qsize);
    refer!(s, fn "greenthread::facade::gevent::QueueExt::empty" => <greenthread::queue::Queue<u8> as greenthread::facade::gevent::QueueExt<u8>>::empty);
    refer!(s, fn "greenthread::facade::gevent::QueueExt::full" => <greenthread::queue::Queue<u8> as greenthread::facade::gevent::QueueExt<u8>>::full);
    refer!(s, fn "greenthread::queue::Queue::maxsize" => greenthread::queue::Queue::<u8>::maxsize);
    refer!(s, fn "greenthread::queue::Queue::iter" => greenthread::queue::Queue::<u8>::iter);
    refer!(s, type "greenthread::queue::JoinableQueue" => greenthread::queue::JoinableQueue<u8>);
    refer!(s, fn "greenthread::queue::Queue::task_done" => greenthread::queue::Queue::<u8>::task_done);
    refer!(s, fn "greenthread::queue::Queue::join_timeout" => greenthread::queue::Queue::<u8>::join_timeout);
    refer!(s, type "greenthread::queue::LifoQueue" => greenthread::queue::LifoQueue<u8>);
    refer!(s, type "greenthread::queue::PriorityQueue" => greenthread::queue::PriorityQueue<u8>);
    refer!(s, fn "greenthread::facade::gevent::channel" => greenthread::facade::gevent::channel::<u8>);
    refer!(s, type "greenthread::queue::Full" => greenthread::queue::Full<u8>);
    refer!(s, type "greenthread::queue::Empty" => greenthread::queue::Empty);
    refer!(s, type "greenthread::pool::Pool" => greenthread::pool::Pool);
    refer!(s, fn "greenthread::pool::Pool::spawn" => greenthread::pool::Pool::spawn::<fn(), ()>);
    refer!(s, fn "greenthread::pool::Pool::map" => greenthread::pool::Pool::map::<Vec<u8>, fn(u8) -> u8, u8>);
    refer!(s, fn "greenthread::pool::Pool::imap" => greenthread::pool::Pool::imap::<Vec<u8>, fn(u8) -> u8, u8>);
    refer!(s, fn "greenthread::pool::Pool::imap_unordered" => greenthread::pool::Pool::imap_unordered::<Vec<u8>, fn(u8) -> u8, u8>);
    refer!(s, fn "greenthread::pool::Pool::join" => greenthread::pool::Pool::join);
    refer!(s, fn "greenthread::pool::Pool::kill_all" => greenthread::pool::Pool::kill_all);
    refer!(s, fn "greenthread::facade::gevent::PoolExt::free_count" => <greenthread::pool::Pool as greenthread::facade::gevent::PoolExt>::free_count);
    refer!(s, fn "greenthread::facade::gevent::PoolExt::full" => <greenthread::pool::Pool as greenthread::facade::gevent::PoolExt>::full);
    refer!(s, fn "greenthread::pool::Pool::wait_available" => greenthread::pool::Pool::wait_available);
    refer!(s, fn "greenthread::facade::gevent::group" => greenthread::facade::gevent::group);
    refer!(s, fn "greenthread::select::wait" => greenthread::select::wait);
    refer!(s, fn "greenthread::select::iwait" => greenthread::select::iwait);
    refer!(s, fn "greenthread::pool::join_all" => greenthread::pool::join_all);
    refer!(s, fn "greenthread::pool::kill_all" => greenthread::pool::kill_all);
    refer!(s, fn "greenthread::pool::join_timeout" => greenthread::pool::join_timeout::<()>);
    refer!(s, type "greenthread::timeout::Timeout" => greenthread::timeout::Timeout);
    refer!(s, fn "greenthread::timeout::Timeout::start" => greenthread::timeout::Timeout::start);
    refer!(s, fn "greenthread::timeout::Timeout::cancel" => greenthread::timeout::Timeout::cancel);
    refer!(s, fn "greenthread::timeout::with_timeout" => greenthread::timeout::with_timeout::<(), fn()>);
    refer!(s, type "greenthread::facade::eventlet::GreenPool" => greenthread::facade::eventlet::GreenPool);
    refer!(s, fn "greenthread::pool::Pool::spawn_n" => greenthread::pool::Pool::spawn_n::<fn()>);
    refer!(s, fn "greenthread::facade::gevent::PoolExt::waitall" => <greenthread::pool::Pool as greenthread::facade::gevent::PoolExt>::waitall);
    refer!(s, fn "greenthread::pool::Pool::try_resize" => greenthread::pool::Pool::try_resize);
    refer!(s, fn "greenthread::pool::Pool::running" => greenthread::pool::Pool::running);
    refer!(s, fn "greenthread::pool::Pool::free" => greenthread::pool::Pool::free);
    refer!(s, fn "greenthread::pool::Pool::waiting" => greenthread::pool::Pool::waiting);
    refer!(s, type "greenthread::facade::eventlet::Queue" => greenthread::facade::eventlet::Queue<u8>);
    refer!(s, type "greenthread::facade::eventlet::LightQueue" => greenthread::facade::eventlet::LightQueue<u8>);
    refer!(s, fn "greenthread::queue::Queue::resize" => greenthread::queue::Queue::<u8>::resize);
    refer!(s, type "greenthread::facade::eventlet::Event" => greenthread::facade::eventlet::Event);
    refer!(s, type "greenthread::facade::eventlet::Timeout" => greenthread::facade::eventlet::Timeout);
    refer!(s, fn "greenthread::facade::eventlet::with_timeout" => greenthread::facade::eventlet::with_timeout::<(), fn()>);
    s
}

/// Every name of the four seed documents (CPython `_thread` 3.x and `thread` 2.x,
/// `gevent.thread`, `eventlet.greenthread`, `gevent.lock`), as `IMPLEMENTS` spells them.
const SEED_NAMES: &[&str] = &[
    "_thread.error",
    "_thread.LockType",
    "_thread.start_new_thread",
    "_thread.interrupt_main",
    "_thread.exit",
    "_thread.allocate_lock",
    "_thread.get_ident",
    "_thread.get_native_id",
    "_thread.stack_size",
    "_thread.TIMEOUT_MAX",
    "_thread.lock.acquire",
    "_thread.lock.release",
    "_thread.lock.locked",
    "thread.error",
    "thread.LockType",
    "thread.start_new_thread",
    "thread.exit",
    "thread.exit_thread",
    "thread.allocate_lock",
    "thread.get_ident",
    "thread.lock.acquire",
    "thread.lock.release",
    "thread.lock.locked",
    "gevent.thread.error",
    "gevent.thread.LockType",
    "gevent.thread.LockType.acquire",
    "gevent.thread.allocate_lock",
    "gevent.thread.allocate",
    "gevent.thread.exit",
    "gevent.thread.exit_thread",
    "gevent.thread.get_native_id",
    "gevent.thread.interrupt_main",
    "gevent.thread.start_new_thread",
    "gevent.thread.start_new",
    "eventlet.greenthread.GreenThread",
    "eventlet.greenthread.GreenThread.cancel",
    "eventlet.greenthread.GreenThread.kill",
    "eventlet.greenthread.GreenThread.link",
    "eventlet.greenthread.GreenThread.unlink",
    "eventlet.greenthread.GreenThread.wait",
    "eventlet.greenthread.getcurrent",
    "eventlet.greenthread.kill",
    "eventlet.greenthread.sleep",
    "eventlet.greenthread.spawn",
    "eventlet.greenthread.spawn_after",
    "eventlet.greenthread.spawn_after_local",
    "eventlet.greenthread.spawn_n",
    "gevent.lock.Semaphore",
    "gevent.lock.Semaphore.acquire",
    "gevent.lock.Semaphore.locked",
    "gevent.lock.Semaphore.rawlink",
    "gevent.lock.Semaphore.ready",
    "gevent.lock.Semaphore.release",
    "gevent.lock.Semaphore.unlink",
    "gevent.lock.Semaphore.wait",
    "gevent.lock.BoundedSemaphore",
    "gevent.lock.BoundedSemaphore.acquire",
    "gevent.lock.BoundedSemaphore.locked",
    "gevent.lock.BoundedSemaphore.rawlink",
    "gevent.lock.BoundedSemaphore.ready",
    "gevent.lock.BoundedSemaphore.release",
    "gevent.lock.BoundedSemaphore.unlink",
    "gevent.lock.BoundedSemaphore.wait",
    "gevent.lock.DummySemaphore",
    "gevent.lock.DummySemaphore.acquire",
    "gevent.lock.DummySemaphore.locked",
    "gevent.lock.DummySemaphore.ready",
    "gevent.lock.DummySemaphore.release",
    "gevent.lock.DummySemaphore.wait",
    "gevent.lock.RLock",
    "gevent.lock.RLock.acquire",
    "gevent.lock.RLock.release",
];

#[test]
fn every_mapping_names_an_existing_rust_item() {
    let items = rust_items();
    for m in IMPLEMENTS {
        assert!(
            items.contains(m.rust),
            "{} maps to {}, which the test does not refer to",
            m.python,
            m.rust
        );
    }
    let mapped: BTreeSet<&str> = IMPLEMENTS.iter().map(|m| m.rust).collect();
    for item in &items {
        assert!(
            mapped.contains(item),
            "{item} is referred to but not in IMPLEMENTS"
        );
    }
}

#[test]
fn every_seed_name_is_mapped_once() {
    let mapped: Vec<&str> = IMPLEMENTS.iter().map(|m| m.python).collect();
    for name in SEED_NAMES {
        assert!(mapped.contains(name), "{name} is not in IMPLEMENTS");
    }
    let unique: BTreeSet<&str> = mapped.iter().copied().collect();
    assert_eq!(unique.len(), mapped.len(), "a Python name is mapped twice");
}

#[test]
fn qualified_names_in_the_seed_documents_are_mapped() {
    // CI clones the project with shared/ beside it; elsewhere the seeds may be absent.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: {} not found", dir.display());
        return;
    };
    let mapped: BTreeSet<&str> = IMPLEMENTS.iter().map(|m| m.python).collect();
    let mut checked = 0;
    for e in entries.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        for prefix in ["_thread.", "eventlet.greenthread."] {
            for (i, _) in text.match_indices(prefix) {
                // Skip matches inside a longer name (e.g. "gevent._thread").
                if i > 0
                    && text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.')
                {
                    continue;
                }
                let rest = &text[i + prefix.len()..];
                let ident: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if ident.is_empty() {
                    continue;
                }
                let name = format!("{prefix}{ident}");
                assert!(
                    mapped.contains(name.as_str()),
                    "{name} (in {}) is not mapped",
                    e.path().display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "found only {checked} names in the seeds");
}

const SECTIONS: &[(&str, &str)] = &[
    ("`_thread` (Python 3)", "_thread."),
    ("`thread` (Python 2.x)", "thread."),
    ("`gevent.thread`", "gevent.thread."),
    ("`eventlet.greenthread`", "eventlet.greenthread."),
    ("`gevent.lock`", "gevent.lock."),
    ("`gevent.event`", "gevent.event."),
    ("`gevent.queue`", "gevent.queue."),
    ("`gevent.pool`", "gevent.pool."),
    ("`gevent.timeout`", "gevent.timeout."),
    (
        "`gevent.hub` / `gevent.greenlet` (waiting on several)",
        "gevent.hub.",
    ),
    ("`gevent.greenlet`", "gevent.greenlet."),
    ("`eventlet.greenpool`", "eventlet.greenpool."),
    ("`eventlet.queue`", "eventlet.queue."),
    ("`eventlet.event`", "eventlet.event."),
    ("`eventlet.timeout`", "eventlet.timeout."),
    ("`gevent.socket`", "gevent.socket."),
    ("`gevent.threadpool`", "gevent.threadpool."),
];

/// The tables of `docs/PYTHON_API.md`, generated from `IMPLEMENTS`.
fn tables() -> String {
    let mut out = String::new();
    for (title, prefix) in SECTIONS {
        out.push_str(&format!(
            "## {title}\n\n| Python | Rust | differences |\n|---|---|---|\n"
        ));
        for m in IMPLEMENTS.iter().filter(|m| m.python.starts_with(prefix)) {
            out.push_str(&format!(
                "| `{}` | `{}` | {} |\n",
                m.python,
                m.rust,
                m.differences.replace('|', "/")
            ));
        }
        out.push('\n');
    }
    out
}

#[test]
fn docs_python_api_md_has_the_current_tables() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/PYTHON_API.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    assert!(
        doc.contains(&tables()),
        "docs/PYTHON_API.md is out of date: regenerate with\n  cargo test --test facade_manifest -- --ignored --nocapture write_python_api_tables"
    );
}

/// Rewrites the tables between the markers of `docs/PYTHON_API.md`.
#[test]
#[ignore = "writes docs/PYTHON_API.md"]
fn write_python_api_tables() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/PYTHON_API.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- python-api:start -->\n", "<!-- python-api:end -->");
    let a = doc.find(start).expect("start marker") + start.len();
    let b = doc.find(end).expect("end marker");
    let new = format!("{}{}{}", &doc[..a], tables(), &doc[b..]);
    std::fs::write(&path, new).unwrap();
}
