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

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
compile_error!("mcroute supports Linux and FreeBSD only");
