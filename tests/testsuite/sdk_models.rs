//! The answers of the actions terminus serves against the response models of the pinned official Python SDK
//! (tencentcloud-sdk-python 3.1.195, `tests/clients/requirements.txt`): every field a model declares is present,
//! and holds the JSON type its `:type` line names (null is accepted for any field: the SDK reads it as unset, and
//! the recorded answers send null for fields the models type as strings, e.g. `Placement.HostId`).
//!
//! The models' declarations are copied into `tests/data/sdk-models/` by `extract.py` there (nothing outside the
//! repository is read at test time); the answers are those of cases run on the embedded mock, so each served
//! action is checked as a real client receives it.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use terminus::case;
use terminus::harness::{self, Outcome, Target};

/// `(product/version, model)` → its fields and their `:type`s, in the model's order.
type Models = HashMap<(String, String), Vec<(String, String)>>;

fn models() -> Models {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sdk-models/tencentcloud-sdk-python-3.1.195.txt");
    let text = std::fs::read_to_string(&path).expect("the models' copy");
    let mut models = Models::new();
    let mut current: Option<(String, String)> = None;
    for (n, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("class ") {
            let (name, product) = rest
                .split_once(" (")
                .unwrap_or_else(|| panic!("line {}: {line}", n + 1));
            let key = (product.trim_end_matches(')').to_owned(), name.to_owned());
            models.insert(key.clone(), Vec::new());
            current = Some(key);
        } else if let Some(rest) = line.strip_prefix(":type ") {
            let (field, kind) = rest
                .split_once(": ")
                .unwrap_or_else(|| panic!("line {}: {line}", n + 1));
            let key = current.as_ref().expect("a :type line inside a class");
            models
                .get_mut(key)
                .expect("its class")
                .push((field.to_owned(), kind.to_owned()));
        }
    }
    models
}

/// Every difference between `value` and the model `name` of `product`, with the JSON path of each.
fn check(models: &Models, product: &str, name: &str, value: &Value, path: &str) -> Vec<String> {
    let Some(fields) = models.get(&(product.to_owned(), name.to_owned())) else {
        return vec![format!("{path}: no model {product} {name} in the copy")];
    };
    let Some(object) = value.as_object() else {
        return vec![format!("{path}: {name} is not an object: {value}")];
    };
    let mut problems = Vec::new();
    for (field, kind) in fields {
        let at = format!("{path}.{field}");
        match object.get(field) {
            None => problems.push(format!("{at}: declared ({kind}), missing")),
            Some(value) => problems.extend(check_type(models, product, kind, value, &at)),
        }
    }
    problems
}

fn check_type(models: &Models, product: &str, kind: &str, value: &Value, at: &str) -> Vec<String> {
    if value.is_null() {
        return Vec::new();
    }
    let wrong = || vec![format!("{at}: declared {kind}, sent {value}")];
    if let Some(item) = kind.strip_prefix("list of ") {
        let Some(items) = value.as_array() else {
            return wrong();
        };
        return items
            .iter()
            .enumerate()
            .flat_map(|(n, value)| check_type(models, product, item, value, &format!("{at}[{n}]")))
            .collect();
    }
    let fits = match kind {
        "str" => value.is_string(),
        "int" => value.is_i64() || value.is_u64(),
        "float" => value.is_number(),
        "bool" => value.is_boolean(),
        model => {
            let model = model
                .strip_prefix(":class:`")
                .and_then(|rest| rest.rsplit_once('.'))
                .map_or(model, |(_, name)| name.trim_end_matches('`'));
            return check(models, product, model, value, at);
        }
    };
    if fits { Vec::new() } else { wrong() }
}

/// The product of a request: its host's first label and its API version.
fn product_of(host: &str, version: &str) -> Option<&'static str> {
    match (host.split('.').next()?, version) {
        ("tag", "2018-08-13") => Some("tag/v20180813"),
        (_, "2017-03-12") => Some("cvm/v20170312"),
        _ => None,
    }
}

/// Cases whose steps answer each served action with a success.
const CASES: [&str; 11] = [
    "tencent/run-instances/create-poll-stop-terminate-and-gone",
    "tencent/describe-instances/fields-the-recordings-show",
    "tencent/start-instances/stopped-instance-starts-in-15-seconds",
    "tencent/reboot-instances/rebooting-instance-is-running-again-after-15-seconds",
    "tencent/modify-instances-attribute/name-and-protection-change",
    "tencent/run-instances/internet-accessible-gives-a-public-address-while-running",
    "tencent/tag-resources/a-tag-added-shows-in-describe-instances-and-its-filters",
    "tencent/un-tag-resources/a-removed-tag-leaves-describe-instances",
    "tencent/modify-resource-tags/replace-and-delete-change-the-instances-tags",
    "tencent/get-resources/filtered-by-tag-and-paginated",
    "tencent/get-tags/lists-the-distinct-tags-of-the-callers-instances",
];

/// The actions the cases above must have answered with a success.
const SERVED: [&str; 13] = [
    "TagResources",
    "UnTagResources",
    "ModifyResourceTags",
    "GetResources",
    "GetTags",
    "RunInstances",
    "StartInstances",
    "StopInstances",
    "RebootInstances",
    "ModifyInstancesAttribute",
    "DescribeInstancesStatus",
    "DescribeInstances",
    "TerminateInstances",
];

#[test]
fn every_field_the_sdk_models_declare_is_sent_with_its_type() {
    let models = models();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut checked = BTreeSet::new();
    let mut problems = Vec::new();
    for id in CASES {
        let loaded = case::load(&root, &root.join(format!("{id}.toml"))).expect("the case loads");
        let run = runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(60),
                harness::run_case(&loaded, &Target::Mock),
            )
            .await
            .expect("the case finishes within a minute")
        });
        assert_eq!(run.outcome, Outcome::Passed, "{id}");
        for exchange in &run.exchanges {
            let (Some(action), Some(product)) = (
                exchange.request.header("X-TC-Action"),
                exchange.request.header("X-TC-Version").and_then(|version| {
                    product_of(exchange.request.header("Host").unwrap_or_default(), version)
                }),
            ) else {
                continue;
            };
            let Ok(response) = &exchange.response else {
                continue;
            };
            let body: Value = serde_json::from_slice(&response.body).expect("a JSON answer");
            let answer = &body["Response"];
            if answer.get("Error").is_some() {
                continue;
            }
            checked.insert(action.to_owned());
            problems.extend(check(
                &models,
                product,
                &format!("{action}Response"),
                answer,
                &format!("{id} {action}"),
            ));
        }
    }
    let missing: Vec<_> = SERVED
        .iter()
        .filter(|action| !checked.contains(**action))
        .collect();
    assert!(
        missing.is_empty(),
        "no success answer checked for {missing:?}"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_missing_or_mistyped_field_is_reported() {
    let models = models();
    let status = serde_json::json!({ "InstanceId": "ins-1", "InstanceState": "RUNNING" });
    let key = ("cvm/v20170312".to_owned(), "InstanceStatus".to_owned());
    assert!(models.contains_key(&key));
    assert!(check(&models, &key.0, &key.1, &status, "s").is_empty());
    let missing = serde_json::json!({ "InstanceId": "ins-1" });
    assert_eq!(
        check(&models, &key.0, &key.1, &missing, "s"),
        ["s.InstanceState: declared (str), missing"]
    );
    let mistyped = serde_json::json!({ "InstanceId": 7, "InstanceState": "RUNNING" });
    assert_eq!(
        check(&models, &key.0, &key.1, &mistyped, "s"),
        ["s.InstanceId: declared str, sent 7"]
    );
    let list = serde_json::json!({ "TotalCount": 1, "InstanceStatusSet": [{ "InstanceId": "i" }], "RequestId": "r" });
    assert_eq!(
        check(
            &models,
            &key.0,
            "DescribeInstancesStatusResponse",
            &list,
            "r"
        ),
        ["r.InstanceStatusSet[0].InstanceState: declared (str), missing"]
    );
}

/// The keys of `recorded` that `sent` lacks or holds in another order, recursively through objects and the first
/// element of arrays (`OperatorUin` aside: one recording has it, another of the same month not).
fn order_differences(recorded: &Value, sent: &Value, path: &str) -> Vec<String> {
    match (recorded, sent) {
        (Value::Object(recorded), Value::Object(sent)) => {
            let wanted: Vec<&String> = recorded
                .keys()
                .filter(|key| *key != "OperatorUin")
                .collect();
            let order: Vec<&String> = sent
                .keys()
                .filter(|key| recorded.contains_key(*key))
                .collect();
            let mut problems: Vec<String> = wanted
                .iter()
                .filter(|key| !sent.contains_key(**key))
                .map(|key| format!("{path}.{key}: recorded, not sent"))
                .collect();
            if problems.is_empty() && order != wanted {
                problems.push(format!("{path}: recorded order {wanted:?}, sent {order:?}"));
            }
            for key in wanted {
                if let Some(value) = sent.get(key) {
                    problems.extend(order_differences(
                        &recorded[key],
                        value,
                        &format!("{path}.{key}"),
                    ));
                }
            }
            problems
        }
        (Value::Array(recorded), Value::Array(sent)) => match (recorded.first(), sent.first()) {
            (Some(recorded), Some(sent)) => {
                order_differences(recorded, sent, &format!("{path}[0]"))
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[test]
fn an_instance_has_the_recorded_answers_fields_in_their_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let id = "tencent/describe-instances/fields-the-recordings-show";
    let cases = root.join("cases");
    let loaded = case::load(&cases, &cases.join(format!("{id}.toml"))).expect("the case loads");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let run = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(60),
            harness::run_case(&loaded, &Target::Mock),
        )
        .await
        .expect("the case finishes within a minute")
    });
    let body = run.exchanges[0]
        .response
        .as_ref()
        .expect("an answer")
        .body
        .clone();
    let sent: Value = serde_json::from_slice(&body).expect("JSON");
    let sent = &sent["Response"]["InstanceSet"][0];
    let mut problems = Vec::new();
    for name in ["c7n-06.json", "c7n-17.json"] {
        let text = std::fs::read_to_string(root.join("tests/data/recorded").join(name))
            .expect("the recording");
        let recorded: Value = serde_json::from_str(&text).expect("JSON");
        for (n, instance) in recorded["Response"]["InstanceSet"]
            .as_array()
            .expect("a set")
            .iter()
            .enumerate()
        {
            problems.extend(order_differences(
                instance,
                sent,
                &format!("{name} InstanceSet[{n}]"),
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
