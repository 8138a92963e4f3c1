//! A small getopt(3) for the daemons' command lines: clustered short flags (`-nN`), values
//! attached or separate (`-f FILE`, `-fFILE`), `--long` and `--long=VALUE`, `--` ending
//! options. Unknown options and missing values are errors naming the option.

/// One parsed option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opt {
    /// A short option and its value, if it takes one.
    Short(char, Option<String>),
    /// A long option (without the dashes) and its value, if it takes one.
    Long(String, Option<String>),
    /// A word that is not an option.
    Free(String),
}

/// Whether a long option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongArg {
    /// No value.
    None,
    /// A value is required.
    Required,
    /// A value may follow after `=` only.
    Optional,
}

/// A command line error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetoptError {
    /// An option that is not in the spec.
    #[error("unknown option {0}")]
    Unknown(String),
    /// An option that needs a value got none.
    #[error("option {0} requires an argument")]
    MissingValue(String),
    /// A long option that takes no value got one.
    #[error("option {0} takes no argument")]
    UnexpectedValue(String),
}

/// Parses `args` (without the program name). `short` is a getopt spec: letters, each
/// followed by `:` if it takes a value, or `::` if the value is optional (attached only,
/// or a following word that does not start with `-`). `long` lists long options.
pub fn getopt(
    args: &[String],
    short: &str,
    long: &[(&str, LongArg)],
) -> Result<Vec<Opt>, GetoptError> {
    let spec: Vec<(char, u8)> = {
        let cs: Vec<char> = short.chars().collect();
        let mut v = Vec::new();
        let mut i = 0;
        while i < cs.len() {
            let mut colons = 0u8;
            while cs.get(i + 1 + colons as usize) == Some(&':') {
                colons += 1;
            }
            v.push((cs[i], colons));
            i += 1 + colons as usize;
        }
        v
    };
    let mut out = Vec::new();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        if a == "--" {
            out.extend(it.by_ref().map(|w| Opt::Free(w.clone())));
            break;
        }
        if let Some(l) = a.strip_prefix("--") {
            let (name, val) = match l.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (l, None),
            };
            let Some(&(_, kind)) = long.iter().find(|(n, _)| *n == name) else {
                return Err(GetoptError::Unknown(format!("--{name}")));
            };
            let val = match (kind, val) {
                (LongArg::None, Some(_)) => {
                    return Err(GetoptError::UnexpectedValue(format!("--{name}")))
                }
                (LongArg::None, None) => None,
                (LongArg::Required, Some(v)) => Some(v),
                (LongArg::Required, None) => Some(
                    it.next()
                        .cloned()
                        .ok_or_else(|| GetoptError::MissingValue(format!("--{name}")))?,
                ),
                (LongArg::Optional, v) => v,
            };
            out.push(Opt::Long(name.to_string(), val));
            continue;
        }
        match a.strip_prefix('-') {
            Some(flags) if !flags.is_empty() => {
                let chars: Vec<char> = flags.chars().collect();
                let mut i = 0;
                while i < chars.len() {
                    let c = chars[i];
                    let Some(&(_, colons)) = spec.iter().find(|(s, _)| *s == c) else {
                        return Err(GetoptError::Unknown(format!("-{c}")));
                    };
                    if colons == 0 {
                        out.push(Opt::Short(c, None));
                        i += 1;
                        continue;
                    }
                    let attached: String = chars[i + 1..].iter().collect();
                    let val = if !attached.is_empty() {
                        Some(attached)
                    } else if colons == 1 {
                        Some(
                            it.next()
                                .cloned()
                                .ok_or_else(|| GetoptError::MissingValue(format!("-{c}")))?,
                        )
                    } else {
                        match it.peek() {
                            Some(n) if !n.starts_with('-') => it.next().cloned(),
                            _ => None,
                        }
                    };
                    out.push(Opt::Short(c, val));
                    break;
                }
            }
            _ => out.push(Opt::Free(a.clone())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn short_long_and_values() {
        let o = getopt(
            &v(&[
                "-nN",
                "-f",
                "a.conf",
                "-t3",
                "-d",
                "--ident",
                "x",
                "--foreground",
                "free",
            ]),
            "nNf:t:d::",
            &[("ident", LongArg::Required), ("foreground", LongArg::None)],
        )
        .unwrap();
        assert_eq!(
            o,
            vec![
                Opt::Short('n', None),
                Opt::Short('N', None),
                Opt::Short('f', Some("a.conf".into())),
                Opt::Short('t', Some("3".into())),
                Opt::Short('d', None),
                Opt::Long("ident".into(), Some("x".into())),
                Opt::Long("foreground".into(), None),
                Opt::Free("free".into()),
            ]
        );
        assert_eq!(
            getopt(&v(&["-d", "all,igmp"]), "d::", &[]).unwrap(),
            vec![Opt::Short('d', Some("all,igmp".into()))]
        );
        assert_eq!(
            getopt(&v(&["-x"]), "n", &[]),
            Err(GetoptError::Unknown("-x".into()))
        );
        assert_eq!(
            getopt(&v(&["-f"]), "f:", &[]),
            Err(GetoptError::MissingValue("-f".into()))
        );
        assert_eq!(
            getopt(&v(&["--help=3"]), "", &[("help", LongArg::None)]),
            Err(GetoptError::UnexpectedValue("--help".into()))
        );
    }
}
