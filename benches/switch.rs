//! Raw context-switch cost: one resume + one suspend (a round trip) of a [`Coroutine`], and
//! of the bare `context::raw::switch` pair underneath it. Stack allocation is not counted: the
//! coroutine is created once, outside the measured loop. Peers (corosensei) are measured in
//! the same run by `benches/peers`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use greenthread::context::raw;
use greenthread::stack::Stack;
use greenthread::{Coroutine, Yielder};

fn coroutine_round_trip(c: &mut Criterion) {
    let mut co = Coroutine::new(|y: &Yielder<usize, usize>, mut x: usize| {
        loop {
            x = y.suspend(x.wrapping_add(1));
        }
    })
    .unwrap();
    c.bench_function("switch/coroutine_round_trip", |b| {
        b.iter(|| black_box(co.resume(black_box(1))))
    });
}

static mut MAIN_SP: usize = 0;
static mut CO_SP: usize = 0;

unsafe extern "C" fn echo(arg: usize, _data: *mut u8) -> ! {
    let mut x = arg;
    loop {
        // SAFETY: MAIN_SP was published by the switch that resumed us; CO_SP is ours.
        x = unsafe { raw::switch(&raw mut CO_SP, MAIN_SP, x.wrapping_add(1)) };
    }
}

fn raw_round_trip(c: &mut Criterion) {
    let stack = Stack::new(0).unwrap();
    // SAFETY: fresh stack, 16-aligned top; it outlives every switch below (the context is
    // abandoned suspended before the stack is dropped, with nothing to drop on it).
    unsafe { CO_SP = raw::init(stack.top(), echo, core::ptr::null_mut()) };
    c.bench_function("switch/raw_round_trip", |b| {
        // SAFETY: CO_SP is the suspended echo context; MAIN_SP is our save slot.
        b.iter(|| unsafe { black_box(raw::switch(&raw mut MAIN_SP, CO_SP, black_box(1))) })
    });
    drop(stack);
}

criterion_group!(benches, raw_round_trip, coroutine_round_trip);
criterion_main!(benches);
