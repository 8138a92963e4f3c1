//! The keeper: what a daemon that drops its privileges (`-p USER`) still needs root for.
//!
//! After the drop, the daemon can no longer read a configuration file only root may read
//! (a SIGHUP failed with "Permission denied"), nor remove its PID file and control socket
//! from a directory only root may write (`/run`). So, just before dropping, it starts a
//! keeper: the same program again ([`Keeper::spawn`]), which stays root and does two things
//! only, both bounded by what the daemon was started with:
//!
//! - on request, it reads the configuration file the daemon was started with (and what
//!   that file includes, with the usual checks of [`config::read_file`]) and sends back a
//!   [`Transcript`] of what it read, which the daemon parses as if it had read the files
//!   itself ([`Replay`](crate::config::Replay)). It reads nothing else: it takes no path
//!   from the daemon.
//! - when the daemon is gone (its end of the socket closes, however it exits), it removes
//!   the PID file, if that still names the daemon, and the control socket, then exits.
//!
//! The keeper is the daemon's child, holds none of its descriptors, and ignores the
//! signals a terminal sends (SIGINT, SIGHUP, SIGTERM, SIGQUIT): it ends with the daemon.
//! A frontend calls [`serve_if_keeper`] on the first line of `main`.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use crate::config::{self, smcroute, FileSystem, Recorder, Transcript};

const ENV_CONFIG: &str = "MCROUTE_KEEPER_CONFIG";
const ENV_PIDFILE: &str = "MCROUTE_KEEPER_PIDFILE";
const ENV_SOCKET: &str = "MCROUTE_KEEPER_SOCKET";
const ENV_PID: &str = "MCROUTE_KEEPER_PID";

/// The daemon's handle on its keeper.
#[derive(Debug)]
pub struct Keeper {
    sock: UnixStream,
    child: Child,
}

impl Keeper {
    /// Starts the keeper (this program again, `/proc/self/exe` where there is one, with the
    /// socket as its standard input) for the configuration file `config`, the PID file
    /// `pidfile` and the control socket `socket`. Call it before dropping privileges.
    pub fn spawn(config: &Path, pidfile: &Path, socket: &Path) -> io::Result<Keeper> {
        let (ours, theirs) = UnixStream::pair()?;
        let exe = if Path::new("/proc/self/exe").exists() {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe()?
        };
        let child = Command::new(exe)
            .env(ENV_CONFIG, config)
            .env(ENV_PIDFILE, pidfile)
            .env(ENV_SOCKET, socket)
            .env(ENV_PID, std::process::id().to_string())
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .spawn()?;
        Ok(Keeper { sock: ours, child })
    }

    /// Has the keeper read the configuration file: what it read, for
    /// [`smcroute::load_from`] with a [`Replay`](crate::config::Replay).
    pub fn load(&mut self) -> io::Result<Transcript> {
        self.sock.write_all(b"L")?;
        let mut len = [0u8; 8];
        self.sock.read_exact(&mut len)?;
        let len = u64::from_le_bytes(len);
        // Every file is at most MAX_FILE_SIZE; a transcript far beyond is not one.
        if len > 16 * config::MAX_FILE_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "transcript too long",
            ));
        }
        let mut bytes = Vec::new();
        (&self.sock).take(len).read_to_end(&mut bytes)?;
        if bytes.len() as u64 != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the keeper went away",
            ));
        }
        Transcript::decode(&bytes)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a transcript"))
    }

    /// The keeper's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// If this process was started as a keeper ([`Keeper::spawn`]), serves the daemon until it
/// is gone, cleans up after it and returns the exit code; `None` otherwise. Call it on the
/// first line of `main`.
pub fn serve_if_keeper() -> Option<ExitCode> {
    let config = PathBuf::from(std::env::var_os(ENV_CONFIG)?);
    let pidfile = PathBuf::from(std::env::var_os(ENV_PIDFILE)?);
    let socket = PathBuf::from(std::env::var_os(ENV_SOCKET)?);
    let daemon: i32 = std::env::var(ENV_PID).ok()?.parse().ok()?;
    {
        use nix::sys::signal::{SigSet, Signal};
        let mut set = SigSet::empty();
        for s in [
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGTERM,
            Signal::SIGQUIT,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
        ] {
            set.add(s);
        }
        let _ = set.thread_block();
    }
    let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else {
        return Some(ExitCode::FAILURE);
    };
    let mut sock = UnixStream::from(fd);
    let mut op = [0u8; 1];
    while matches!(sock.read(&mut op), Ok(1)) {
        if op[0] != b'L' {
            break;
        }
        let mut rec = Recorder::new(FileSystem);
        let _ = smcroute::load_from(&config, &smcroute::parse_source, &mut rec);
        let bytes = rec.into_transcript().encode();
        let sent = sock
            .write_all(&(bytes.len() as u64).to_le_bytes())
            .and_then(|()| sock.write_all(&bytes));
        if sent.is_err() {
            break;
        }
    }
    // The daemon is gone: its files go too, unless another instance has taken them since.
    let ours = super::read_pidfile(&pidfile) == Some(daemon);
    if ours {
        let _ = std::fs::remove_file(&pidfile);
    }
    let taken = super::read_pidfile(&pidfile).is_some();
    let is_socket = std::fs::symlink_metadata(&socket)
        .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()));
    if is_socket && !taken {
        let _ = std::fs::remove_file(&socket);
    }
    Some(ExitCode::SUCCESS)
}
