//! What an installation ships beside the programs: the three programs built as binaries of
//! this package (what `cargo install --path mcroute-cli` installs), their manual pages
//! (rendered by man(1) without a warning, every option of `-h` documented) and the systemd
//! units (checked by `systemd-analyze verify` against these very binaries).
//!
//! A missing `man` or `systemd-analyze` skips its test loudly, and fails it when
//! `MCROUTE_REQUIRE_NETNS=1` (as `.ci/run` sets, after installing both).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The installed programs: (name, binary).
fn programs() -> [(&'static str, &'static str); 3] {
    [
        ("static-router", env!("CARGO_BIN_EXE_static-router")),
        ("dvmrp-router", env!("CARGO_BIN_EXE_dvmrp-router")),
        ("mcroutectl", env!("CARGO_BIN_EXE_mcroutectl")),
    ]
}

/// Whether `tool` runs here; if not, skips loudly (or fails under MCROUTE_REQUIRE_NETNS=1).
fn have(tool: &str, test: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var("MCROUTE_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
        panic!("{test}: `{tool}` is not installed but MCROUTE_REQUIRE_NETNS=1");
    }
    eprintln!("\n*** SKIPPED {test}: `{tool}` is not installed ***\n");
    false
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_three_programs_are_binaries_of_this_package() {
    for (name, bin) in programs() {
        let (ok, out, err) = run(Command::new(bin).arg("-v"));
        assert!(ok, "{name} -v: {err}");
        assert!(
            out.starts_with(name) && out.contains(env!("CARGO_PKG_VERSION")),
            "{name} -v printed {out:?}"
        );
    }
}

#[test]
fn man_pages_render_without_warnings_and_document_every_option() {
    if !have(
        "man",
        "man_pages_render_without_warnings_and_document_every_option",
    ) {
        return;
    }
    for (name, bin) in programs() {
        let page = repo().join("man").join(format!("{name}.8"));
        assert!(page.exists(), "{} is missing", page.display());
        let (ok, text, err) = run(Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env_remove("MAN_KEEP_FORMATTING")
            .env_remove("MANPAGER")
            .env("PAGER", "cat"));
        assert!(ok, "man -l {}: {err}", page.display());
        assert!(err.is_empty(), "{}: warnings:\n{err}", page.display());
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SEE ALSO"] {
            assert!(text.contains(section), "{name}.8 has no {section}");
        }
        // Every option the program's help lists is in its page.
        let (_, help, _) = run(Command::new(bin).arg("-h"));
        let source = std::fs::read_to_string(&page).unwrap();
        for word in help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']') {
            let opt = word.split('=').next().unwrap_or("");
            let is_opt = opt.len() >= 2
                && opt.starts_with('-')
                && opt[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                && opt
                    .chars()
                    .nth(1)
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '-');
            if is_opt {
                let roff = opt.replace('-', "\\-");
                assert!(
                    source.contains(&roff),
                    "{name}.8 does not document {opt} (from {name} -h)"
                );
            }
        }
    }
}

#[test]
fn systemd_units_verify_against_the_built_programs() {
    if !have(
        "systemd-analyze",
        "systemd_units_verify_against_the_built_programs",
    ) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("mcroute-units-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for unit in ["static-router.service", "dvmrp-router.service"] {
        let text = std::fs::read_to_string(repo().join("systemd").join(unit)).unwrap();
        for line in [
            "Type=notify",
            "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "NoNewPrivileges=yes",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        ] {
            assert!(text.lines().any(|l| l == line), "{unit} lacks {line}");
        }
        let reload = text
            .lines()
            .find(|l| l.starts_with("ExecReload="))
            .unwrap_or_else(|| panic!("{unit} has no ExecReload="));
        assert!(
            reload.contains("/mcroutectl ") && reload.ends_with(" reload"),
            "{reload}"
        );
        // The units name the installed programs; verify them against the ones built here.
        let mut local = text.clone();
        for (name, bin) in programs() {
            local = local.replace(&format!("/usr/local/bin/{name}"), bin);
        }
        assert!(
            !local.contains("/usr/local/bin/"),
            "{unit}: unknown program"
        );
        let path = dir.join(unit);
        std::fs::write(&path, local).unwrap();
        let (ok, out, err) = run(Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&path));
        assert!(
            ok && err.is_empty(),
            "systemd-analyze verify {unit}:\n{out}{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
