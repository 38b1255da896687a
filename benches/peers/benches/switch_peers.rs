//! Raw switch round trip: greenthread's `Coroutine` against corosensei's, in one criterion run,
//! so the ratio can be read off the same report. `greenthread_fp_env` is a coroutine built
//! with `preserve_fp_env(true)` (it reads the FP control state at every switch; Boost.Context
//! reads and writes it at every switch).
//!
//! ```text
//! cargo bench -p greenthread-peers --bench switch_peers -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn greenthread_round_trip(c: &mut Criterion) {
    use greenthread::{Coroutine, Yielder};
    let mut co = Coroutine::new(|y: &Yielder<usize, usize>, mut x: usize| {
        loop {
            x = y.suspend(x.wrapping_add(1));
        }
    })
    .unwrap();
    c.bench_function("switch_round_trip/greenthread", |b| {
        b.iter(|| black_box(co.resume(black_box(1))))
    });
}

fn greenthread_fp_env_round_trip(c: &mut Criterion) {
    use greenthread::{CoroutineBuilder, Yielder};
    let mut co = CoroutineBuilder::new()
        .preserve_fp_env(true)
        .build(|y: &Yielder<usize, usize>, mut x: usize| {
            loop {
                x = y.suspend(x.wrapping_add(1));
            }
        })
        .unwrap();
    c.bench_function("switch_round_trip/greenthread_fp_env", |b| {
        b.iter(|| black_box(co.resume(black_box(1))))
    });
}

fn corosensei_round_trip(c: &mut Criterion) {
    use corosensei::{Coroutine, Yielder};
    let mut co = Coroutine::new(|y: &Yielder<usize, usize>, mut x: usize| {
        loop {
            x = y.suspend(x.wrapping_add(1));
        }
    });
    c.bench_function("switch_round_trip/corosensei", |b| {
        b.iter(|| black_box(co.resume(black_box(1))))
    });
}

criterion_group!(
    benches,
    greenthread_round_trip,
    greenthread_fp_env_round_trip,
    corosensei_round_trip
);
criterion_main!(benches);
