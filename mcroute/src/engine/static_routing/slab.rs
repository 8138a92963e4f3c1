//! The engine's route rules by sequence number.
//!
//! Sequence numbers are handed out in order from 0 (and start again at 0 with each applied
//! configuration), so the rules live in a vector indexed by sequence number: adding one is
//! a push, looking one up an index, and iterating gives configuration order. A rule removed
//! at run time leaves an empty slot until the next configuration is applied.

/// Values indexed by sequence numbers handed out in order.
#[derive(Debug, Clone)]
pub(super) struct Slab<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { slots: Vec::new() }
    }
}

impl<T> Slab<T> {
    /// Removes everything (the next sequence number is 0 again).
    pub(super) fn clear(&mut self) {
        self.slots.clear();
    }

    /// Makes room for `n` more values.
    pub(super) fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
    }

    /// The sequence number the next [`Slab::push`] gets.
    pub(super) fn next_seq(&self) -> u64 {
        self.slots.len() as u64
    }

    /// Stores `value` under the next sequence number and returns it.
    pub(super) fn push(&mut self, value: T) -> u64 {
        self.slots.push(Some(value));
        self.slots.len() as u64 - 1
    }

    pub(super) fn get(&self, seq: &u64) -> Option<&T> {
        self.slots.get(usize::try_from(*seq).ok()?)?.as_ref()
    }

    pub(super) fn get_mut(&mut self, seq: &u64) -> Option<&mut T> {
        self.slots.get_mut(usize::try_from(*seq).ok()?)?.as_mut()
    }

    pub(super) fn remove(&mut self, seq: &u64) -> Option<T> {
        self.slots.get_mut(usize::try_from(*seq).ok()?)?.take()
    }

    /// The values from sequence number `seq` on, with their numbers, in sequence order.
    pub(super) fn iter_from(&self, seq: u64) -> impl Iterator<Item = (u64, &T)> {
        let start = usize::try_from(seq)
            .unwrap_or(usize::MAX)
            .min(self.slots.len());
        self.slots[start..]
            .iter()
            .zip(seq..)
            .filter_map(|(v, n)| v.as_ref().map(|v| (n, v)))
    }

    /// The values, in sequence order.
    pub(super) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_index_the_values_in_order() {
        let mut s = Slab::default();
        assert_eq!(s.next_seq(), 0);
        assert_eq!(s.push("a"), 0);
        assert_eq!(s.push("b"), 1);
        assert_eq!(s.push("c"), 2);
        assert_eq!(s.remove(&1), Some("b"));
        assert_eq!(s.remove(&1), None);
        assert_eq!(s.get(&1), None);
        assert_eq!(s.get(&2), Some(&"c"));
        assert_eq!(s.get(&7), None);
        *s.get_mut(&0).unwrap() = "A";
        assert_eq!(s.values().copied().collect::<Vec<_>>(), ["A", "c"]);
        assert_eq!(s.push("d"), 3, "a removed number is not reused");
        s.clear();
        assert_eq!((s.values().count(), s.next_seq()), (0, 0));
    }
}
