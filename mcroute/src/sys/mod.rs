//! Per-OS system calls: the only `unsafe` code in mcroute.

#[cfg(target_os = "linux")]
pub mod linux;

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
compile_error!("mcroute supports Linux and FreeBSD only");
