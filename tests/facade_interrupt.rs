//! `_thread.interrupt_main` with CPython's semantics. Runs without the test harness so the
//! checks execute on the process's real main thread (the "main green thread of the main
//! hub"), which the harness does not give its tests.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenthread::thread::{self, InterruptHandler, KeyboardInterrupt, SIGINT};

static HANDLED: AtomicUsize = AtomicUsize::new(0);
static HANDLER_IDENT: AtomicU64 = AtomicU64::new(0);

fn on_signal(signum: i32) {
    assert_eq!(signum, 10);
    HANDLED.fetch_add(1, Ordering::SeqCst);
    HANDLER_IDENT.store(thread::get_ident(), Ordering::SeqCst);
}

fn check(name: &str, f: impl FnOnce()) {
    f();
    println!("test {name} ... ok");
}

fn main() {
    let main_ident = thread::get_ident();
    let mut passed = 0;

    check(
        "sigint_from_a_green_thread_interrupts_main_once_and_the_caller_carries_on",
        || {
            let caller_finished = std::rc::Rc::new(std::cell::Cell::new(false));
            let c = caller_finished.clone();
            thread::start_new_thread(move || {
                thread::interrupt_main(SIGINT);
                greenthread::yield_now();
                c.set(true); // the caller is not interrupted
            })
            .unwrap();
            // Main blocks in a long sleep; the interrupt ends it at once.
            let t = Instant::now();
            let r = catch_unwind(AssertUnwindSafe(|| {
                greenthread::sleep(Duration::from_secs(3600))
            }));
            let payload = r.expect_err("main was not interrupted");
            assert_eq!(
                payload.downcast_ref::<KeyboardInterrupt>(),
                Some(&KeyboardInterrupt { signum: SIGINT })
            );
            // Far below the hour it slept for; generous for qemu on a loaded machine.
            assert!(t.elapsed() < Duration::from_secs(120));
            // Exactly once: the next switch points are quiet.
            greenthread::sleep(Duration::from_millis(5));
            greenthread::yield_now();
            assert!(
                caller_finished.get(),
                "the caller of interrupt_main did not carry on"
            );
        },
    );
    passed += 1;

    check("sigint_from_another_os_thread_interrupts_main", || {
        let os = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            thread::interrupt_main(SIGINT);
        });
        let r = catch_unwind(AssertUnwindSafe(|| {
            greenthread::sleep(Duration::from_secs(30))
        }));
        assert!(r.unwrap_err().is::<KeyboardInterrupt>());
        os.join().unwrap();
    });
    passed += 1;

    check("a_handler_runs_on_main_and_main_carries_on", || {
        thread::set_interrupt_handler(10, InterruptHandler::Call(on_signal));
        thread::start_new_thread(|| thread::interrupt_main(10)).unwrap();
        let t = Instant::now();
        greenthread::sleep(Duration::from_millis(50)); // interrupted, handled, sleep goes on
        assert!(
            t.elapsed() >= Duration::from_millis(50),
            "the sleep was cut short"
        );
        assert_eq!(HANDLED.load(Ordering::SeqCst), 1);
        assert_eq!(
            HANDLER_IDENT.load(Ordering::SeqCst),
            main_ident,
            "handler did not run on main"
        );
    });
    passed += 1;

    check("ignored_and_unhandled_signals_do_nothing", || {
        thread::set_interrupt_handler(SIGINT, InterruptHandler::Ignore);
        thread::interrupt_main(SIGINT);
        thread::interrupt_main(12); // default handler, not SIGINT: nothing (SIG_DFL)
        greenthread::sleep(Duration::from_millis(5));
        greenthread::yield_now();
        thread::set_interrupt_handler(SIGINT, InterruptHandler::Default);
        assert_eq!(HANDLED.load(Ordering::SeqCst), 1);
    });
    passed += 1;

    println!("\ntest result: ok. {passed} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
}
