//! The refusals every resource's rules share: what is wrong with the ids a call names.
//!
//! Each resource's rules refuse with an enum of their own ([`super::rules::Refusal`] for CVM instances,
//! [`super::bmc::Refusal`] for Bare Metal ones), and both hold a [`BatchRefusal`] for what the providers mean
//! alike: no id, too many, one twice, one unknown. Each provider maps it to its own code and message, in one place
//! (`provider/tencent/codes.rs`, `provider/zenlayer/mock.rs`), so a new resource or provider reuses the meaning and
//! writes only its wording.

use std::collections::HashSet;

/// What is wrong with the ids a call names: the batch as a whole, or one id that names nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchRefusal {
    /// No ids.
    Empty,
    /// More ids than the call allows: how many were given.
    TooLarge(usize),
    /// An id given twice.
    DuplicateId(String),
    /// No such resource for the caller (in the request's region, for a regional resource).
    NotFound(String),
}

/// Checks a batch of ids: at least one, at most `max`, none twice (the first repeated id is the one named).
pub fn check_batch(ids: &[String], max: usize) -> Result<(), BatchRefusal> {
    if ids.is_empty() {
        return Err(BatchRefusal::Empty);
    }
    check_size(ids, max)?;
    let mut seen = HashSet::with_capacity(ids.len());
    match ids.iter().find(|id| !seen.insert(id.as_str())) {
        Some(id) => Err(BatchRefusal::DuplicateId(id.clone())),
        None => Ok(()),
    }
}

/// Checks that an optional list of ids (a filter: none is allowed) names at most `max`.
pub fn check_size(ids: &[String], max: usize) -> Result<(), BatchRefusal> {
    if ids.len() > max {
        return Err(BatchRefusal::TooLarge(ids.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn a_batch_is_refused_empty_then_too_large_then_for_its_first_repeated_id() {
        assert_eq!(check_batch(&[], 2), Err(BatchRefusal::Empty));
        assert_eq!(
            check_batch(&ids(&["a", "a", "a"]), 2),
            Err(BatchRefusal::TooLarge(3))
        );
        assert_eq!(
            check_batch(&ids(&["a", "b", "b", "a"]), 4),
            Err(BatchRefusal::DuplicateId("b".into()))
        );
        assert_eq!(check_batch(&ids(&["a", "b"]), 2), Ok(()));
        assert_eq!(check_size(&[], 2), Ok(()));
    }
}
