//! One kind of resource of a world, kept with its index: a [`Store`] is a list in the world-file order and the
//! exact [`IdIndex`] of it, so a lookup by id is constant time whatever the world's size.
//!
//! The store is exact by construction, wherever it is (a world file just read, a spec built field by field, the
//! running world): every way in indexes what it adds ([`Store::push`], [`From<Vec<T>>`], deserialising), reading
//! is through a slice, and the only ways to change an item in place either keep ids by contract
//! ([`Store::at_mut`], [`Store::items_mut`], the world's own rules, which change a resource's state and never its
//! id) or re-index when an id changed ([`Store::update_all`]). An id given twice (which
//! [`super::WorldSpec::check`] refuses in world files) is found at its first position, as a scan would find it.
//!
//! On the wire a store is its list: the world-file format, the control API's JSON and the schema are the same as
//! for a `Vec`.

use std::borrow::Cow;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::bmc::BmcInstance;
use super::index::IdIndex;
use super::{Account, Instance};

/// A resource a [`Store`] holds: it has an id, unique among its kind.
pub trait Keyed {
    /// The id the store finds it by.
    fn key(&self) -> &str;
}

impl Keyed for Account {
    fn key(&self) -> &str {
        &self.secret_id
    }
}

impl Keyed for Instance {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for BmcInstance {
    fn key(&self) -> &str {
        &self.id
    }
}

/// A world's resources of one kind, in order, with their index by id (see the module docs).
#[derive(Clone)]
pub struct Store<T> {
    items: Vec<T>,
    index: IdIndex,
}

impl<T: Keyed> Store<T> {
    /// Where the item with this id is, in constant time.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(&self.items, id, T::key)
    }

    /// The item with this id, in constant time.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.position(id).map(|at| &self.items[at])
    }

    /// Appends an item and indexes it, unless an earlier item has its id (then it is found there, as a world file
    /// with an id twice, which [`super::WorldSpec::check`] refuses, would have it).
    pub fn push(&mut self, item: T) {
        self.items.push(item);
        self.index.insert(&self.items, self.items.len() - 1, T::key);
    }

    /// Appends an item whose id the store does not hold yet; `false`, changing nothing, when it holds one.
    pub fn insert(&mut self, item: T) -> bool {
        if self.position(item.key()).is_some() {
            return false;
        }
        self.push(item);
        true
    }

    /// Keeps the items `keep` says to, in order, and indexes the store again (a scan: for dropping what a world
    /// no longer holds, a batch at a time).
    pub(crate) fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
        self.index = IdIndex::build(&self.items, T::key);
    }

    /// Empties the store.
    pub fn clear(&mut self) {
        *self = Self::from(Vec::new());
    }

    /// Room for `additional` more items without reallocating the list.
    pub fn reserve(&mut self, additional: usize) {
        self.items.reserve(additional);
    }

    /// Changes every item, then indexes the store again if an id changed (a scan: for building worlds, not for
    /// requests).
    pub fn update_all(&mut self, mut change: impl FnMut(&mut T)) {
        let mut ids_changed = false;
        for item in &mut self.items {
            let before = item.key().to_owned();
            change(item);
            ids_changed |= item.key() != before;
        }
        if ids_changed {
            self.index = IdIndex::build(&self.items, T::key);
        }
    }

    /// The item at `at` (a position the store gave), to change its state. The caller keeps its id: the index
    /// would not follow.
    pub(crate) fn at_mut(&mut self, at: usize) -> &mut T {
        &mut self.items[at]
    }

    /// Every item, to change their states. The caller keeps their ids: the index would not follow.
    pub(crate) fn items_mut(&mut self) -> &mut [T] {
        &mut self.items
    }
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            index: IdIndex::default(),
        }
    }
}

impl<T: Keyed> From<Vec<T>> for Store<T> {
    /// Indexes every item (the first of an id given twice).
    fn from(items: Vec<T>) -> Self {
        let index = IdIndex::build(&items, T::key);
        Self { items, index }
    }
}

impl<T: Keyed> FromIterator<T> for Store<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Self::from(items.into_iter().collect::<Vec<_>>())
    }
}

impl<T: Keyed> Extend<T> for Store<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.push(item);
        }
    }
}

impl<T> Deref for Store<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<'a, T> IntoIterator for &'a Store<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<T: PartialEq> PartialEq for Store<T> {
    /// The same items in the same order (the index follows from them).
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.items).finish()
    }
}

impl<T: Serialize> Serialize for Store<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de> + Keyed> Deserialize<'de> for Store<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(deserializer).map(Store::from)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Store<T> {
    fn inline_schema() -> bool {
        <Vec<T>>::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        <Vec<T>>::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        <Vec<T>>::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Vec<T>>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_in_is_indexed_and_an_id_changed_in_place_is_found_at_once() {
        let mut store: Store<Instance> = (0..100)
            .map(|n| Instance::new(format!("ins-{n:08}")))
            .collect();
        store.push(Instance::new("ins-pushed00"));
        store.extend([Instance::new("ins-extended")]);
        assert!(store.insert(Instance::new("ins-inserted")));
        assert!(!store.insert(Instance::new("ins-00000007")), "an id twice");
        assert_eq!(store.len(), 103);
        for (at, instance) in store.iter().enumerate() {
            assert_eq!(store.position(&instance.id), Some(at));
        }
        store.update_all(|instance| {
            if instance.id == "ins-00000042" {
                instance.id = "ins-renamed0".into();
            }
        });
        assert_eq!(store.position("ins-renamed0"), Some(42));
        assert_eq!(store.position("ins-00000042"), None);
        let read: Store<Instance> =
            serde_json::from_value(serde_json::to_value(&store).unwrap()).unwrap();
        assert_eq!(read, store);
        assert_eq!(read.position("ins-inserted"), Some(102));
    }
}
