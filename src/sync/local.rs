//! [`Local`]: the one-OS-thread flavour of a communication object, checked by the type.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;

/// An object made with a `new_local` constructor (e.g.
/// [`Event::new_local`](super::Event::new_local)): only green threads of the OS thread
/// that made it may use it, and the compiler keeps it there (`Local<T>` is neither `Send`
/// nor `Sync`). In exchange, its blocking calls are covered by **deadlock reporting**:
/// when every green thread of the OS thread is blocked and nothing can wake one, the
/// blocked call of the main green thread fails with a report instead of hanging.
///
/// The plain objects (`Event::new()`, ...) are `Send + Sync` and may be shared with other
/// OS threads at any time, so their waits always count as "can be woken from outside" and
/// a deadlock on them is not reported (see `docs/SYNC.md`, "Deadlocks and `external`
/// parks").
///
/// `Local<T>` dereferences to `T`, so every method of `T` is available. Turning the
/// borrow into a plain `&T` explicitly (`let t: &T = &local;`) and sending that to another
/// OS thread (a scoped thread) escapes the check: the object then still works, but a
/// deadlock may be reported while that thread could still end it. That is a broken promise
/// of the caller, never undefined behaviour.
///
/// ```
/// use std::rc::Rc;
/// use greenthread::sync::Event;
///
/// let ev = Rc::new(Event::new_local());
/// greenthread::spawn({
///     let ev = Rc::clone(&ev);
///     move || ev.set()
/// });
/// ev.wait(); // the spawned green thread sets it
/// assert!(ev.is_set());
/// ```
///
/// Neither `Send` nor `Sync`:
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(greenthread::sync::Event::new_local());
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>(_: &T) {}
/// sync(&greenthread::sync::Event::new_local());
/// ```
pub struct Local<T> {
    inner: T,
    _one_thread: PhantomData<*const ()>,
}

impl<T> Local<T> {
    /// Wraps an object made local (its waits not external).
    pub(crate) const fn wrap(inner: T) -> Local<T> {
        Local {
            inner,
            _one_thread: PhantomData,
        }
    }
}

impl<T> Deref for Local<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: Clone> Clone for Local<T> {
    fn clone(&self) -> Self {
        Local::wrap(self.inner.clone())
    }
}

impl<T: fmt::Debug> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Local").field(&self.inner).finish()
    }
}

impl<T: Iterator> Iterator for Local<T> {
    type Item = T::Item;
    fn next(&mut self) -> Option<T::Item> {
        self.inner.next()
    }
}
