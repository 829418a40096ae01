//! Exact lookups by id in a world's lists of resources, in constant time whatever the world's size.
//!
//! An [`IdIndex`] holds only positions (a `hashbrown` table of `usize`, hashed by the id the list holds at that
//! position), so it costs about 9 bytes per resource and never copies an id. It is exact by construction: it is
//! built when the world starts, the world's lists are private to the world, the rules change a resource's state
//! but never its id, and the one way to add a resource ([`IdIndex::insert`], used by the world's `add_*`
//! methods) indexes it. An id given twice (which [`super::WorldSpec::check`] refuses in world files) is found at
//! its first position, as a scan from the start would find it.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

/// Positions in a list, by the id of the item at each (see the module docs).
#[derive(Clone, Default)]
pub(crate) struct IdIndex {
    table: HashTable<usize>,
    /// SipHash with per-process keys: ids come from untrusted requests, so collisions cannot be chosen.
    hasher: RandomState,
}

impl IdIndex {
    /// Indexes every item of `items` by `id`.
    pub(crate) fn build<T>(items: &[T], id: impl Fn(&T) -> &str) -> Self {
        let mut index = IdIndex {
            table: HashTable::with_capacity(items.len()),
            hasher: RandomState::new(),
        };
        for at in 0..items.len() {
            index.insert(items, at, &id);
        }
        index
    }

    /// Indexes the item at `at` (already in `items`), unless an earlier item has its id.
    pub(crate) fn insert<T>(&mut self, items: &[T], at: usize, id: impl Fn(&T) -> &str) {
        let key = id(&items[at]);
        let hash = self.hasher.hash_one(key);
        let hasher = &self.hasher;
        let entry = self.table.entry(
            hash,
            |&other| id(&items[other]) == key,
            |&other| hasher.hash_one(id(&items[other])),
        );
        if let hashbrown::hash_table::Entry::Vacant(vacant) = entry {
            vacant.insert(at);
        }
    }

    /// Where the item with this id is in `items`.
    pub(crate) fn get<T>(&self, items: &[T], key: &str, id: impl Fn(&T) -> &str) -> Option<usize> {
        self.table
            .find(self.hasher.hash_one(key), |&at| id(&items[at]) == key)
            .copied()
    }
}

impl std::fmt::Debug for IdIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdIndex")
            .field("ids", &self.table.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(item: &(String, u32)) -> &str {
        &item.0
    }

    #[test]
    fn finds_every_item_and_nothing_else_and_the_first_of_an_id_given_twice() {
        let mut items: Vec<(String, u32)> = (0..1000).map(|n| (format!("id-{n}"), n)).collect();
        items.push(("id-7".to_owned(), 9999));
        let mut index = IdIndex::build(&items, id);
        for n in 0..1000 {
            assert_eq!(index.get(&items, &format!("id-{n}"), id), Some(n));
        }
        assert_eq!(index.get(&items, "id-7", id), Some(7));
        assert_eq!(index.get(&items, "id-1000", id), None);
        items.push(("id-1000".to_owned(), 0));
        assert_eq!(index.get(&items, "id-1000", id), None, "not indexed yet");
        index.insert(&items, items.len() - 1, id);
        assert_eq!(index.get(&items, "id-1000", id), Some(1001));
    }
}
