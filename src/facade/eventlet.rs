//! eventlet-named thin aliases for the communication types (`eventlet.greenpool`,
//! `eventlet.queue`, `eventlet.timeout`, `eventlet.event`). The method-name traits are
//! shared with [`gevent`](super::gevent) (`QueueExt`, `PoolExt`); `docs/PYTHON_API.md`
//! maps every name.
//!
//! ```
//! use greenthread::facade::eventlet::{GreenPool, PoolExt};
//!
//! let pool = GreenPool::with_size(2).unwrap(); // eventlet.GreenPool(2)
//! let v: Vec<u32> = pool.imap(|x: u32| x + 1, [1, 2, 3]).collect();
//! assert_eq!(v, [2, 3, 4]);
//! pool.waitall();
//! ```

pub use super::gevent::{PoolExt, QueueExt};
pub use crate::pool::{Pool as GreenPool, ZeroSize};
pub use crate::queue::{Empty, Full, LifoQueue, PriorityQueue, Queue, Queue as LightQueue};
pub use crate::sync::Event;
pub use crate::timeout::{Timeout, with_timeout};
