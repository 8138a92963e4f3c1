//! A static-router daemon in a namespace, with its configuration, PID file, control
//! socket and log in a test's [`TempDir`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// The static-router example binary of this workspace.
pub fn static_router() -> PathBuf {
    workspace_bin("static-router", true)
}

/// A running static-router in the router namespace of a test, with its files.
pub struct Daemon {
    /// The process (`ip netns exec` execs the daemon, so its pid is the daemon's).
    pub proc: NsProcess,
    /// Its PID file (`-P`).
    pub pidfile: PathBuf,
    /// Its control socket (`-u`).
    pub socket: PathBuf,
}

/// Starts static-router in `net` as `name` (files `NAME.conf`, `.pid`, `.sock`, `.log` in
/// `dir`), with `-n -N -l debug` and `extra` options.
pub fn start(net: &Netns, dir: &TempDir, name: &str, extra: &[&str]) -> Daemon {
    let conf = dir.path(&format!("{name}.conf"));
    let pidfile = dir.path(&format!("{name}.pid"));
    let socket = dir.path(&format!("{name}.sock"));
    let mut args = vec![
        "-n",
        "-N",
        "-l",
        "debug",
        "-f",
        conf.to_str().unwrap(),
        "-P",
        pidfile.to_str().unwrap(),
        "-u",
        socket.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let log = dir.path(&format!("{name}.log"));
    let proc = NsProcess::start(net, &static_router(), &args, &log);
    Daemon {
        proc,
        pidfile,
        socket,
    }
}

impl Daemon {
    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.proc.child.id()
    }

    /// Waits up to `limit` for the PID file to hold this process's pid (a stale file from a
    /// killed one is ignored); fails the test with the daemon's output otherwise.
    pub fn wait_ready_within(&mut self, limit: Duration) {
        let pid = self.pid().to_string();
        let mine = |p: &Path| std::fs::read_to_string(p).is_ok_and(|c| c.trim() == pid);
        let ok = wait_until(limit, || {
            mine(&self.pidfile) || matches!(self.proc.child.try_wait(), Ok(Some(_)))
        });
        assert!(
            ok && mine(&self.pidfile),
            "static-router did not become ready:\n{}",
            self.proc.output()
        );
    }
}
