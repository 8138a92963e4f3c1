//! Where the smcroute.conf loader gets its files: the file system, or a recording of what
//! another process read there.
//!
//! A daemon that dropped its privileges (`-p USER`) can no longer read a configuration file
//! only root may read, so a process that kept them reads it for it: that process loads the
//! file through a [`Recorder`] and sends the [`Transcript`] (its bytes, from
//! [`Transcript::encode`]); the daemon loads the same file through a [`Replay`] of it, and
//! gets what a load as root would have given, errors included.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::{glob, read_file, ErrorKind, FileKey};

/// Where a loader gets its files: the file system ([`FileSystem`]), or a stand-in
/// ([`Replay`], a test).
pub trait Source {
    /// Reads a configuration file, as [`read_file`] does.
    fn read(&mut self, path: &Path) -> Result<(Vec<u8>, FileKey), ErrorKind>;
    /// Expands an include pattern, as [`glob`] does.
    fn glob(&mut self, pattern: &Path) -> io::Result<Vec<PathBuf>>;
}

/// The file system as a [`Source`]: [`read_file`] and [`glob`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSystem;

impl Source for FileSystem {
    fn read(&mut self, path: &Path) -> Result<(Vec<u8>, FileKey), ErrorKind> {
        read_file(path)
    }

    fn glob(&mut self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        glob(pattern)
    }
}

/// One question a loader asked its source, with the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Read {
        path: PathBuf,
        result: Result<(Vec<u8>, FileKey), ErrorKind>,
    },
    Glob {
        pattern: PathBuf,
        result: Result<Vec<PathBuf>, (io::ErrorKind, String)>,
    },
}

/// What a loader read, in order: made by a [`Recorder`], played back by a [`Replay`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transcript {
    entries: Vec<Entry>,
}

/// A [`Source`] that answers from another one and keeps a [`Transcript`] of it.
#[derive(Debug, Default)]
pub struct Recorder<S> {
    inner: S,
    transcript: Transcript,
}

impl<S: Source> Recorder<S> {
    /// Records what is read from `inner`.
    pub fn new(inner: S) -> Recorder<S> {
        Recorder {
            inner,
            transcript: Transcript::default(),
        }
    }

    /// The transcript so far.
    pub fn into_transcript(self) -> Transcript {
        self.transcript
    }
}

impl<S: Source> Source for Recorder<S> {
    fn read(&mut self, path: &Path) -> Result<(Vec<u8>, FileKey), ErrorKind> {
        let result = self.inner.read(path);
        self.transcript.entries.push(Entry::Read {
            path: path.to_path_buf(),
            result: result.clone(),
        });
        result
    }

    fn glob(&mut self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let result = self.inner.glob(pattern);
        self.transcript.entries.push(Entry::Glob {
            pattern: pattern.to_path_buf(),
            result: match &result {
                Ok(v) => Ok(v.clone()),
                Err(e) => Err((e.kind(), e.to_string())),
            },
        });
        result
    }
}

/// A [`Source`] that answers from a [`Transcript`]: the same questions in the same order
/// get the recorded answers; any other question is an error (the loader that recorded it
/// asked something else).
#[derive(Debug)]
pub struct Replay {
    entries: VecDeque<Entry>,
}

impl Replay {
    /// Plays back `transcript`.
    pub fn new(transcript: Transcript) -> Replay {
        Replay {
            entries: transcript.entries.into(),
        }
    }
}

fn mismatch(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} was not read by the process that read the configuration",
        path.display()
    ))
}

impl Source for Replay {
    fn read(&mut self, path: &Path) -> Result<(Vec<u8>, FileKey), ErrorKind> {
        match self.entries.pop_front() {
            Some(Entry::Read { path: p, result }) if p == path => result,
            _ => Err(super::io_kind(path, &mismatch(path))),
        }
    }

    fn glob(&mut self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        match self.entries.pop_front() {
            Some(Entry::Glob { pattern: p, result }) if p == pattern => {
                result.map_err(|(kind, message)| io::Error::new(kind, message))
            }
            _ => Err(mismatch(pattern)),
        }
    }
}

// ---- encoding: length-prefixed fields, little endian ----------------------------------------

const READ: u8 = 1;
const GLOB: u8 = 2;
const NOT_REGULAR: &[&str] = &[
    "a directory",
    "a FIFO",
    "a character device",
    "a block device",
    "a socket",
    "of an unknown type",
];
const IO_KINDS: &[io::ErrorKind] = &[
    io::ErrorKind::Other,
    io::ErrorKind::NotFound,
    io::ErrorKind::PermissionDenied,
    io::ErrorKind::InvalidInput,
];

fn kind_code(kind: io::ErrorKind) -> u8 {
    IO_KINDS.iter().position(|k| *k == kind).unwrap_or(0) as u8
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_path(out: &mut Vec<u8>, p: &Path) {
    put_bytes(out, p.as_os_str().as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }
    fn path(&mut self) -> Option<PathBuf> {
        Some(PathBuf::from(OsString::from_vec(self.bytes()?.to_vec())))
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

impl Transcript {
    /// The transcript as bytes, for [`Transcript::decode`] in another process.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.entries {
            match e {
                Entry::Read { path, result } => {
                    out.push(READ);
                    put_path(&mut out, path);
                    match result {
                        Ok((data, key)) => {
                            out.push(0);
                            out.extend_from_slice(&key.dev.to_le_bytes());
                            out.extend_from_slice(&key.ino.to_le_bytes());
                            put_bytes(&mut out, data);
                        }
                        Err(ErrorKind::NotRegularFile { what, .. }) => {
                            out.push(1);
                            out.push(NOT_REGULAR.iter().position(|w| w == what).unwrap_or(5) as u8);
                        }
                        Err(ErrorKind::TooLarge { max, .. }) => {
                            out.push(2);
                            out.extend_from_slice(&max.to_le_bytes());
                        }
                        Err(ErrorKind::Io { kind, message, .. }) => {
                            out.push(3);
                            out.push(kind_code(*kind));
                            put_bytes(&mut out, message.as_bytes());
                        }
                        Err(other) => {
                            out.push(3);
                            out.push(0);
                            put_bytes(&mut out, other.to_string().as_bytes());
                        }
                    }
                }
                Entry::Glob { pattern, result } => {
                    out.push(GLOB);
                    put_path(&mut out, pattern);
                    match result {
                        Ok(paths) => {
                            out.push(0);
                            out.extend_from_slice(&(paths.len() as u64).to_le_bytes());
                            for p in paths {
                                put_path(&mut out, p);
                            }
                        }
                        Err((kind, message)) => {
                            out.push(3);
                            out.push(kind_code(*kind));
                            put_bytes(&mut out, message.as_bytes());
                        }
                    }
                }
            }
        }
        out
    }

    /// Reads what [`Transcript::encode`] wrote; `None` if `bytes` is not such an encoding.
    pub fn decode(bytes: &[u8]) -> Option<Transcript> {
        let mut r = Reader(bytes);
        let mut entries = Vec::new();
        while !r.0.is_empty() {
            let op = r.u8()?;
            let path = r.path()?;
            let status = r.u8()?;
            let io_error = |r: &mut Reader<'_>| -> Option<(io::ErrorKind, String)> {
                let kind = *IO_KINDS.get(usize::from(r.u8()?))?;
                Some((kind, r.string()?))
            };
            entries.push(match (op, status) {
                (READ, 0) => {
                    let key = FileKey {
                        dev: r.u64()?,
                        ino: r.u64()?,
                    };
                    let data = r.bytes()?.to_vec();
                    Entry::Read {
                        path,
                        result: Ok((data, key)),
                    }
                }
                (READ, 1) => {
                    let what = *NOT_REGULAR.get(usize::from(r.u8()?))?;
                    Entry::Read {
                        result: Err(ErrorKind::NotRegularFile {
                            path: path.clone(),
                            what,
                        }),
                        path,
                    }
                }
                (READ, 2) => {
                    let max = r.u64()?;
                    Entry::Read {
                        result: Err(ErrorKind::TooLarge {
                            path: path.clone(),
                            max,
                        }),
                        path,
                    }
                }
                (READ, 3) => {
                    let (kind, message) = io_error(&mut r)?;
                    Entry::Read {
                        result: Err(ErrorKind::Io {
                            path: path.clone(),
                            kind,
                            message,
                        }),
                        path,
                    }
                }
                (GLOB, 0) => {
                    let n = r.u64()?;
                    let mut paths = Vec::new();
                    for _ in 0..n {
                        paths.push(r.path()?);
                    }
                    Entry::Glob {
                        pattern: path,
                        result: Ok(paths),
                    }
                }
                (GLOB, 3) => Entry::Glob {
                    pattern: path,
                    result: Err(io_error(&mut r)?),
                },
                _ => return None,
            });
        }
        Some(Transcript { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::smcroute;
    use std::fs;

    #[test]
    fn a_replayed_load_gives_what_the_recorded_one_gave() {
        let dir = std::env::temp_dir().join(format!("mcroute-transcript-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("conf.d")).unwrap();
        let main = dir.join("main.conf");
        fs::write(
            &main,
            "phyint eth0\ninclude conf.d/*.conf\ninclude missing.conf\ninclude /dev/null\n",
        )
        .unwrap();
        fs::write(
            dir.join("conf.d/a.conf"),
            "mroute from eth0 group 225.1.1.1 to eth1\n",
        )
        .unwrap();
        fs::write(
            dir.join("conf.d/b.conf"),
            b"mgroup from eth\xff group 225.1.1.2\n",
        )
        .unwrap();
        let mut rec = Recorder::new(FileSystem);
        let recorded = smcroute::load_from(&main, &smcroute::parse_source, &mut rec);
        let bytes = rec.into_transcript().encode();
        let transcript = Transcript::decode(&bytes).unwrap();
        let replayed =
            smcroute::load_from(&main, &smcroute::parse_source, &mut Replay::new(transcript));
        assert_eq!(recorded, replayed);
        assert_eq!(recorded.1.len(), 3, "{:?}", recorded.1);
        assert_eq!(recorded, smcroute::load_partial(&main));
        // Another question than the recorded ones is an error, not a read.
        let other = smcroute::load_from(
            &dir.join("other.conf"),
            &smcroute::parse_source,
            &mut Replay::new(Transcript::decode(&bytes).unwrap()),
        );
        assert!(
            other.1[0].to_string().contains("was not read"),
            "{:?}",
            other.1
        );
        // Truncated bytes are not a transcript.
        assert!(Transcript::decode(&bytes[..bytes.len() - 1]).is_none());
        fs::remove_dir_all(&dir).unwrap();
    }
}
