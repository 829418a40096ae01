//! The world as requests share it: one mutex, and the one way a provider authenticates a request and decides it
//! on the same world.
//!
//! A provider reads what verification needs (the key, the clock and the world's [`World::generation`]) in a short
//! lock, verifies outside it (the HMAC is the slow part of a request), and then takes every decision of the request
//! (nonce, rate limit, rules, state change, request id) in one critical section, after checking that the world is
//! still the generation it verified against; when it is not (the control API replaced the world or moved its clock
//! in between), it verifies again inside that critical section. This lives with the world, not the server, so that
//! providers depend on the world and never on the server that calls them.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::World;
use crate::signing::Secret;

/// The world behind its one lock.
#[derive(Debug)]
pub struct SharedWorld {
    world: Mutex<World>,
}

impl SharedWorld {
    /// Shares `world`.
    pub fn new(world: World) -> Self {
        Self {
            world: Mutex::new(world),
        }
    }

    /// The world, locked. A panic elsewhere never leaves it unusable: the state is kept as it was.
    ///
    /// Whoever looks at the world sees it at the clock's time: the lifecycle's due transitions have happened
    /// ([`World::settle`], one comparison when nothing is due).
    pub fn lock(&self) -> MutexGuard<'_, World> {
        let mut world = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        world.settle();
        world
    }

    /// The world, locked: [`SharedWorld::lock`] under the name the providers' handlers read best.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.lock()
    }

    /// Authenticates a request and locks the world for its decisions, so that both are about one world.
    ///
    /// `read` takes what verification needs (the key, the clock) in a short lock; `verify` checks the signature
    /// outside it (an HMAC is the slow part of a request). Then the world is locked for the caller's decisions,
    /// and held: if its [`World::generation`] is no longer the one `read` saw (the control API replaced the world
    /// or moved its clock in between), `verify` runs again on what the locked world holds, inside the lock.
    pub fn authenticate<I, O>(
        &self,
        read: impl Fn(&World) -> I,
        verify: impl Fn(I) -> O,
    ) -> (MutexGuard<'_, World>, O) {
        let (generation, input) = {
            let world = self.lock();
            (world.generation(), read(&world))
        };
        let outcome = verify(input);
        let world = self.lock();
        if world.generation() == generation {
            return (world, outcome);
        }
        let outcome = verify(read(&world));
        (world, outcome)
    }

    /// [`SharedWorld::authenticate`] for a request signed with one account's key: the short lock copies only the
    /// key of the enabled account with this SecretId (`None`: no such account, or a disabled one) and the clock,
    /// never the account; `verify` checks the signature against them.
    pub fn authenticate_key<O>(
        &self,
        secret_id: &str,
        verify: impl Fn(Option<&Secret>, i64) -> O,
    ) -> (MutexGuard<'_, World>, O) {
        self.authenticate(
            |world| {
                let key = world
                    .account(secret_id)
                    .filter(|account| !account.disabled)
                    .map(|account| account.secret_key.clone());
                (key, world.clock.now())
            },
            |(key, now)| verify(key.as_ref(), now),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::world::WorldSpec;

    #[test]
    fn a_world_replaced_while_a_signature_is_verified_is_verified_again_under_the_decision_lock() {
        let shared = SharedWorld::new(World::new(WorldSpec::default_world()));
        let verified = Cell::new(Vec::new());
        let (world, outcome) = shared.authenticate(
            |world| world.generation(),
            |generation| {
                let mut seen = verified.take();
                seen.push(generation);
                verified.set(seen);
                if generation == 0 {
                    // A PUT /__terminus/world between the short lock and the decision lock.
                    shared.lock().replace(WorldSpec::default_world());
                }
                generation
            },
        );
        assert_eq!(outcome, world.generation());
        assert_eq!(verified.take(), vec![0, 1]);
    }

    #[test]
    fn an_unchanged_world_is_verified_once_outside_the_lock() {
        let shared = SharedWorld::new(World::new(WorldSpec::default_world()));
        let calls = Cell::new(0);
        let (world, outcome) = shared.authenticate(
            |world| world.generation(),
            |generation| {
                calls.set(calls.get() + 1);
                // Outside the lock: locking here does not deadlock.
                drop(shared.lock());
                generation
            },
        );
        assert_eq!((outcome, world.generation(), calls.get()), (0, 0, 1));
    }
}
