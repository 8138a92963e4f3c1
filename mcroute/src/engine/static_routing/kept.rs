//! How the engine keeps the routes it installed: the same information as a [`Route`], with
//! interface names shared between routes instead of copied into each one.
//!
//! A [`Route`] owns its names (a `String` for the inbound interface, a `Vec` of `String`s
//! for the outbound ones): three allocations a route, which with 100,000 routes is most of
//! what the engine keeps. A [`Kept`] route refers to the names of the engine's VIF table
//! ([`Name`], shared) and holds a single outbound interface inline, so a typical route
//! allocates nothing. [`Kept::to_route`] gives the public form, for actions and queries.

use std::net::IpAddr;
use std::sync::Arc;

use super::Route;

/// An interface name, shared by the VIF table and every route that uses the interface.
pub(super) type Name = Arc<str>;

/// The outbound interfaces of a kept route with their TTL thresholds, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Oifs {
    /// None: a stop filter.
    None,
    /// One, inline.
    One(Name, u8),
    /// Two or more.
    Many(Box<[(Name, u8)]>),
}

impl Oifs {
    /// From a list sorted by name without duplicates.
    pub(super) fn from_sorted(mut v: Vec<(Name, u8)>) -> Oifs {
        match v.len() {
            0 => Oifs::None,
            1 => {
                let (n, t) = v.pop().expect("one");
                Oifs::One(n, t)
            }
            _ => Oifs::Many(v.into_boxed_slice()),
        }
    }

    /// The interfaces and thresholds, in name order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Name, u8)> + '_ {
        let none: &[(Name, u8)] = &[];
        let (one, many) = match self {
            Oifs::None => (None, none),
            Oifs::One(n, t) => (Some((n, *t)), none),
            Oifs::Many(v) => (None, &v[..]),
        };
        one.into_iter().chain(many.iter().map(|(n, t)| (n, *t)))
    }
}

/// A route as the engine keeps it; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Kept {
    /// S.
    pub(super) source: IpAddr,
    /// G.
    pub(super) group: IpAddr,
    /// The inbound interface.
    pub(super) iif: Name,
    /// The outbound interfaces.
    pub(super) oifs: Oifs,
}

impl Kept {
    /// A stop filter: (S,G) from `iif` to nowhere.
    pub(super) fn stop_filter(iif: Name, source: IpAddr, group: IpAddr) -> Kept {
        Kept {
            source,
            group,
            iif,
            oifs: Oifs::None,
        }
    }

    /// Whether `name` is the inbound interface or an outbound one.
    pub(super) fn uses(&self, name: &str) -> bool {
        &*self.iif == name || self.oifs.iter().any(|(o, _)| &**o == name)
    }

    /// The public form, with owned names.
    pub(super) fn to_route(&self) -> Route {
        // String::from copies with one exact allocation (to_string would go through the
        // formatter and grow the string).
        let owned = |n: &Name| String::from(&**n);
        let oifs = match &self.oifs {
            Oifs::None => Vec::new(),
            Oifs::One(n, t) => vec![(owned(n), *t)],
            Oifs::Many(v) => v.iter().map(|(n, t)| (owned(n), *t)).collect(),
        };
        Route {
            source: self.source,
            group: self.group,
            iif: owned(&self.iif),
            oifs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from(s)
    }

    #[test]
    fn kept_routes_give_the_same_routes() {
        let s: IpAddr = "192.0.2.1".parse().unwrap();
        let g: IpAddr = "225.1.2.3".parse().unwrap();
        let stop = Kept::stop_filter(name("a1"), s, g);
        assert_eq!(stop.oifs, Oifs::None);
        assert_eq!(
            stop.to_route(),
            Route {
                source: s,
                group: g,
                iif: "a1".into(),
                oifs: vec![]
            }
        );
        let one = Kept {
            oifs: Oifs::from_sorted(vec![(name("a2"), 3)]),
            ..stop.clone()
        };
        assert!(matches!(one.oifs, Oifs::One(..)));
        assert!(one.uses("a1") && one.uses("a2") && !one.uses("a3"));
        assert_eq!(one.to_route().oifs, vec![("a2".to_string(), 3)]);
        let many = Kept {
            oifs: Oifs::from_sorted(vec![(name("a2"), 1), (name("a3"), 2)]),
            ..stop.clone()
        };
        assert!(many.uses("a3"));
        assert_eq!(
            many.to_route().oifs,
            vec![("a2".to_string(), 1), ("a3".to_string(), 2)]
        );
        assert_ne!(one, many);
        assert_eq!(many.clone(), many);
    }
}
