//! `[[stubs]]`: answers for actions terminus does not serve, so that an application's other calls
//! (`DescribeImages`, `DescribeZones`, …) do not stop it, in the manner of WireMock's stubs.
//!
//! A stub names an action, optionally the parameters a request must carry (each one equal to the request's, as
//! JSON; a form or query carries every value as a string), and either the `response` fields to answer (the
//! `RequestId` is added) or an `error` (code and message, in the provider's envelope; given both, the error is
//! answered; given neither, an empty success), and optionally how many times it answers. The first stub that matches answers; one whose `times` are used up no longer matches. Stubs
//! answer after authentication and the action's version, so a stubbed call is signed and checked like any other;
//! they answer only actions terminus does not serve (a served action's rules are never bypassed). API 3.0 CVM
//! only.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::World;

/// One stub, as written in a world file.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Stub {
    /// The action, e.g. `DescribeImages`.
    pub action: String,
    /// Parameters the request must carry, with these values; none: any request of the action.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    /// The answer's fields (besides `RequestId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Map<String, Value>>,
    /// Or an error to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StubError>,
    /// How many more times it answers; none: always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// A stub's error.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StubError {
    /// `Code`.
    pub code: String,
    /// `Message`.
    #[serde(default)]
    pub message: String,
}

/// What a matching stub answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Stubbed {
    /// A success with these fields.
    Response(Map<String, Value>),
    /// An error.
    Error(StubError),
}

impl Stub {
    fn matches(&self, action: &str, params: &Map<String, Value>) -> bool {
        self.action == action
            && self.times != Some(0)
            && self
                .params
                .iter()
                .all(|(name, value)| params.get(name) == Some(value))
    }
}

impl World {
    /// The answer of the first stub for `action` that matches `params`, counting one use of it.
    pub fn stubbed(&mut self, action: &str, params: &Map<String, Value>) -> Option<Stubbed> {
        let stub = self
            .spec
            .stubs
            .iter_mut()
            .find(|stub| stub.matches(action, params))?;
        if let Some(times) = &mut stub.times {
            *times -= 1;
        }
        Some(match (&stub.error, &stub.response) {
            (Some(error), _) => Stubbed::Error(error.clone()),
            (None, response) => Stubbed::Response(response.clone().unwrap_or_default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldSpec;

    #[test]
    fn the_first_matching_stub_answers_as_many_times_as_it_says() {
        let spec = WorldSpec::from_toml(
            r#"
            [[stubs]]
            action = "DescribeImages"
            params = { ImageIds = ["img-eb30mz89"] }
            response = { TotalCount = 1 }
            times = 1

            [[stubs]]
            action = "DescribeImages"
            error = { code = "InvalidImageId.NotFound", message = "no such image" }
            "#,
            "test",
        )
        .unwrap();
        let mut world = World::new(spec);
        let named: Map<String, Value> =
            serde_json::from_str(r#"{"ImageIds": ["img-eb30mz89"]}"#).unwrap();
        let first = world.stubbed("DescribeImages", &named);
        assert_eq!(
            first,
            Some(Stubbed::Response(
                serde_json::from_str(r#"{"TotalCount": 1}"#).unwrap()
            ))
        );
        assert!(matches!(
            world.stubbed("DescribeImages", &named),
            Some(Stubbed::Error(error)) if error.code == "InvalidImageId.NotFound"
        ));
        assert_eq!(world.stubbed("DescribeZones", &Map::new()), None);
    }
}
