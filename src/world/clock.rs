//! The one clock of a mock world: it dates signatures (expiry), fills the rate limiter's windows and drives
//! lifecycles such as Zenlayer's 24-hour recycle bin. `tokio::time::pause` would not do: signatures carry
//! wall-clock seconds, not a tokio `Instant`.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

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

    /// The current time in Unix seconds.
    pub fn now(&self) -> i64 {
        let base = match self.spec {
            ClockSpec::Real => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs() as i64),
            ClockSpec::Fixed { at } => at,
            ClockSpec::Virtual { at } => at + self.started.elapsed().as_secs() as i64,
        };
        base + self.offset
    }

    /// Moves the clock forward (or back, with a negative amount).
    pub fn advance(&mut self, seconds: i64) {
        self.offset += seconds;
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
}
