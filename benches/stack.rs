//! Stack allocation cost, measured apart from switching and spawning: one `acquire` +
//! `release` of a default-size stack through a warm per-thread pool (the steady-state spawn
//! path: no system call, no allocation), against `Stack::new` + drop (mmap + mprotect +
//! munmap every time).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use greenthread::stack::{self, Stack};

fn pool_acquire_release(c: &mut Criterion) {
    // Warm the pool: one default stack is waiting in it.
    stack::release(stack::acquire(0).unwrap());
    c.bench_function("stack/pool_acquire_release", |b| {
        b.iter(|| {
            let s = stack::acquire(black_box(0)).unwrap();
            stack::release(black_box(s));
        })
    });
}

fn fresh_new_drop(c: &mut Criterion) {
    c.bench_function("stack/fresh_new_drop", |b| {
        b.iter(|| drop(black_box(Stack::new(black_box(0)).unwrap())))
    });
}

criterion_group!(benches, pool_acquire_release, fresh_new_drop);
criterion_main!(benches);
