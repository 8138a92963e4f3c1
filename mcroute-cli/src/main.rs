//! `mcroutectl`: the control tool of the mcroute daemons.
//!
//! This first version prints its version and usage; the commands of smcroutectl(8) come
//! with the control protocol.

use std::process::ExitCode;

const USAGE: &str = "Usage: mcroutectl [-hv] [COMMAND [ARGS...]]

Control tool for the mcroute daemons (static-router, dvmrp-router).

Options:
  -h, --help       Show this help text and exit
  -v, --version    Show the version and exit
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-h") | Some("--help") | Some("help") | None => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("-v") | Some("--version") | Some("version") => {
            println!("mcroutectl {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("mcroutectl: unknown command or option {other:?} (try --help)");
            ExitCode::from(64)
        }
    }
}
