//! The one clock of a mock world: it dates signatures (expiry), fills the rate limiter's windows and drives
//! lifecycles such as Zenlayer's 24-hour recycle bin. `tokio::time::pause` would not do: signatures carry
//! wall-clock seconds, not a tokio `Instant`.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The end of time: what [`after`] gives when a sum passes the end of `i64`. Nothing due then ever falls due
/// ([`is_due`]), even on a clock that has saturated there: a reboot started at the end of time stays `REBOOTING`.
pub const NEVER: i64 = i64::MAX;

/// The time `seconds` after `at`, for every sum of a time and a duration in the world: [`NEVER`] when it passes
/// the end of `i64` (never wrapping); `at` itself for no time at all (one second earlier at the end of time, so
/// that an immediate transition still ends there). A negative duration saturates at `i64::MIN`.
pub fn after(at: i64, seconds: i64) -> i64 {
    match seconds {
        0 => at.min(NEVER - 1),
        1.. => at.checked_add(seconds).unwrap_or(NEVER),
        _ => at.saturating_add(seconds),
    }
}

/// Whether something due at `at` has fallen due at `now`: never when `at` is [`NEVER`].
pub fn is_due(at: i64, now: i64) -> bool {
    at != NEVER && at <= now
}

/// How a world's clock runs, as written in a world file (`[clock]`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case", tag = "mode", deny_unknown_fields)]
pub enum ClockSpec {
    /// The machine's time: what `terminus serve` uses, so that SDKs signing with their own clock are in time.
    #[default]
    Real,
    /// Stands still at `at` (Unix seconds) and moves only when advanced: reproducible runs.
    Fixed {
        /// The time, in Unix seconds.
        at: i64,
    },
    /// Starts at `at` and runs at real speed from there; can be advanced too.
    Virtual {
        /// The starting time, in Unix seconds.
        at: i64,
    },
}

/// A running clock.
#[derive(Clone, Debug)]
pub struct Clock {
    spec: ClockSpec,
    /// Seconds added by `advance`.
    offset: i64,
    started: Instant,
}

impl Clock {
    /// Starts a clock as the spec says.
    pub fn new(spec: ClockSpec) -> Self {
        Self {
            spec,
            offset: 0,
            started: Instant::now(),
        }
    }

    /// The current time in Unix seconds. Saturates at `i64::MIN` and `i64::MAX` rather than wrapping: a world
    /// set to the end of time stays there.
    pub fn now(&self) -> i64 {
        self.base().saturating_add(self.offset)
    }

    /// Moves the clock forward (or back, with a negative amount), saturating at either end of `i64`: advancing a
    /// clock at `i64::MAX` leaves it there, never at `i64::MIN`.
    pub fn advance(&mut self, seconds: i64) {
        let base = self.base();
        let target = base.saturating_add(self.offset).saturating_add(seconds);
        self.offset = target.saturating_sub(base);
    }

    /// The time before any `advance`.
    fn base(&self) -> i64 {
        let seconds =
            |elapsed: std::time::Duration| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX);
        match self.spec {
            ClockSpec::Real => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, seconds),
            ClockSpec::Fixed { at } => at,
            ClockSpec::Virtual { at } => at.saturating_add(seconds(self.started.elapsed())),
        }
    }

    /// Sets the clock to `at`; a real clock becomes a fixed one.
    pub fn set(&mut self, at: i64) {
        self.spec = match self.spec {
            ClockSpec::Virtual { .. } => ClockSpec::Virtual { at },
            _ => ClockSpec::Fixed { at },
        };
        self.offset = 0;
        self.started = Instant::now();
    }

    /// The clock as a spec that starts where this one is now.
    pub fn spec_now(&self) -> ClockSpec {
        match self.spec {
            ClockSpec::Real => ClockSpec::Real,
            ClockSpec::Fixed { .. } => ClockSpec::Fixed { at: self.now() },
            ClockSpec::Virtual { .. } => ClockSpec::Virtual { at: self.now() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_advanced() {
        let mut clock = Clock::new(ClockSpec::Fixed { at: 1_700_000_000 });
        assert_eq!(clock.now(), 1_700_000_000);
        clock.advance(30);
        assert_eq!(clock.now(), 1_700_000_030);
        clock.set(5);
        assert_eq!(clock.now(), 5);
    }

    #[test]
    fn the_clock_saturates_at_either_end_instead_of_wrapping() {
        let mut clock = Clock::new(ClockSpec::Fixed { at: i64::MAX });
        clock.advance(1);
        assert_eq!(clock.now(), i64::MAX);
        clock.advance(i64::MAX);
        assert_eq!(clock.now(), i64::MAX);
        clock.advance(-10);
        assert_eq!(clock.now(), i64::MAX - 10);
        clock.set(i64::MIN);
        clock.advance(-1);
        assert_eq!(clock.now(), i64::MIN);
        let clock = Clock::new(ClockSpec::Virtual { at: i64::MAX });
        assert_eq!(clock.now(), i64::MAX);
    }
}
