//! Registering descriptors with the tokio reactor (feature `tokio`).

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Registers a descriptor the caller hands over (typically a duplicate made for the
/// purpose) for readability with the current tokio runtime.
pub(crate) fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd owns `fd` from here until it is dropped or unwrapped, OwnedFd
    // never closes or changes its descriptor while it lives, and its as_raw_fd() always
    // returns that one descriptor: register_with_interest's contract.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(io::Error::from)
}
