//! systemd's service notification protocol (sd_notify(3)) in a few lines on a datagram
//! socket, without linking libsystemd: `READY=1`, `RELOADING=1`, `STOPPING=1`, `STATUS=`
//! and the watchdog.
//!
//! The service manager passes `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket)
//! and, with `WatchdogSec=`, `WATCHDOG_USEC` (and `WATCHDOG_PID`). Without them every call
//! is a no-op, so a daemon calls them unconditionally.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// A connection to the service manager's notification socket (or nothing).
#[derive(Debug, Default)]
pub struct Notifier {
    sock: Option<UnixDatagram>,
    watchdog: Option<Duration>,
    next_ping: Option<Instant>,
    status: String,
    failed: bool,
}

impl Notifier {
    /// A notifier that sends nothing.
    pub fn disabled() -> Notifier {
        Notifier::default()
    }

    /// The notifier the environment asks for: connected to `NOTIFY_SOCKET` when it is set,
    /// pinging the watchdog every half `WATCHDOG_USEC` when that is set (and
    /// `WATCHDOG_PID`, if set, is this process). A socket that cannot be reached is logged
    /// and leaves the notifier disabled.
    pub fn from_env() -> Notifier {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let Some(path) = var("NOTIFY_SOCKET") else {
            return Notifier::disabled();
        };
        let sock = match connect(&path) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("NOTIFY_SOCKET={path}: {e}; not notifying the service manager");
                return Notifier::disabled();
            }
        };
        let for_me = var("WATCHDOG_PID")
            .is_none_or(|p| p.trim().parse::<u32>().ok() == Some(std::process::id()));
        let watchdog = var("WATCHDOG_USEC")
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|&u| u > 0 && for_me)
            .map(|u| Duration::from_micros(u) / 2);
        Notifier {
            sock: Some(sock),
            watchdog,
            next_ping: watchdog.map(|_| Instant::now()),
            status: String::new(),
            failed: false,
        }
    }

    /// Whether a service manager listens.
    pub fn is_enabled(&self) -> bool {
        self.sock.is_some()
    }

    /// The watchdog interval the service manager asked for, halved (how often this
    /// notifier pings), if any.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Sends one message of `KEY=VALUE` lines. Errors are returned, and also logged once.
    pub fn notify(&mut self, msg: &str) -> io::Result<()> {
        let Some(sock) = &self.sock else {
            return Ok(());
        };
        let r = sock.send(msg.as_bytes()).map(|_| ());
        if let Err(e) = &r {
            if !std::mem::replace(&mut self.failed, true) {
                log::warn!("notifying the service manager: {e}");
            }
        }
        r
    }

    /// `READY=1` with a status line: start-up (or a reload) is complete.
    pub fn ready(&mut self, status: &str) {
        self.status = status.to_string();
        let _ = self.notify(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// `RELOADING=1` (with `MONOTONIC_USEC`, as `Type=notify-reload` wants); send
    /// [`ready`](Self::ready) when the reload is done, whether it succeeded or not.
    pub fn reloading(&mut self) {
        let _ = self.notify(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading",
            monotonic_usec()
        ));
    }

    /// `STOPPING=1`: the daemon is shutting down.
    pub fn stopping(&mut self) {
        let _ = self.notify("STOPPING=1\nSTATUS=stopping");
    }

    /// `STATUS=`, sent only when it differs from the last one sent.
    pub fn status(&mut self, status: &str) {
        if self.sock.is_some() && status != self.status {
            self.status = status.to_string();
            let _ = self.notify(&format!("STATUS={}", one_line(status)));
        }
    }

    /// [`status`](Self::status) with a line computed only when a service manager listens.
    pub fn status_with(&mut self, status: impl FnOnce() -> String) {
        if self.sock.is_some() {
            self.status(&status());
        }
    }

    /// When the watchdog is next due, if there is one.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_ping
    }

    /// Pings the watchdog (`WATCHDOG=1`) if it is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let (Some(due), Some(every)) = (self.next_ping, self.watchdog) {
            if now >= due {
                let _ = self.notify("WATCHDOG=1");
                self.next_ping = Some(now + every);
            }
        }
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

fn connect(path: &str) -> io::Result<UnixDatagram> {
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = path.strip_prefix('@') {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            sock.connect_addr(&addr)?;
            return Ok(sock);
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = name;
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "abstract sockets need Linux",
            ));
        }
    }
    if !path.starts_with('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an absolute path or @name",
        ));
    }
    sock.connect(path)?;
    Ok(sock)
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares `MONOTONIC_USEC` with.
fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_the_socket_and_status_is_sent_on_change_only() {
        let dir = std::env::temp_dir().join(format!("mcroute-notify-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_nonblocking(true).unwrap();
        let mut n = Notifier {
            sock: Some(connect(path.to_str().unwrap()).unwrap()),
            watchdog: Some(Duration::from_millis(5)),
            next_ping: Some(Instant::now()),
            ..Notifier::default()
        };
        let recv = || {
            let mut buf = [0u8; 512];
            let mut v = Vec::new();
            while let Ok(k) = rx.recv(&mut buf) {
                v.push(String::from_utf8_lossy(&buf[..k]).into_owned());
            }
            v
        };
        n.ready("3 routes");
        n.status("3 routes");
        n.status("4 routes");
        n.reloading();
        n.handle_timeout(Instant::now());
        n.stopping();
        let got = recv();
        assert_eq!(got[0], "READY=1\nSTATUS=3 routes");
        assert_eq!(got[1], "STATUS=4 routes");
        assert!(
            got[2].starts_with("RELOADING=1\nMONOTONIC_USEC="),
            "{got:?}"
        );
        assert_eq!(got[3], "WATCHDOG=1");
        assert_eq!(got[4], "STOPPING=1\nSTATUS=stopping");
        assert_eq!(got.len(), 5);
        // Not due again before the interval has passed.
        let due = n.poll_timeout().unwrap();
        n.handle_timeout(due - Duration::from_millis(1));
        assert!(recv().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket_names_work() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("mcroute-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        let mut n = Notifier {
            sock: Some(connect(&format!("@{name}")).unwrap()),
            ..Notifier::default()
        };
        n.stopping();
        let mut buf = [0u8; 64];
        let k = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"STOPPING=1\nSTATUS=stopping");
    }

    #[test]
    fn relative_paths_are_refused_and_no_socket_is_a_no_op() {
        assert!(connect("relative/path").is_err());
        let mut n = Notifier::disabled();
        n.ready("x");
        assert!(!n.is_enabled());
        assert!(n.notify("READY=1").is_ok());
    }
}
