//! Raw switch round trip: greenthread's `Coroutine` against corosensei's, in one criterion run,
//! so the ratio can be read off the same report.

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

criterion_group!(benches, greenthread_round_trip, corosensei_round_trip);
criterion_main!(benches);
