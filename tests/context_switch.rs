//! The context switch through the public `Coroutine` API: values both ways, panics, forced
//! unwinding, deep recursion, stack alignment at entry, nesting. Register preservation is in
//! `context_registers`, backtraces in `context_backtrace`.

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use greenthread::{Coroutine, CoroutineResult, StackError, Yielder};

#[test]
fn million_round_trips_pass_values_both_ways() {
    const N: u64 = 1_000_000;
    let mut co = Coroutine::new(|y: &Yielder<u64, u64>, first: u64| {
        let mut expected = first;
        let mut count = 0u64;
        loop {
            // Send back a value derived from the input so each direction is checked.
            let next = y.suspend(expected.wrapping_mul(3) ^ 0x5a5a);
            count += 1;
            if next == u64::MAX {
                return count;
            }
            assert_eq!(next, expected + 1, "coroutine received a wrong value");
            expected = next;
        }
    })
    .unwrap();
    for i in 0..N {
        match co.resume(i) {
            CoroutineResult::Yield(v) => assert_eq!(v, i.wrapping_mul(3) ^ 0x5a5a),
            CoroutineResult::Return(_) => panic!("returned early at {i}"),
        }
    }
    assert_eq!(co.resume(u64::MAX), CoroutineResult::Return(N));
    assert!(co.is_finished());
}

#[test]
fn non_copy_values_cross_without_leaks_or_double_drops() {
    let drops = Rc::new(Cell::new(0));
    struct Counted(Rc<Cell<u32>>, String);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let d = drops.clone();
    let mut co = Coroutine::new(move |y: &Yielder<Counted, Counted>, first: Counted| {
        let mut got = first;
        for i in 0..10 {
            let out = Counted(d.clone(), format!("{}-{i}", got.1));
            got = y.suspend(out);
        }
        got.1.clone()
    })
    .unwrap();
    let mut last = String::new();
    for i in 0..11 {
        match co.resume(Counted(drops.clone(), format!("in{i}"))) {
            CoroutineResult::Yield(c) => {
                assert_eq!(c.1, format!("in{i}-{i}"));
                last = c.1.clone();
            }
            CoroutineResult::Return(s) => assert_eq!(s, "in10"),
        }
    }
    assert_eq!(last, "in9-9");
    // 11 inputs and 10 outputs, each dropped exactly once.
    assert_eq!(drops.get(), 21);
}

#[test]
fn panic_on_green_stack_reaches_the_resumer_and_destructors_run() {
    let dropped = Rc::new(Cell::new(false));
    struct SetOnDrop(Rc<Cell<bool>>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let d = dropped.clone();
    let mut co = Coroutine::new(move |y: &Yielder<(), ()>, ()| {
        let _guard = SetOnDrop(d);
        y.suspend(());
        panic!("boom on the green stack");
    })
    .unwrap();
    assert_eq!(co.resume(()), CoroutineResult::Yield(()));
    assert!(!dropped.get());
    let err = catch_unwind(AssertUnwindSafe(|| co.resume(()))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"boom on the green stack"));
    assert!(dropped.get(), "destructor on the green stack did not run");
    assert!(co.is_finished());
    // Resuming a finished coroutine is a documented panic, not UB.
    assert!(catch_unwind(AssertUnwindSafe(|| co.resume(()))).is_err());
}

#[test]
fn dropping_a_suspended_coroutine_unwinds_its_stack() {
    let log = Rc::new(RefCell::new(Vec::new()));
    struct Log(Rc<RefCell<Vec<&'static str>>>, &'static str);
    impl Drop for Log {
        fn drop(&mut self) {
            self.0.borrow_mut().push(self.1);
        }
    }
    let l = log.clone();
    let mut co = Coroutine::new(move |y: &Yielder<(), ()>, ()| {
        let _outer = Log(l.clone(), "outer");
        let _inner = Log(l.clone(), "inner");
        y.suspend(());
        l.borrow_mut().push("resumed normally");
    })
    .unwrap();
    co.resume(());
    drop(co);
    assert_eq!(*log.borrow(), ["inner", "outer"]);
}

#[test]
fn forced_unwind_survives_a_user_catch_unwind_that_swallows_it() {
    let suspended_again = Rc::new(Cell::new(0));
    let s = suspended_again.clone();
    let mut co = Coroutine::new(move |y: &Yielder<(), ()>, ()| {
        // Badly behaved code: swallows the unwind and suspends again.
        let _ = catch_unwind(AssertUnwindSafe(|| y.suspend(())));
        s.set(s.get() + 1);
        y.suspend(());
        unreachable!("a dropped coroutine must never resume normally");
    })
    .unwrap();
    co.resume(());
    drop(co); // must terminate: the second suspend unwinds again
    assert_eq!(suspended_again.get(), 1);
}

#[test]
fn dropping_an_unstarted_coroutine_drops_its_closure_without_running_it() {
    let ran = Rc::new(Cell::new(false));
    let captured = Rc::new(());
    let (r, c) = (ran.clone(), captured.clone());
    let co = Coroutine::new(move |_: &Yielder<(), ()>, ()| {
        r.set(true);
        drop(c);
    })
    .unwrap();
    assert_eq!(Rc::strong_count(&captured), 2);
    drop(co);
    assert!(!ran.get());
    assert_eq!(Rc::strong_count(&captured), 1, "closure was not dropped");
}

#[test]
fn large_closures_are_supported() {
    let big = [7u8; 64 * 1024];
    let mut co =
        Coroutine::new(move |_: &Yielder<(), ()>, ()| big.iter().map(|&b| b as u64).sum::<u64>())
            .unwrap();
    assert_eq!(co.resume(()), CoroutineResult::Return(7 * 64 * 1024));
}

/// Recurses until the frames below `top` span `limit` bytes; returns the depth reached.
#[inline(never)]
fn dig(top: usize, limit: usize, depth: u32) -> u32 {
    let local = black_box([depth as u8; 128]);
    let here = local.as_ptr() as usize;
    if top - here >= limit {
        return depth;
    }
    let reached = dig(top, limit, depth + 1);
    // Keep `local` alive across the call so the frame cannot be reused.
    black_box(local);
    reached
}

#[test]
fn deep_recursion_uses_most_of_a_64k_stack() {
    const SIZE: usize = 64 * 1024;
    const LIMIT: usize = 56 * 1024;
    let mut co = Coroutine::with_stack_size(SIZE, |_: &Yielder<(), ()>, ()| {
        let top = black_box(0u8);
        dig(&top as *const u8 as usize, LIMIT, 0)
    })
    .unwrap();
    let CoroutineResult::Return(depth) = co.resume(()) else {
        panic!()
    };
    // Frames are at least 128 bytes, so reaching LIMIT takes at most LIMIT / 128 of them.
    assert!(depth > 0 && depth <= (LIMIT / 128) as u32, "depth {depth}");
}

#[test]
fn entry_is_16_byte_aligned_for_simd() {
    #[repr(C, align(16))]
    struct Aligned([f32; 4]);

    #[inline(never)]
    fn aligned_store() -> usize {
        let mut slot = Aligned([0.0; 4]);
        let p = slot.0.as_mut_ptr();
        #[cfg(target_arch = "x86_64")]
        // SAFETY: SSE is baseline on x86_64; `p` is the address of a 16-aligned local, so
        // the aligned store is valid iff the compiler's frame (and so rsp) is aligned.
        unsafe {
            use std::arch::x86_64::{_mm_set_ps, _mm_store_ps};
            _mm_store_ps(p, _mm_set_ps(4.0, 3.0, 2.0, 1.0));
        }
        #[cfg(not(target_arch = "x86_64"))]
        // SAFETY: `p` points to four f32s we own.
        unsafe {
            p.copy_from_nonoverlapping([1.0f32, 2.0, 3.0, 4.0].as_ptr(), 4);
        }
        assert_eq!(black_box(&slot).0, [1.0, 2.0, 3.0, 4.0]);
        p as usize
    }
    let mut co = Coroutine::new(|y: &Yielder<(), usize>, ()| {
        let first = aligned_store();
        y.suspend(first);
        aligned_store()
    })
    .unwrap();
    let CoroutineResult::Yield(a) = co.resume(()) else {
        panic!()
    };
    let CoroutineResult::Return(b) = co.resume(()) else {
        panic!()
    };
    assert_eq!(a % 16, 0, "first frame on the green stack is misaligned");
    assert_eq!(b % 16, 0, "frame after a resume is misaligned");
}

#[test]
fn coroutines_nest() {
    let mut outer = Coroutine::new(|y: &Yielder<u32, u32>, x: u32| {
        let mut inner = Coroutine::new(|yi: &Yielder<u32, u32>, a: u32| {
            let b = yi.suspend(a + 1);
            b * 2
        })
        .unwrap();
        let CoroutineResult::Yield(v) = inner.resume(x) else {
            panic!()
        };
        let z = y.suspend(v);
        let CoroutineResult::Return(r) = inner.resume(z) else {
            panic!()
        };
        r
    })
    .unwrap();
    assert_eq!(outer.resume(10), CoroutineResult::Yield(11));
    assert_eq!(outer.resume(21), CoroutineResult::Return(42));
}

#[test]
fn stack_size_rules() {
    let f = |_: &Yielder<(), ()>, ()| {};
    assert!(matches!(
        Coroutine::<(), (), ()>::with_stack_size(32 * 1024 - 1, f),
        Err(StackError::TooSmall { .. })
    ));
    assert!(Coroutine::<(), (), ()>::with_stack_size(32 * 1024, f).is_ok());
}

#[test]
fn many_coroutines_interleave() {
    let mut cos: Vec<_> = (0..200u32)
        .map(|i| {
            Coroutine::new(move |y: &Yielder<(), u32>, ()| {
                for k in 0..5 {
                    y.suspend(i * 10 + k);
                }
                i
            })
            .unwrap()
        })
        .collect();
    for k in 0..5 {
        for (i, co) in cos.iter_mut().enumerate() {
            assert_eq!(co.resume(()), CoroutineResult::Yield(i as u32 * 10 + k));
        }
    }
    for (i, co) in cos.iter_mut().enumerate() {
        assert_eq!(co.resume(()), CoroutineResult::Return(i as u32));
    }
}

static_assertions::assert_impl_all!(greenthread::CoroutineBuilder: Send, Sync, Copy, Default, std::fmt::Debug);

/// Values cross the switch in a register when they fit in a `usize` and by pointer when
/// they do not: both paths, both directions, with odd sizes, zero-sized and owning types.
#[test]
fn values_of_every_size_cross_both_ways() {
    fn round_trip<T: Clone + PartialEq + std::fmt::Debug + 'static>(a: T, b: T) {
        let (a2, b2) = (a.clone(), b.clone());
        let mut co = Coroutine::new(move |y: &Yielder<T, T>, first: T| {
            assert_eq!(first, a2);
            let second = y.suspend(b2.clone());
            assert_eq!(second, b2);
            second
        })
        .unwrap();
        assert_eq!(co.resume(a.clone()), CoroutineResult::Yield(b.clone()));
        assert_eq!(co.resume(b.clone()), CoroutineResult::Return(b));
    }
    round_trip((), ());
    round_trip(0xa5u8, 0x5au8);
    round_trip([1u8, 2, 3], [4u8, 5, 6]);
    round_trip(u64::MAX, 7u64);
    round_trip(Box::new(11u32), Box::new(12u32));
    round_trip(String::from("left"), String::from("right"));
    round_trip([1u64, 2, 3, 4, 5], [6u64, 7, 8, 9, 10]);
    round_trip((1u8, 2u64), (3u8, 4u64));
}
