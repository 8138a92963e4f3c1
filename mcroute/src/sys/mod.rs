//! Per-OS system calls: the only `unsafe` code in mcroute.

/// Runs a libc call, turning `-1` into the last OS error.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_unsafe)]
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

pub(crate) mod abi;
pub mod unix;

pub mod mrdisc;

#[cfg(feature = "tokio")]
pub(crate) mod reactor;

#[cfg(target_os = "linux")]
pub mod linux;

#[cfg(target_os = "freebsd")]
pub mod freebsd;

/// Gives the memory the C allocator holds free back to the system (glibc's `malloc_trim`):
/// after a burst of short-lived allocations, such as reading a configuration of 100,000
/// routes, the freed pages otherwise stay resident. Does nothing where the C library has no
/// such call.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer; it only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
compile_error!("mcroute supports Linux and FreeBSD only");
