//! RAII guards: each releases what it holds when dropped (Python's `with` block).
//!
//! A guard's drop never blocks and never switches (releases don't). A release error on drop
//! is ignored (it can only come from misuse elsewhere: someone else released an ownerless
//! `Lock`, or over-released a `BoundedSemaphore`, while the guard was alive): panicking in a
//! destructor could abort. Each guard has a `release(self)` that returns it instead.

use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;

use crate::Error;

use super::lock::Lock;
use super::rlock::RLock;
use super::semaphore::{BoundedSemaphore, DummySemaphore, Semaphore};
use super::{Shared, Sharing};

macro_rules! guard {
    (
        $(#[$meta:meta])*
        $name:ident, $ty:ty, $field:ident, $example:literal $(, $marker:ty)?
    ) => {
        $(#[$meta])*
        #[must_use = "if unused the permit is released at once"]
        pub struct $name<'a> {
            $field: &'a $ty,
            $(_marker: PhantomData<$marker>,)?
        }

        impl<'a> $name<'a> {
            /// Wraps a permit the caller holds.
            #[inline]
            pub(crate) fn new($field: &'a $ty) -> Self {
                $name {
                    $field,
                    $(_marker: PhantomData::<$marker>,)?
                }
            }

            /// Releases now, returning the release error that dropping the guard would
            /// ignore.
            ///
            /// ```
            #[doc = $example]
            /// ```
            ///
            /// # Errors
            /// As the type's `release()`.
            pub fn release(self) -> Result<(), Error> {
                let this = ManuallyDrop::new(self);
                this.$field.release()
            }
        }

        impl Drop for $name<'_> {
            #[inline]
            fn drop(&mut self) {
                // See the module docs: ignoring is the only safe choice in a destructor.
                let _ = self.$field.release();
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field(stringify!($field), self.$field).finish()
            }
        }
    };
}

macro_rules! guard_generic {
    (
        $(#[$meta:meta])*
        $name:ident, $ty:ident, $field:ident, $example:literal $(, $marker:ty)?
    ) => {
        $(#[$meta])*
        #[must_use = "if unused the permit is released at once"]
        pub struct $name<'a, S: Sharing = Shared> {
            $field: &'a $ty<S>,
            $(_marker: PhantomData<$marker>,)?
        }

        impl<'a, S: Sharing> $name<'a, S> {
            /// Wraps a permit the caller holds.
            #[inline]
            pub(crate) fn new($field: &'a $ty<S>) -> Self {
                $name {
                    $field,
                    $(_marker: PhantomData::<$marker>,)?
                }
            }

            /// Releases now, returning the release error that dropping the guard would
            /// ignore.
            ///
            /// ```
            #[doc = $example]
            /// ```
            ///
            /// # Errors
            /// As the type's `release()`.
            pub fn release(self) -> Result<(), Error> {
                let this = ManuallyDrop::new(self);
                this.$field.release()
            }
        }

        impl<S: Sharing> Drop for $name<'_, S> {
            #[inline]
            fn drop(&mut self) {
                // See the module docs: ignoring is the only safe choice in a destructor.
                let _ = self.$field.release();
            }
        }

        impl<S: Sharing> fmt::Debug for $name<'_, S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field(stringify!($field), self.$field).finish()
            }
        }
    };
}

guard_generic!(
    /// Holds a [`Lock`]; releases it when dropped. From [`Lock::lock`], [`Lock::try_lock`],
    /// [`Lock::lock_timeout`].
    ///
    /// It is `Send`: a `Lock` has no owner, so it may be released on another OS thread.
    ///
    /// ```
    /// use greenthread::sync::Lock;
    ///
    /// let lock = Lock::new();
    /// let guard = lock.lock();
    /// assert_eq!(guard.release(), Ok(())); // explicit release, with its result
    /// assert!(!lock.locked());
    /// ```
    LockGuard,
    Lock,
    lock,
    "let lock = greenthread::sync::Lock::new();\nassert_eq!(lock.lock().release(), Ok(()));"
);

guard_generic!(
    /// Holds one level of an [`RLock`]; releases it when dropped. From [`RLock::lock`],
    /// [`RLock::try_lock`], [`RLock::lock_timeout`].
    ///
    /// Neither `Send` nor `Sync`: an `RLock` must be released by the green thread that owns
    /// it, and green threads never leave their OS thread.
    ///
    /// ```
    /// use greenthread::sync::RLock;
    ///
    /// let rlock = RLock::new();
    /// let outer = rlock.lock();
    /// let inner = rlock.lock(); // re-entrant
    /// drop(inner);
    /// assert!(rlock.locked());
    /// drop(outer);
    /// assert!(!rlock.locked());
    /// ```
    RLockGuard,
    RLock,
    rlock,
    "let r = greenthread::sync::RLock::new();\nassert_eq!(r.lock().release(), Ok(()));",
    *const ()
);

guard_generic!(
    /// Holds a permit of a [`Semaphore`]; releases it when dropped. From
    /// [`Semaphore::acquire_guard`] and its `try_`/`_timeout` forms.
    ///
    /// ```
    /// use greenthread::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// let a = sem.acquire_guard();
    /// let b = sem.acquire_guard();
    /// assert!(sem.locked());
    /// drop((a, b));
    /// assert_eq!(sem.counter(), 2);
    /// ```
    SemaphoreGuard,
    Semaphore,
    semaphore,
    "let s = greenthread::sync::Semaphore::new(1);\nassert_eq!(s.acquire_guard().release(), Ok(()));"
);

guard_generic!(
    /// Holds a permit of a [`BoundedSemaphore`]; releases it when dropped. From
    /// [`BoundedSemaphore::acquire_guard`] and its `try_`/`_timeout` forms.
    ///
    /// ```
    /// use greenthread::sync::BoundedSemaphore;
    ///
    /// let sem = BoundedSemaphore::new(1);
    /// let g = sem.acquire_guard();
    /// assert!(sem.locked());
    /// drop(g);
    /// assert!(sem.ready());
    /// ```
    BoundedSemaphoreGuard,
    BoundedSemaphore,
    semaphore,
    "let s = greenthread::sync::BoundedSemaphore::new(1);\nassert_eq!(s.acquire_guard().release(), Ok(()));"
);

guard!(
    /// The guard of a [`DummySemaphore`]: holds nothing, releases nothing.
    ///
    /// ```
    /// let dummy = greenthread::sync::DummySemaphore::new();
    /// let _g = dummy.acquire_guard();
    /// assert!(!dummy.locked());
    /// ```
    DummySemaphoreGuard,
    DummySemaphore,
    semaphore,
    "let d = greenthread::sync::DummySemaphore::new();\nassert_eq!(d.acquire_guard().release(), Ok(()));"
);
