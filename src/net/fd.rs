//! Raw fd / socket conversions shared by the socket types.

/// Implements `AsRawFd`, `AsFd`, `IntoRawFd`, `FromRawFd` (Unix) or the `*Socket`
/// equivalents (Windows) for `$ty`, a struct with an `io: IoSource<$mio>` field and a
/// `from_mio($mio) -> $ty` constructor; `$std` is the std type (for `FromRaw*`, which sets
/// nonblocking mode).
macro_rules! fd_traits {
    ($ty:ty, $std:ty, $mio:ty) => {
        #[cfg(unix)]
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get().as_raw_fd()
            }
        }

        #[cfg(unix)]
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                use std::os::fd::AsRawFd;
                // SAFETY: the fd is owned by `self` and stays open for the borrow's lifetime.
                unsafe { std::os::fd::BorrowedFd::borrow_raw(self.io.get().as_raw_fd()) }
            }
        }

        #[cfg(unix)]
        impl std::os::fd::IntoRawFd for $ty {
            /// Gives up the fd (deregistered, still in nonblocking mode).
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                self.io.into_inner().into_raw_fd()
            }
        }

        #[cfg(unix)]
        impl std::os::fd::FromRawFd for $ty {
            /// Takes ownership of `fd` and puts it in nonblocking mode (if that fails, calls
            /// may block the OS thread; use `TryFrom<std type>` to see the error).
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> Self {
                // SAFETY: the caller passes an open fd of this kind that it owns.
                let s = unsafe { <$std as std::os::fd::FromRawFd>::from_raw_fd(fd) };
                let _ = s.set_nonblocking(true);
                Self::from_mio(<$mio>::from_std(s))
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsRawSocket for $ty {
            fn as_raw_socket(&self) -> std::os::windows::io::RawSocket {
                self.io.get().as_raw_socket()
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::AsSocket for $ty {
            fn as_socket(&self) -> std::os::windows::io::BorrowedSocket<'_> {
                use std::os::windows::io::AsRawSocket;
                // SAFETY: the socket is owned by `self` and stays open for the borrow.
                unsafe {
                    std::os::windows::io::BorrowedSocket::borrow_raw(self.io.get().as_raw_socket())
                }
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::IntoRawSocket for $ty {
            /// Gives up the socket (deregistered, still in nonblocking mode).
            fn into_raw_socket(self) -> std::os::windows::io::RawSocket {
                self.io.into_inner().into_raw_socket()
            }
        }

        #[cfg(windows)]
        impl std::os::windows::io::FromRawSocket for $ty {
            /// Takes ownership of the socket and puts it in nonblocking mode.
            unsafe fn from_raw_socket(sock: std::os::windows::io::RawSocket) -> Self {
                // SAFETY: the caller passes an open socket of this kind that it owns.
                let s =
                    unsafe { <$std as std::os::windows::io::FromRawSocket>::from_raw_socket(sock) };
                let _ = s.set_nonblocking(true);
                Self::from_mio(<$mio>::from_std(s))
            }
        }

        impl TryFrom<$std> for $ty {
            type Error = std::io::Error;
            /// Puts the std socket in nonblocking mode and wraps it.
            fn try_from(s: $std) -> std::io::Result<Self> {
                s.set_nonblocking(true)?;
                Ok(Self::from_mio(<$mio>::from_std(s)))
            }
        }

        impl TryFrom<$ty> for $std {
            type Error = std::io::Error;
            /// Deregisters the socket and puts it back in blocking mode.
            fn try_from(s: $ty) -> std::io::Result<Self> {
                let s: $std = From::from(s.io.into_inner());
                s.set_nonblocking(false)?;
                Ok(s)
            }
        }
    };
}

pub(crate) use fd_traits;

/// The raw fd/socket of a mio socket, as the `u64` reports use.
#[cfg(unix)]
pub(crate) fn raw<S: std::os::fd::AsRawFd>(s: &S) -> u64 {
    s.as_raw_fd() as u64
}

/// The raw fd/socket of a mio socket, as the `u64` reports use.
#[cfg(windows)]
pub(crate) fn raw<S: std::os::windows::io::AsRawSocket>(s: &S) -> u64 {
    s.as_raw_socket()
}

/// A duplicate of a mio socket's fd/socket, as a new mio socket of type `T`.
#[cfg(unix)]
pub(crate) fn dup<S: std::os::fd::AsFd, T: From<std::os::fd::OwnedFd>>(
    s: &S,
) -> std::io::Result<T> {
    Ok(T::from(s.as_fd().try_clone_to_owned()?))
}

/// A duplicate of a mio socket's fd/socket, as a new mio socket of type `T`.
#[cfg(windows)]
pub(crate) fn dup<S: std::os::windows::io::AsSocket, T: From<std::os::windows::io::OwnedSocket>>(
    s: &S,
) -> std::io::Result<T> {
    Ok(T::from(s.as_socket().try_clone_to_owned()?))
}
