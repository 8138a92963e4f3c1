//! How the engine keeps its rules and the routes it installed: a few bytes each, with no
//! memory of their own.
//!
//! A [`RouteRule`] owns its interface names (a `String` for the inbound pattern, a `Vec`
//! of them for the outbound ones); a [`Route`](super::Route) as well. With 100,000 rules and
//! routes those allocations were most of what the engine kept. Here a rule refers to its
//! patterns by number ([`Patterns`]) and to its outbound list by number too (lists are
//! shared: most rules of a large configuration have the same one), and an installed route
//! is an inbound VIF slot and a bitset of outbound slots ([`Kept`]). The public forms are
//! built when asked for (actions, queries).

use ipnet::IpNet;

use super::config::{normalize_source, IfPattern};
use super::{Origin, RouteRule};
use crate::model::FastMap;

/// A route as the engine keeps it: the inbound VIF slot and the outbound slots (see
/// [`super::vifs`]). No outbound slot: a stop filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Kept {
    pub(super) iif: u8,
    pub(super) oifs: u64,
}

impl Kept {
    /// A stop filter from `iif`.
    pub(super) fn stop_filter(iif: u8) -> Kept {
        Kept { iif, oifs: 0 }
    }
}

/// A pattern's number in [`Patterns`].
pub(super) type PatId = u32;
/// An outbound list's number in [`Patterns`].
pub(super) type ListId = u32;

/// A route rule as the engine keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    pub(super) source: Option<IpNet>,
    pub(super) group: IpNet,
    pub(super) iif: PatId,
    pub(super) oifs: ListId,
    pub(super) origin: Origin,
}

/// The interface patterns and outbound lists the rules use, each stored once.
///
/// Numbers are never reused while the table lives; it is emptied with the rules, when a
/// configuration is applied.
#[derive(Debug, Clone, Default)]
pub(super) struct Patterns {
    pats: Vec<IfPattern>,
    pat_ids: FastMap<IfPattern, PatId>,
    lists: Vec<Box<[PatId]>>,
    list_ids: FastMap<Box<[PatId]>, ListId>,
}

impl Patterns {
    pub(super) fn clear(&mut self) {
        *self = Patterns::default();
    }

    /// The number of `p`, stored if new.
    pub(super) fn intern(&mut self, p: IfPattern) -> PatId {
        if let Some(&id) = self.pat_ids.get(&p) {
            return id;
        }
        let id = self.pats.len() as PatId;
        self.pats.push(p.clone());
        self.pat_ids.insert(p, id);
        id
    }

    /// The number of `p`, if stored.
    pub(super) fn find(&self, p: &IfPattern) -> Option<PatId> {
        self.pat_ids.get(p).copied()
    }

    /// The number of the list `ids`, stored if new.
    pub(super) fn intern_list(&mut self, ids: &[PatId]) -> ListId {
        if let Some(&id) = self.list_ids.get(ids) {
            return id;
        }
        let id = self.lists.len() as ListId;
        let b: Box<[PatId]> = ids.into();
        self.lists.push(b.clone());
        self.list_ids.insert(b, id);
        id
    }

    /// Pattern `id`.
    pub(super) fn pat(&self, id: PatId) -> &IfPattern {
        &self.pats[id as usize]
    }

    /// List `id`.
    pub(super) fn list(&self, id: ListId) -> &[PatId] {
        &self.lists[id as usize]
    }

    /// Pattern numbers of list `id`, as patterns.
    pub(super) fn list_pats(&self, id: ListId) -> impl Iterator<Item = &IfPattern> + '_ {
        self.list(id).iter().map(|&p| self.pat(p))
    }

    /// The rule `r`, stored: its patterns and list interned.
    pub(super) fn keep(&mut self, r: RouteRule, origin: Origin) -> Rule {
        let iif = self.intern(r.iif);
        let ids: Vec<PatId> = r.oifs.into_iter().map(|o| self.intern(o)).collect();
        Rule {
            source: r.source,
            group: r.group,
            iif,
            oifs: self.intern_list(&ids),
            origin,
        }
    }

    /// The public form of a kept rule.
    pub(super) fn rule(&self, r: &Rule) -> RouteRule {
        RouteRule {
            iif: self.pat(r.iif).clone(),
            source: r.source,
            group: r.group,
            oifs: self.list_pats(r.oifs).cloned().collect(),
        }
    }

    /// Whether kept rule `r` is rule `n` once normalized (compared without building the
    /// normalized copy).
    pub(super) fn same(&self, r: &Rule, n: &RouteRule) -> bool {
        if r.source != normalize_source(n.source)
            || r.group != n.group.trunc()
            || self.pat(r.iif) != &n.iif
        {
            return false;
        }
        // `n`'s outbound patterns without repeats, in order, against the kept list.
        let mut kept = self.list_pats(r.oifs);
        for (i, o) in n.oifs.iter().enumerate() {
            if n.oifs[..i].contains(o) {
                continue;
            }
            if kept.next() != Some(o) {
                return false;
            }
        }
        kept.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_kept_with_shared_patterns_and_lists() {
        let mut p = Patterns::default();
        let rule = |oifs: &[&str]| {
            RouteRule::new(
                "a1",
                None,
                "225.1.0.0/16".parse().unwrap(),
                oifs.iter().map(|o| IfPattern::new(o)),
            )
        };
        let a = p.keep(rule(&["a2", "a+"]), Origin::Config);
        let b = p.keep(rule(&["a2", "a+"]), Origin::Runtime);
        assert_eq!((a.iif, a.oifs), (b.iif, b.oifs));
        assert_eq!(p.rule(&a), rule(&["a2", "a+"]));
        assert!(p.same(&a, &rule(&["a2", "a+"])));
        assert!(p.same(&a, &rule(&["a2", "a2", "a+", "a2"])));
        assert!(!p.same(&a, &rule(&["a+", "a2"])));
        assert!(!p.same(&a, &rule(&["a2"])));
        assert!(!p.same(&a, &rule(&["a2", "a+", "a3"])));
        let c = p.keep(rule(&[]), Origin::Config);
        assert_ne!(c.oifs, a.oifs);
        assert_eq!(p.rule(&c).oifs, vec![]);
        assert_eq!(p.find(&IfPattern::new("a+")), Some(2));
        p.clear();
        assert_eq!(p.find(&IfPattern::new("a+")), None);
    }
}
