//! `mcroutectl`: the control tool of the mcroute daemons, a drop-in smcroutectl.
//!
//! The command syntax, its parsing and the output formats live in the library
//! (`mcroute::ctl`); this file handles options, the connection and exit codes.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use mcroute::ctl::client::CtlClient;
use mcroute::ctl::command::{self, Command, COMMANDS};
use mcroute::ctl::render::{self, Style};
use mcroute::ctl::{Request, Response};
use mcroute::daemon::getopt::{getopt, LongArg, Opt};
use mcroute::daemon::Paths;

const OPTIONS: &str = "Options:
  -b              Batch mode: read commands from stdin, one per line, over one connection
  -d              Detailed output: counters in show
  -i NAME         Daemon identity: talk to /run/NAME.sock (default smcroute)
  -I NAME         The same as -i
  -j, --json      JSON output for show commands
  -p              Plain output (accepted for smcroutectl compatibility; output is always plain)
  -t              Omit section titles and table headings
  -u FILE         Control socket to use, overrides -i
  -h, --help      Show this help text
  -v, --version   Show the version
";

fn usage() -> String {
    let mut s =
        String::from("Usage: mcroutectl [-bdjptv] [-i NAME] [-u FILE] [COMMAND [ARGS...]]\n\n");
    s.push_str(OPTIONS);
    s.push_str("\nCommands:\n");
    for (_, u, h) in COMMANDS {
        s.push_str(&format!("  {u:<50} {h}\n"));
    }
    s.push_str("\nCommands may be abbreviated to any unambiguous prefix: `mcroutectl s g`.\n");
    s
}

struct Opts {
    batch: bool,
    detail: bool,
    json: bool,
    style: Style,
    socket: PathBuf,
    words: Vec<String>,
}

fn parse_opts() -> Result<Opts, ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = getopt(
        &args,
        "bdhi:I:jptu:v",
        &[
            ("json", LongArg::None),
            ("help", LongArg::None),
            ("version", LongArg::None),
        ],
    )
    .map_err(|e| {
        eprintln!("mcroutectl: {e}\n{}", usage());
        ExitCode::from(64)
    })?;
    let mut o = Opts {
        batch: false,
        detail: false,
        json: false,
        style: Style::default(),
        socket: Paths::for_ident("smcroute").socket,
        words: Vec::new(),
    };
    let mut explicit_socket = None;
    for opt in parsed {
        match opt {
            Opt::Short('b', _) => o.batch = true,
            Opt::Short('d', _) => o.detail = true,
            Opt::Short('i' | 'I', Some(n)) => o.socket = Paths::for_ident(&n).socket,
            Opt::Short('j', _) => o.json = true,
            Opt::Long(l, _) if l == "json" => o.json = true,
            Opt::Short('p', _) => {}
            Opt::Short('t', _) => o.style.no_headings = true,
            Opt::Short('u', Some(f)) => explicit_socket = Some(PathBuf::from(f)),
            Opt::Short('h', _) => {
                print!("{}", usage());
                return Err(ExitCode::SUCCESS);
            }
            Opt::Long(l, _) if l == "help" => {
                print!("{}", usage());
                return Err(ExitCode::SUCCESS);
            }
            Opt::Short('v', _) => {
                println!("mcroutectl {}", env!("CARGO_PKG_VERSION"));
                return Err(ExitCode::SUCCESS);
            }
            Opt::Long(l, _) if l == "version" => {
                println!("mcroutectl {}", env!("CARGO_PKG_VERSION"));
                return Err(ExitCode::SUCCESS);
            }
            Opt::Free(w) => o.words.push(w),
            _ => {}
        }
    }
    if let Some(s) = explicit_socket {
        o.socket = s;
    }
    o.style.detail = o.detail;
    Ok(o)
}

/// Prints a reply; returns whether it was a success.
fn print_reply(o: &Opts, detail: bool, r: &Response) -> bool {
    match r {
        Response::Error(e) => {
            eprintln!("mcroutectl: {e}");
            false
        }
        Response::Ok => true,
        other => {
            let text = if o.json {
                render::json(other, detail).map(|j| j + "\n")
            } else {
                None
            };
            print!("{}", text.unwrap_or_else(|| render::human(other, o.style)));
            true
        }
    }
}

fn connect(o: &Opts) -> Result<CtlClient, ExitCode> {
    CtlClient::connect(&o.socket).map_err(|e| {
        eprintln!("mcroutectl: {e}");
        ExitCode::from(1)
    })
}

fn main() -> ExitCode {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(c) => return c,
    };
    if o.batch {
        return batch(&o);
    }
    let words: Vec<&str> = o.words.iter().map(String::as_str).collect();
    let cmd = match command::parse(&words, o.detail) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mcroutectl: {e}");
            return ExitCode::from(64);
        }
    };
    match cmd {
        Command::Help(None) => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        Command::Help(Some(c)) => {
            let (_, u, h) = COMMANDS
                .iter()
                .find(|x| x.0 == c)
                .expect("resolved command");
            println!("Usage: mcroutectl {u}\n\n{h}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("mcroutectl {}", env!("CARGO_PKG_VERSION"));
            if let Ok(mut c) = CtlClient::connect(&o.socket) {
                if let Ok(Response::Version(v)) = c.request(&Request::Version) {
                    println!("daemon: {v}");
                }
            }
            ExitCode::SUCCESS
        }
        Command::Request(req) => {
            let mut c = match connect(&o) {
                Ok(c) => c,
                Err(e) => return e,
            };
            match c.request(&req) {
                Ok(r) => {
                    if print_reply(&o, o.detail, &r) {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => {
                    eprintln!("mcroutectl: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// `-b`: every line of stdin is a command (blank lines and `#` comments skipped), sent
/// pipelined over one connection. Exits 1 if any command failed, naming its line.
fn batch(o: &Opts) -> ExitCode {
    let stdin = std::io::stdin();
    let mut reqs = Vec::new();
    let mut lines = Vec::new();
    let mut bad = false;
    for (n, line) in stdin.lock().lines().enumerate() {
        let Ok(line) = line else { break };
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        match command::parse(&words, o.detail) {
            Ok(Command::Request(r)) => {
                reqs.push(r);
                lines.push(n + 1);
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("mcroutectl: line {}: {e}", n + 1);
                bad = true;
            }
        }
    }
    if reqs.is_empty() {
        return if bad {
            ExitCode::from(64)
        } else {
            ExitCode::SUCCESS
        };
    }
    let mut c = match connect(o) {
        Ok(c) => c,
        Err(e) => return e,
    };
    match c.batch(&reqs) {
        Ok(replies) => {
            let mut failed = 0;
            for (r, line) in replies.iter().zip(&lines) {
                if let Response::Error(e) = r {
                    eprintln!("mcroutectl: line {line}: {e}");
                    failed += 1;
                } else {
                    print_reply(o, o.detail, r);
                }
            }
            if failed > 0 || bad {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("mcroutectl: {e}");
            ExitCode::from(1)
        }
    }
}
