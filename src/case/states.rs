//! Whether a world is in the states a step expects: the harness checks it after each step, the mock's scenario
//! verdict after a client's run.

use super::Expect;
use crate::world::WorldSpec;

impl Expect {
    /// Checks the instance, disk and address states the step expects against a world (a target's, after the
    /// step): `Err` lists every state that differs.
    pub fn check_states(&self, world: &WorldSpec) -> Result<(), String> {
        let mut actual: Vec<(&str, String, String)> = Vec::new();
        for instance in &world.bmc_instances {
            actual.push(("instance", instance.id.clone(), instance.status.name()));
        }
        for instance in &world.instances {
            actual.push(("instance", instance.id.clone(), instance.state.name()));
            for disk in &instance.data_disks {
                let state = serde_json::to_value(disk.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned));
                actual.push(("disk", disk.id.clone(), state.unwrap_or_default()));
            }
            if let Some(eip) = &instance.eip {
                actual.push((
                    "address",
                    eip.id.clone(),
                    if eip.released { "released" } else { "kept" }.to_owned(),
                ));
            }
        }
        let expected = [
            ("instance", &self.instances),
            ("disk", &self.disks),
            ("address", &self.addresses),
        ];
        let mut wrong = Vec::new();
        if let Some(state) = &self.every_instance {
            let instances = actual.iter().filter(|(kind, _, _)| *kind == "instance");
            for (_, id, is) in instances.filter(|(_, _, is)| is != state) {
                wrong.push(format!(
                    "  instance {id}: expected {state} (every instance), is {is}"
                ));
            }
            if !actual.iter().any(|(kind, _, _)| *kind == "instance") {
                wrong.push(format!(
                    "  every instance: expected {state}, but the world has none"
                ));
            }
        }
        for (what, states) in expected {
            for (id, state) in states {
                let is = actual
                    .iter()
                    .find(|(kind, known, _)| *kind == what && known == id)
                    .map_or("<absent>", |(_, _, s)| s);
                if is != state {
                    wrong.push(format!("  {what} {id}: expected {state}, is {is}"));
                }
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!("world state differs:\n{}", wrong.join("\n")))
        }
    }
}
