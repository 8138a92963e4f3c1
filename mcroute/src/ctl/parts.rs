//! Replies written in parts: a long `show` travels as several frames, each a [`Response`] of
//! the same kind holding some of the rows; the client concatenates them
//! ([`Response::append`]). The server cuts a reply it holds whole with [`Parts`], and a
//! handler that streams (see [`server::Handler`](super::server::Handler)) produces the parts
//! itself.

use super::{Response, RouteTables};

/// Moves up to `*n` items from the end of `v` (a list kept reversed) into a new list in
/// their original order, and counts them off `*n`. Time: the items moved.
fn take_rev<T>(v: &mut Vec<T>, n: &mut usize) -> Vec<T> {
    let k = (*n).min(v.len());
    *n -= k;
    let mut part = v.split_off(v.len() - k);
    part.reverse();
    part
}

impl Response {
    /// The number of rows of a list reply (a `show`); `None` for the others.
    pub fn rows(&self) -> Option<usize> {
        Some(match self {
            Response::Routes(t) => t.templates.len() + t.rules.len() + t.kernel.len(),
            Response::Groups(v) => v.len(),
            Response::Interfaces(v) => v.len(),
            Response::DvmrpInterfaces(v) => v.len(),
            Response::Neighbors(v) => v.len(),
            Response::DvmrpRoutes(v) => v.len(),
            Response::Mfc(v) => v.len(),
            Response::Igmp(t) => t.interfaces.len() + t.groups.len(),
            Response::Ok
            | Response::Error(_)
            | Response::Version(_)
            | Response::Compat(_)
            | Response::Status(_)
            | Response::Text(_) => return None,
        })
    }

    /// Appends the rows of `part`, the next part of the same reply.
    ///
    /// # Errors
    /// `part` is not of the same kind, or the kind is not a list (`Ok`, `Error`, `Version`).
    pub fn append(&mut self, part: Response) -> Result<(), String> {
        match (self, part) {
            (Response::Routes(a), Response::Routes(b)) => {
                a.templates.extend(b.templates);
                a.rules.extend(b.rules);
                a.kernel.extend(b.kernel);
            }
            (Response::Groups(a), Response::Groups(b)) => a.extend(b),
            (Response::Interfaces(a), Response::Interfaces(b)) => a.extend(b),
            (Response::DvmrpInterfaces(a), Response::DvmrpInterfaces(b)) => a.extend(b),
            (Response::Neighbors(a), Response::Neighbors(b)) => a.extend(b),
            (Response::DvmrpRoutes(a), Response::DvmrpRoutes(b)) => a.extend(b),
            (Response::Mfc(a), Response::Mfc(b)) => a.extend(b),
            (Response::Compat(a), Response::Compat(b)) => a.push_str(&b),
            (Response::Igmp(a), Response::Igmp(b)) => {
                a.interfaces.extend(b.interfaces);
                a.groups.extend(b.groups);
            }
            (a, b) => {
                return Err(format!(
                    "a reply in parts changed kind ({} then {})",
                    a.kind(),
                    b.kind()
                ))
            }
        }
        Ok(())
    }

    /// The name of the reply's kind (its JSON key).
    pub fn kind(&self) -> &'static str {
        match self {
            Response::Ok => "ok",
            Response::Error(_) => "error",
            Response::Version(_) => "version",
            Response::Routes(_) => "routes",
            Response::Groups(_) => "groups",
            Response::Interfaces(_) => "interfaces",
            Response::DvmrpInterfaces(_) => "vifs",
            Response::Neighbors(_) => "neighbors",
            Response::DvmrpRoutes(_) => "dvmrp_routes",
            Response::Mfc(_) => "mfc",
            Response::Compat(_) => "compat",
            Response::Igmp(_) => "igmp",
            Response::Status(_) => "status",
            Response::Text(_) => "text",
        }
    }

    /// Reverses every list (so that [`Response::take_rev`] takes from the front).
    fn reverse_lists(&mut self) {
        match self {
            Response::Routes(t) => {
                t.templates.reverse();
                t.rules.reverse();
                t.kernel.reverse();
            }
            Response::Groups(v) => v.reverse(),
            Response::Interfaces(v) => v.reverse(),
            Response::DvmrpInterfaces(v) => v.reverse(),
            Response::Neighbors(v) => v.reverse(),
            Response::DvmrpRoutes(v) => v.reverse(),
            Response::Mfc(v) => v.reverse(),
            Response::Igmp(t) => {
                t.interfaces.reverse();
                t.groups.reverse();
            }
            _ => {}
        }
    }

    /// The next `n` rows of a reply whose lists are reversed, as a reply of the same kind.
    fn take_rev(&mut self, mut n: usize) -> Response {
        let n = &mut n;
        match self {
            Response::Routes(t) => Response::Routes(RouteTables {
                templates: take_rev(&mut t.templates, n),
                rules: take_rev(&mut t.rules, n),
                kernel: take_rev(&mut t.kernel, n),
            }),
            Response::Groups(v) => Response::Groups(take_rev(v, n)),
            Response::Interfaces(v) => Response::Interfaces(take_rev(v, n)),
            Response::DvmrpInterfaces(v) => Response::DvmrpInterfaces(take_rev(v, n)),
            Response::Neighbors(v) => Response::Neighbors(take_rev(v, n)),
            Response::DvmrpRoutes(v) => Response::DvmrpRoutes(take_rev(v, n)),
            Response::Mfc(v) => Response::Mfc(take_rev(v, n)),
            Response::Igmp(t) => Response::Igmp(super::IgmpTables {
                interfaces: take_rev(&mut t.interfaces, n),
                groups: take_rev(&mut t.groups, n),
            }),
            other => std::mem::replace(other, Response::Ok),
        }
    }
}

/// A reply held whole, handed out in parts of a number of rows, each in time proportional to
/// its size (never re-copying what is left).
#[derive(Debug)]
pub struct Parts {
    rest: Response,
    done: bool,
}

impl Parts {
    /// Prepares `reply` to be cut.
    pub fn new(mut reply: Response) -> Parts {
        reply.reverse_lists();
        Parts {
            rest: reply,
            done: false,
        }
    }

    /// The next part of at most `rows` rows (a reply that is not a list comes whole), and
    /// whether it is the last; `None` once the last has been taken.
    pub fn next(&mut self, rows: usize) -> Option<(Response, bool)> {
        if self.done {
            return None;
        }
        let part = self.rest.take_rev(rows.max(1));
        self.done = self.rest.rows().unwrap_or(0) == 0;
        Some((part, self.done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::GroupRow;

    fn groups(n: usize) -> Response {
        Response::Groups(
            (0..n)
                .map(|i| GroupRow {
                    source: None,
                    group: format!("225.0.{}.{}/32", i / 256, i % 256).parse().unwrap(),
                    iif: format!("a{i}"),
                })
                .collect(),
        )
    }

    #[test]
    fn parts_concatenate_to_the_whole_in_order() {
        for (n, rows) in [(0, 3), (1, 3), (7, 3), (9, 3), (1000, 64)] {
            let whole = groups(n);
            let mut p = Parts::new(whole.clone());
            let (mut got, mut last) = p.next(rows).unwrap();
            let mut count = 1;
            while !last {
                let (part, l) = p.next(rows).unwrap();
                assert!(part.rows().unwrap() <= rows);
                got.append(part).unwrap();
                last = l;
                count += 1;
            }
            assert!(p.next(rows).is_none());
            assert_eq!(got, whole);
            assert_eq!(count, n.div_ceil(rows).max(1), "{n} rows by {rows}");
        }
        let mut p = Parts::new(Response::Version("v".into()));
        assert_eq!(p.next(5), Some((Response::Version("v".into()), true)));
        let mut v = Response::Ok;
        assert!(v.append(groups(1)).is_err());
    }

    #[test]
    fn route_tables_are_cut_across_their_three_lists() {
        let Response::Groups(g) = groups(5) else {
            unreachable!()
        };
        let row = |r: &GroupRow| crate::ctl::RouteRow {
            source: None,
            group: r.group,
            iif: r.iif.clone(),
            oifs: vec![],
            packets: None,
            bytes: None,
            no_vif: vec![],
        };
        let t = RouteTables {
            templates: g[..2].iter().map(row).collect(),
            rules: g[2..3].iter().map(row).collect(),
            kernel: g[3..].iter().map(row).collect(),
        };
        let mut p = Parts::new(Response::Routes(t.clone()));
        let (first, last) = p.next(3).unwrap();
        assert!(!last);
        let Response::Routes(f) = &first else {
            panic!("{first:?}")
        };
        assert_eq!(
            (f.templates.len(), f.rules.len(), f.kernel.len()),
            (2, 1, 0)
        );
        let mut all = first;
        let (second, last) = p.next(3).unwrap();
        assert!(last);
        all.append(second).unwrap();
        assert_eq!(all, Response::Routes(t));
    }
}
