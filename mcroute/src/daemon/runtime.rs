//! The part of a daemon's event loop that does not depend on what it routes: signals turned
//! into flags, the control socket, the link monitor, the PID file, the service manager's
//! notifications, and one `poll` over all of their descriptors and the service's.

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::notify::Notifier;
use super::PidFile;
use crate::ctl::server::{Access, CtlServer};
use crate::link::{LinkEvent, LinkMonitor};

/// The signals a daemon handles: HUP reloads, INT and TERM stop, USR1 and USR2 are the
/// daemon's to use (mrouted's dumps).
#[derive(Debug)]
pub struct Signals {
    hup: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    usr1: Arc<AtomicBool>,
    usr2: Arc<AtomicBool>,
    quit: Arc<AtomicBool>,
    wake: UnixStream,
    /// The write end of the wake pipe, for handlers installed later.
    waker: UnixStream,
}

impl Signals {
    /// Installs the handlers: each sets a flag and wakes [`fd`](Self::fd).
    pub fn install() -> std::io::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
        let (rx, tx) = UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        let s = Signals {
            hup: Arc::default(),
            term: Arc::default(),
            usr1: Arc::default(),
            usr2: Arc::default(),
            quit: Arc::default(),
            wake: rx,
            waker: tx.try_clone()?,
        };
        for (sig, flag) in [
            (SIGHUP, &s.hup),
            (SIGINT, &s.term),
            (SIGTERM, &s.term),
            (SIGUSR1, &s.usr1),
            (SIGUSR2, &s.usr2),
        ] {
            signal_hook::flag::register(sig, Arc::clone(flag))?;
            signal_hook::low_level::pipe::register(sig, tx.try_clone()?)?;
        }
        Ok(s)
    }

    /// Catches SIGQUIT too (reported as [`Events::quit`]) instead of its default action
    /// (a core dump): mrouted's manual has QUIT dump the routing tables.
    pub fn catch_quit(&self) -> std::io::Result<()> {
        use signal_hook::consts::SIGQUIT;
        signal_hook::flag::register(SIGQUIT, Arc::clone(&self.quit))?;
        signal_hook::low_level::pipe::register(SIGQUIT, self.waker.try_clone()?)?;
        Ok(())
    }

    /// The descriptor that becomes readable when a signal arrives.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    fn drain(&self) {
        let mut buf = [0u8; 64];
        while std::io::Read::read(&mut &self.wake, &mut buf).is_ok_and(|n| n > 0) {}
    }

    fn take(flag: &AtomicBool) -> bool {
        flag.swap(false, Ordering::SeqCst)
    }

    /// Whether SIGINT or SIGTERM arrived (and was not yet reported by [`Runtime::wait`]):
    /// a daemon checks between the steps of its start-up and exits cleanly.
    pub fn stop_requested(&self) -> bool {
        self.term.load(Ordering::SeqCst)
    }

    /// Sleeps for `d` (a start-up delay), or less if SIGINT or SIGTERM arrives: returns
    /// whether one did. Other signals stay pending for the event loop.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.stop_requested() {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let ms = left.as_millis().clamp(1, 60_000) as u16;
            let mut pfd = [PollFd::new(self.fd(), PollFlags::POLLIN)];
            let _ = nix::poll::poll(&mut pfd, PollTimeout::from(ms));
            self.drain();
        }
    }
}

/// What happened while [`Runtime::wait`] waited.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Events {
    /// SIGHUP: reload.
    pub reload: bool,
    /// SIGINT or SIGTERM: stop.
    pub stop: bool,
    /// SIGUSR1.
    pub usr1: bool,
    /// SIGUSR2.
    pub usr2: bool,
    /// SIGQUIT, once [`Signals::catch_quit`] was called.
    pub quit: bool,
    /// Interfaces that appeared, went or changed.
    pub links: Vec<LinkEvent>,
}

/// A daemon's event-loop plumbing. Start-up order: [`Runtime::start`] once the service is
/// configured, [`Runtime::ready`] once its routes are in the kernel, then
/// [`Runtime::wait`] in a loop, [`Runtime::stopping`] on the way out.
pub struct Runtime {
    /// The signal flags.
    pub signals: Signals,
    /// The service manager (sd_notify), a no-op outside systemd.
    pub notify: Notifier,
    /// The control socket.
    pub ctl: CtlServer,
    /// Interface events.
    pub links: LinkMonitor,
    pidfile: Option<PidFile>,
}

impl Runtime {
    /// Installs the signal handlers, binds the control socket at `socket`, opens the link
    /// monitor and reads the service manager's environment.
    pub fn start(socket: &Path) -> Result<Runtime, String> {
        let signals = Signals::install().map_err(|e| format!("signal handlers: {e}"))?;
        Self::start_with(signals, socket)
    }

    /// [`Runtime::start`] with handlers installed earlier: a daemon installs them on the
    /// first line of `main` ([`Signals::install`]) so that a SIGHUP during start-up is a
    /// reload once start-up is done, and a SIGTERM a clean exit, instead of the default
    /// action (death, exit 129 or 143).
    pub fn start_with(signals: Signals, socket: &Path) -> Result<Runtime, String> {
        let ctl = CtlServer::bind(socket, Access::default()).map_err(|e| e.to_string())?;
        let links = LinkMonitor::open().map_err(|e| e.to_string())?;
        Ok(Runtime {
            signals,
            notify: Notifier::from_env(),
            ctl,
            links,
            pidfile: None,
        })
    }

    /// The daemon is ready: writes the PID file (removed when the Runtime is dropped) and
    /// tells the service manager `READY=1` with `status`.
    pub fn ready(&mut self, pidfile: &Path, status: &str) -> Result<(), String> {
        let pid =
            PidFile::create(pidfile).map_err(|e| format!("PID file {}: {e}", pidfile.display()))?;
        self.pidfile = Some(pid);
        self.notify.ready(status);
        Ok(())
    }

    /// Waits until one of `fds` (the service's), a signal, the control socket or the link
    /// monitor is readable, or until `deadline` (or the watchdog's, or a control client's);
    /// then reports the signals that arrived and the link events read.
    pub fn wait(&mut self, fds: &[BorrowedFd<'_>], deadline: Option<Instant>) -> Events {
        let now = Instant::now();
        let deadline = [
            deadline,
            self.ctl.next_deadline(),
            self.notify.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        // A signal already flagged (during start-up, its wake-up drained by Signals::sleep)
        // is reported at once.
        let s = &self.signals;
        let pending = [&s.hup, &s.term, &s.usr1, &s.usr2, &s.quit]
            .iter()
            .any(|f| f.load(Ordering::SeqCst));
        let timeout = match deadline {
            _ if pending => PollTimeout::ZERO,
            None => PollTimeout::NONE,
            // A control client's work left over from the bounded turn: no sleep at all.
            Some(_) if self.ctl.next_deadline().is_some_and(|d| d <= now) => PollTimeout::ZERO,
            Some(d) => {
                let ms = d
                    .saturating_duration_since(now)
                    .as_millis()
                    .clamp(1, 60_000);
                PollTimeout::from(ms as u16)
            }
        };
        let mut pfds: Vec<PollFd<'_>> = fds
            .iter()
            .copied()
            .chain([self.signals.fd(), self.links.as_fd()])
            .map(|f| PollFd::new(f, PollFlags::POLLIN))
            .collect();
        pfds.extend(self.ctl.poll_fds());
        if let Err(e) = nix::poll::poll(&mut pfds, timeout) {
            if e != nix::errno::Errno::EINTR {
                log::error!("poll: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        drop(pfds);
        self.signals.drain();
        self.notify.handle_timeout(Instant::now());
        let links = match self.links.recv() {
            Ok(ev) => ev,
            Err(e) => {
                log::error!("{e}");
                Vec::new()
            }
        };
        Events {
            reload: Signals::take(&self.signals.hup),
            stop: Signals::take(&self.signals.term),
            usr1: Signals::take(&self.signals.usr1),
            usr2: Signals::take(&self.signals.usr2),
            quit: Signals::take(&self.signals.quit),
            links,
        }
    }

    /// Tells the service manager the daemon is stopping.
    pub fn stopping(&mut self) {
        self.notify.stopping();
    }
}
