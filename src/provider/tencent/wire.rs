//! Tencent Cloud API 3.0 on the wire: the envelope, error codes and messages, and action parameters decoded
//! from a JSON body or from flattened `Name.N` form parameters.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::message::Request;
use crate::signing::diagnose::PythonJson;
use crate::signing::hmac_param;

/// The API version of CVM `TerminateInstances`.
pub const VERSION: &str = "2017-03-12";

/// The regions `TerminateInstances` supports (seed 001: "This API only supports: …").
pub const SUPPORTED_REGIONS: [&str; 18] = [
    "ap-bangkok",
    "ap-beijing",
    "ap-chengdu",
    "ap-chongqing",
    "ap-guangzhou",
    "ap-hongkong",
    "ap-jakarta",
    "ap-nanjing",
    "ap-seoul",
    "ap-shanghai",
    "ap-shanghai-fsi",
    "ap-shenzhen-fsi",
    "ap-singapore",
    "ap-tokyo",
    "eu-frankfurt",
    "na-ashburn",
    "na-siliconvalley",
    "sa-saopaulo",
];

/// CVM regions the SDKs know (Go SDK `regions.go`) that `TerminateInstances` does not support.
pub const OTHER_CVM_REGIONS: [&str; 4] =
    ["ap-guangzhou-open", "ap-mumbai", "eu-moscow", "na-toronto"];

/// Common parameters of the `Signature` parameter form, which are not action parameters.
pub const COMMON_PARAMS: [&str; 11] = [
    "Action",
    "Version",
    "Region",
    "Timestamp",
    "Nonce",
    "SecretId",
    "Signature",
    "SignatureMethod",
    "Token",
    "Language",
    "RequestClient",
];

/// The codes whose en-US message is the text (or template) of a recorded real answer, and the sample in
/// `shared/reference/real-wire.md` it comes from, in the situation the sample shows (`InvalidParameterValue`: a bad
/// `Limit`; `InvalidAction`: an unknown action, not a product terminus does not serve). Every other message is the
/// documentation's or terminus's wording.
pub const RECORDED_MESSAGES: [(&str, &str); 10] = [
    ("AuthFailure.SecretIdNotFound", "ISS-10"),
    ("AuthFailure.SignatureExpire", "FILE-01"),
    ("AuthFailure.SignatureFailure", "ISS-07"),
    ("InvalidAction", "FILE-02"),
    ("InvalidInstanceId.NotFound", "ISS-01"),
    ("InvalidParameterValue", "ISS-18"),
    ("MissingParameter", "ISS-11"),
    ("OperationDenied.InstanceOperationInProgress", "ISS-03"),
    ("RequestLimitExceeded", "ISS-13"),
    ("UnknownParameter", "ISS-15"),
];

/// An error to answer with: a documented code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The documented code, e.g. `InvalidInstanceId.NotFound`.
    pub code: String,
    /// The en-US message, in the style of the official one (messages are not stable; clients must not parse
    /// them).
    pub message: String,
    /// The zh-CN message, where a real one is known; otherwise the documentation's description of the code
    /// ([`Language::ZhCn`]).
    pub message_zh: Option<String>,
}

impl ApiError {
    /// An error with this code and en-US message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            message_zh: None,
        }
    }

    /// The same error with its zh-CN message.
    pub fn zh(mut self, message: impl Into<String>) -> Self {
        self.message_zh = Some(message.into());
        self
    }

    /// The message in `language`: zh-CN is the error's own zh-CN message, else the documentation's description of
    /// its code (seed 002's error table), else the en-US message: the gateway too answers some errors in English
    /// whatever the language asked (`MissingParameter`, real-wire.md ISS-11).
    pub fn message_in(&self, language: Language) -> &str {
        match language {
            Language::EnUs => &self.message,
            Language::ZhCn => self
                .message_zh
                .as_deref()
                .or_else(|| documented_zh(&self.code))
                .unwrap_or(&self.message),
        }
    }
}

/// The language of an answer's messages: `X-TC-Language` (TC3) or the `Language` parameter (the `Signature`
/// form). The Python SDK and tccli send `zh-CN` by default, the Terraform provider `en-US`; without either, en-US.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Language {
    /// `en-US`, and the default.
    #[default]
    EnUs,
    /// `zh-CN`.
    ZhCn,
}

impl Language {
    /// The language a request asks for, read without verifying anything (an answer is in it whatever the request's
    /// fate); any value but `zh-CN` reads as en-US.
    pub fn of(request: &Request) -> Self {
        let zh_cn = match request.header("x-tc-language") {
            Some(value) => value.trim() == "zh-CN",
            None if request.header("authorization").is_none() => hmac_param::Params::read(request)
                .is_ok_and(|form| form.get("Language") == Some("zh-CN")),
            None => false,
        };
        if zh_cn {
            Language::ZhCn
        } else {
            Language::EnUs
        }
    }
}

/// The zh-CN description of a code in the documentation's error table (seed 002, `TerminateInstances` 错误码),
/// for codes whose real zh-CN message is not known.
fn documented_zh(code: &str) -> Option<&'static str> {
    Some(match code {
        "FailedOperation.InvalidInstanceApplicationRole" => "不支持操作的applicationRole实例",
        "FailedOperation.Unreturnable" => "实例无法退还。",
        "InternalError.TradeUnknownError" => "内部错误",
        "InternalServerError" => "操作内部错误。",
        "InvalidAccount.UnpaidOrder" => "账户有未支付订单。",
        "InvalidInstance.NotSupported" => "不被支持的实例。",
        "InvalidInstanceId.Malformed" => {
            "无效实例ID。指定的实例ID格式错误。例如实例ID长度错误ins-1122。"
        }
        "InvalidInstanceNotSupportedPrepaidInstance" => "该实例不满足包月退还规则。",
        "InvalidParameterValue" => "参数取值错误。",
        "InvalidParameterValue.InstanceIdMalformed" => {
            "实例ID不合要求，请提供规范的实例ID，类似ins-xxxxxxxx，字母x代表小写字符或数字。"
        }
        "InvalidParameterValue.InvalidAppIdFormat" => "无效的appid。",
        "InvalidParameterValue.LimitExceeded" => "参数值数量超过限制。",
        "InvalidParameterValue.NotSupported" => "不支持的操作。",
        "LimitExceeded.UserReturnQuota" => "退还失败，退还配额已达上限。",
        "MutexOperation.TaskRunning" => "同样的任务正在运行。",
        "OperationDenied.InstanceOperationInProgress" => "实例正在执行其他操作，请稍后再试。",
        "UnauthorizedOperation.InvalidToken" => "请确认Token是否有效。",
        "UnauthorizedOperation.MFAExpired" => {
            "您无法进行当前操作，请确认多因子认证（MFA）是否失效。"
        }
        "UnauthorizedOperation.MFANotFound" => {
            "没有权限进行此操作，请确认是否存在多因子认证（MFA）。"
        }
        "UnsupportedOperation" => "操作不支持。",
        "UnsupportedOperation.InstanceChargeType" => "请求不支持该实例计费模式",
        "UnsupportedOperation.InstanceMixedPricingModel" => "不支持混合付费模式。",
        "UnsupportedOperation.InstanceStateBanning" => "该子机处于封禁状态，请联系相关人员处理。",
        "UnsupportedOperation.InstanceStateEnterRescueMode" => "请求不支持进入救援模式的实例",
        "UnsupportedOperation.InstanceStateExitRescueMode" => "请求不支持正在退出救援模式的实例",
        "UnsupportedOperation.InstanceStateFreezing" => "操作不支持已冻结的实例。",
        "UnsupportedOperation.InstanceStateIsolating" => "请求不支持正在隔离状态的实例。",
        "UnsupportedOperation.InstanceStateLaunchFailed" => "不支持操作创建失败的实例。",
        "UnsupportedOperation.InstanceStatePending" => "请求不支持创建未完成的实例",
        "UnsupportedOperation.InstanceStateRebooting" => "请求不支持正在重启的实例",
        "UnsupportedOperation.InstanceStateStarting" => "实例开机中，不允许该操作。",
        "UnsupportedOperation.InstanceStateStopping" => "请求不支持正在关机的实例",
        "UnsupportedOperation.InstanceStateTerminated" => "不支持已销毁的实例",
        "UnsupportedOperation.InstanceStateTerminating" => "请求不支持正在销毁的实例",
        "UnsupportedOperation.InstancesProtected" => {
            "不支持已启用销毁保护的实例，请先到设置实例销毁保护，关闭实例销毁保护，然后重试。"
        }
        "UnsupportedOperation.InvalidInstancesOwner" => "用户无权限操作当前实例。",
        "UnsupportedOperation.RedHatInstanceTerminateUnsupported" => {
            "实例使用商业操作系统，不支持退还。"
        }
        "UnsupportedOperation.RedHatInstanceUnsupported" => "请求不支持操作系统为RedHat的实例。",
        "UnsupportedOperation.Region" => "不支持该地域",
        "UnsupportedOperation.SpecialInstanceType" => "请求不支持特殊机型的实例",
        "UnsupportedOperation.UserLimitOperationExceedQuota" => "用户限额操作的配额不足。",
        _ => return None,
    })
}

/// Ids as Python prints a list of strings (`['ins-a', 'ins-b']`): the real messages quote instance ids so
/// (real-wire.md §6.6, ISS-01..03). Written straight into the message that quotes them.
pub fn python_list<'a>(ids: &'a [&'a str]) -> impl std::fmt::Display + 'a {
    PythonList(ids)
}

struct PythonList<'a>(&'a [&'a str]);

impl std::fmt::Display for PythonList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_char('[')?;
        for (at, id) in self.0.iter().enumerate() {
            if at > 0 {
                f.write_str(", ")?;
            }
            write_python_str(f, id)?;
        }
        f.write_char(']')
    }
}

/// A string as Python's `repr` prints it: single quotes unless it holds one and no double quote.
fn write_python_str(f: &mut std::fmt::Formatter<'_>, text: &str) -> std::fmt::Result {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    f.write_char(quote)?;
    for c in text.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c == quote => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char(quote)
}

/// `{"Response": {…fields, "RequestId": …}}`, laid out as the CVM backend writes success bodies: Python's
/// `json.dumps` defaults, `", "` and `": "` separators, non-ASCII text as is (recorded CVM answers, real-wire.md
/// §6.2: their `Content-Length` is the length of exactly this layout).
pub fn success(request_id: &str, fields: &Map<String, Value>) -> Vec<u8> {
    /// The envelope serialised straight from the fields and the id, with no object built to hold them.
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        #[serde(rename = "Response")]
        response: Response<'a>,
    }
    struct Response<'a> {
        fields: &'a Map<String, Value>,
        request_id: &'a str,
    }
    impl serde::Serialize for Response<'_> {
        /// `RequestId` where a field of that name stands, else last: where inserting it in the fields puts it.
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap as _;
            let replaced = self.fields.contains_key("RequestId");
            let mut map =
                serializer.serialize_map(Some(self.fields.len() + usize::from(!replaced)))?;
            for (name, value) in self.fields {
                if name == "RequestId" {
                    map.serialize_entry(name, self.request_id)?;
                } else {
                    map.serialize_entry(name, value)?;
                }
            }
            if !replaced {
                map.serialize_entry("RequestId", self.request_id)?;
            }
            map.end()
        }
    }
    let envelope = Envelope {
        response: Response { fields, request_id },
    };
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonJson);
    serde::Serialize::serialize(&envelope, &mut serializer).expect("JSON values serialise");
    out
}

/// `{"Response":{"Error":{"Code":…,"Message":…},"RequestId":…}}`, compact, as the gateway writes errors (C7N-10,
/// TCE-01), the message in `language`.
pub fn error(request_id: &str, error: &ApiError, language: Language) -> Vec<u8> {
    /// The envelope's fields in the gateway's order, serialised straight from borrowed text.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Envelope<'a> {
        response: Response<'a>,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Response<'a> {
        error: Error<'a>,
        request_id: &'a str,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Error<'a> {
        code: &'a str,
        message: &'a str,
    }
    let envelope = Envelope {
        response: Response {
            error: Error {
                code: &error.code,
                message: error.message_in(language),
            },
            request_id,
        },
    };
    let mut out = Vec::with_capacity(256);
    serde_json::to_writer(&mut out, &envelope).expect("JSON text serialises");
    out
}

/// Reads `{"Response":{…}}`: `Ok(fields)` without `Error`, `Err(code)` with one; the outer `Err` when the body is
/// not this envelope.
#[allow(clippy::type_complexity)]
pub fn read_answer(body: &[u8]) -> Result<Result<Map<String, Value>, String>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| format!("the answer is not JSON: {error}"))?;
    let response = value
        .get("Response")
        .and_then(Value::as_object)
        .ok_or("the answer has no Response object")?;
    if !response.get("RequestId").is_some_and(Value::is_string) {
        return Err("the answer's Response has no RequestId".into());
    }
    match response.get("Error") {
        Some(error) => error
            .get("Code")
            .and_then(Value::as_str)
            .map(|code| Err(code.to_owned()))
            .ok_or_else(|| "the answer's Error has no Code".to_owned()),
        None => Ok(Ok(response.clone())),
    }
}

/// Action parameters, whatever the encoding, as a JSON object; `flattened` says they came from a query or form,
/// where every value is a string.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionParams {
    /// The parameters.
    pub values: Map<String, Value>,
    /// From `Name.N=value` pairs (strings) rather than a JSON body.
    pub flattened: bool,
}

impl ActionParams {
    /// Reads a JSON body (empty means `{}`).
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        Ok(Self {
            values: JsonParams::parse(body)?
                .fields
                .into_iter()
                .map(|(name, value)| (name.into_owned(), value.into_value()))
                .collect(),
            flattened: false,
        })
    }

    /// Reads flattened pairs (`InstanceIds.0=…`, `Filters.0.Values.1=…`), leaving out the common parameters. Names
    /// have at most [`MAX_NAME_DEPTH`] segments and indexes up to [`MAX_INDEX`]; the work is proportional to the
    /// pairs' bytes.
    pub fn from_pairs<'a>(
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ApiError> {
        let mut tree = IndexMap::new();
        for (name, value) in pairs {
            if COMMON_PARAMS.contains(&name) {
                continue;
            }
            insert_path(&mut tree, name, value)?;
        }
        // Lists may be numbered from 0 (SDKs) or 1 (the legacy documentation): they read without the holes.
        let values = tree
            .into_iter()
            .map(|(name, node)| (name, node.into_value()))
            .collect();
        Ok(Self {
            values,
            flattened: true,
        })
    }

    /// Refuses any parameter not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match crate::provider::unknown_parameter(&self.values, known) {
            Some(name) => Err(unknown_parameter(name)),
            None => Ok(()),
        }
    }

    /// A list of strings; `None` when absent.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        Ok(self
            .strs(name)?
            .map(|items| items.into_iter().map(str::to_owned).collect()))
    }

    /// [`ActionParams::strings`], borrowed.
    pub fn strs(&self, name: &str) -> Result<Option<Vec<&str>>, ApiError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        let wrong = || wrong_type(name, "an array of strings");
        let items = value.as_array().ok_or_else(wrong)?;
        items
            .iter()
            .map(|item| item.as_str().ok_or_else(wrong))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// A boolean; JSON `true`/`false`, or in flattened form `true`/`false`/`True`/`False` (Python sends `True`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Bool(flag) if !self.flattened => Some(*flag),
            Value::String(text) if self.flattened => match text.as_str() {
                "true" | "True" => Some(true),
                "false" | "False" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| wrong_type(name, "a Boolean"))
    }

    /// A non-negative integer; a JSON number, or digits in flattened form.
    pub fn integer(&self, name: &str) -> Result<Option<u64>, ApiError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(number) if !self.flattened => number.as_u64(),
            Value::String(text) if self.flattened => text.parse().ok(),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| wrong_type(name, "an integer"))
    }
}

/// A JSON body's parameters read in place, for the call clients make most (`TerminateInstances`): what
/// [`ActionParams::from_json`] reads and refuses, without building its map.
#[derive(Debug)]
pub struct JsonParams<'b> {
    fields: Vec<(Cow<'b, str>, Json<'b>)>,
}

impl<'b> JsonParams<'b> {
    /// Reads a JSON body (empty means `{}`).
    pub fn parse(body: &'b [u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self { fields: Vec::new() });
        }
        let text = std::str::from_utf8(body).map_err(|_| {
            ApiError::new("InvalidParameter", "the request body is not valid UTF-8")
        })?;
        match serde_json::from_str::<Json<'b>>(text) {
            Ok(Json::Object(fields)) => Ok(Self { fields }),
            Ok(_) => Err(ApiError::new(
                "InvalidParameter",
                "the request body must be a JSON object",
            )),
            Err(error) => Err(ApiError::new(
                "InvalidParameter",
                format!("the request body is not valid JSON: {error}"),
            )),
        }
    }

    fn get(&self, name: &str) -> Option<&Json<'b>> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }
}

/// What `TerminateInstances` reads of its parameters, however they were decoded.
pub(crate) trait Parameters {
    /// Refuses any parameter not in `known`.
    fn only(&self, known: &[&str]) -> Result<(), ApiError>;
    /// A list of strings, borrowed; `None` when absent.
    fn strs(&self, name: &str) -> Result<Option<Vec<&str>>, ApiError>;
    /// A boolean; `None` when absent.
    fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError>;
}

impl Parameters for ActionParams {
    fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        ActionParams::only(self, known)
    }

    fn strs(&self, name: &str) -> Result<Option<Vec<&str>>, ApiError> {
        ActionParams::strs(self, name)
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        ActionParams::boolean(self, name)
    }
}

/// The same answers as [`ActionParams`] read from the same body gives.
impl Parameters for JsonParams<'_> {
    fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self
            .fields
            .iter()
            .map(|(name, _)| name.as_ref())
            .find(|name| !known.contains(name))
        {
            Some(name) => Err(unknown_parameter(name)),
            None => Ok(()),
        }
    }

    fn strs(&self, name: &str) -> Result<Option<Vec<&str>>, ApiError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let wrong = || wrong_type(name, "an array of strings");
        let Json::Array(items) = value else {
            return Err(wrong());
        };
        items
            .iter()
            .map(|item| match item {
                Json::String(text) => Ok(text.as_ref()),
                _ => Err(wrong()),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Json::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(wrong_type(name, "a Boolean")),
        }
    }
}

fn unknown_parameter(name: &str) -> ApiError {
    ApiError::new(
        "UnknownParameter",
        format!("The parameter `{name}` is not recognized."),
    )
}

/// A parameter of the wrong type: `expected` is what it must be (`a Boolean`).
fn wrong_type(name: &str, expected: &str) -> ApiError {
    ApiError::new(
        "InvalidParameter",
        format!("The parameter `{name}` must be {expected}."),
    )
    .zh(type_error_zh(name))
}

/// The zh-CN message of a parameter of the wrong type, as the CVM backend words it (real-wire.md C7N-10:
/// ``参数 `InstanceIds` 取值类型错误。`` for a string where a list was due).
fn type_error_zh(name: &str) -> String {
    format!("参数 `{name}` 取值类型错误。")
}

/// A JSON value read in place: strings borrowed from the body unless they hold an escape, and no object giving a
/// key twice (serde_json would keep the last one silently, and a duplicated `InstanceIds` is as ambiguous as a
/// parameter given twice in a form).
#[derive(Debug)]
enum Json<'b> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'b, str>),
    Array(Vec<Json<'b>>),
    Object(Vec<(Cow<'b, str>, Json<'b>)>),
}

impl Json<'_> {
    fn into_value(self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(flag) => Value::Bool(flag),
            Json::Number(number) => Value::Number(number),
            Json::String(text) => Value::String(text.into_owned()),
            Json::Array(items) => Value::Array(items.into_iter().map(Json::into_value).collect()),
            Json::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(name, value)| (name.into_owned(), value.into_value()))
                    .collect(),
            ),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Json<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

/// A key read in place, as [`Json`]'s strings are.
struct Key<'b>(Cow<'b, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_str(JsonVisitor)
            .and_then(|json| match json {
                Json::String(text) => Ok(Key(text)),
                _ => Err(serde::de::Error::custom("a key is a string")),
            })
    }
}

/// The most keys of one object checked for repeats against each other; a larger object checks through a set.
const SCANNED_KEYS: usize = 16;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        // As `Value::from(f64)` reads it.
        Ok(serde_json::Number::from_f64(value).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(value)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(128));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        let mut seen: Option<HashSet<String>> = None;
        while let Some(Key(key)) = map.next_key()? {
            let repeated = match &mut seen {
                Some(seen) => !seen.insert(key.as_ref().to_owned()),
                None => fields.iter().any(|(name, _)| *name == key),
            };
            if repeated {
                return Err(serde::de::Error::custom(format!(
                    "the key `{key}` is given more than once"
                )));
            }
            if seen.is_none() && fields.len() == SCANNED_KEYS {
                let mut names: HashSet<String> = fields
                    .iter()
                    .map(|(name, _)| name.as_ref().to_owned())
                    .collect();
                names.insert(key.as_ref().to_owned());
                seen = Some(names);
            }
            let value = map.next_value()?;
            fields.push((key, value));
        }
        Ok(Json::Object(fields))
    }
}

/// The most segments a flattened name has: `TagSpecification.N.Tags.N.Key` (`RunInstances`), the deepest parameter
/// of the actions served here (a list of structures holding a list of structures), as the API model of tccli
/// 3.1.189.1 documents them (`tests/params/cvm-parameter-paths.txt` lists every one, and a test sends them all).
/// A deeper name is no parameter of any served action: `UnknownParameter`. The legacy gateway reads its pairs
/// here too, and its actions are shallower (`InstanceIds.N`).
pub const MAX_NAME_DEPTH: usize = 5;

/// The largest index a flattened name may carry: a list holds at most 100 items (`InstanceIds`: "max 100 per
/// request"), numbered from 0 (the SDKs) or from 1 (the legacy documentation), so no valid request uses more than
/// 100. A larger one is `InvalidParameterValue.LimitExceeded`, the code of a batch over 100.
pub const MAX_INDEX: usize = 100;

/// A flattened parameter tree while it is being read. Lists are sparse (index to item), so a large index costs one
/// entry, not a run of holes; together with [`MAX_NAME_DEPTH`] this keeps the work and memory proportional to the
/// bytes received, and every walk of the tree (insert, convert, drop) at most [`MAX_NAME_DEPTH`] deep.
enum Node {
    /// Created on the way to a deeper segment, not yet given a shape.
    Unset,
    /// A value.
    Text(String),
    /// `Name.N`: items by index.
    List(BTreeMap<usize, Node>),
    /// `Name.Field`: fields in the order first given.
    Fields(IndexMap<String, Node>),
}

impl Node {
    /// The JSON value: lists in index order without holes, so `InstanceIds.1`, `InstanceIds.2` read as a list of two.
    fn into_value(self) -> Value {
        match self {
            Node::Unset => Value::Null,
            Node::Text(text) => Value::String(text),
            Node::List(items) => Value::Array(items.into_values().map(Node::into_value).collect()),
            Node::Fields(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(name, node)| (name, node.into_value()))
                    .collect(),
            ),
        }
    }
}

/// A name as quoted in an error: at most 64 characters, so that an error about a 60 KB name is not 60 KB long.
fn quoted(name: &str) -> String {
    const SHOWN: usize = 64;
    match name.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

/// Puts `value` at the dotted path `name` (segments of digits index lists), within [`MAX_NAME_DEPTH`] and
/// [`MAX_INDEX`].
fn insert_path(
    values: &mut IndexMap<String, Node>,
    name: &str,
    value: &str,
) -> Result<(), ApiError> {
    let unknown = |why: &str| {
        ApiError::new(
            "UnknownParameter",
            format!("The parameter `{}` is not recognized{why}.", quoted(name)),
        )
    };
    let conflict = || {
        ApiError::new(
            "InvalidParameter",
            format!(
                "The parameter `{}` is given twice or clashes with another.",
                quoted(name)
            ),
        )
    };
    if name.split('.').nth(MAX_NAME_DEPTH).is_some() {
        return Err(unknown(&format!(
            ": a flattened name has at most {MAX_NAME_DEPTH} segments (TagSpecification.N.Tags.N.Key)"
        )));
    }
    let mut segments = name.split('.');
    let first = segments.next().unwrap_or_default();
    if first.is_empty() || first.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unknown(""));
    }
    let mut slot = values.entry(first.to_owned()).or_insert(Node::Unset);
    for segment in segments {
        if segment.is_empty() {
            return Err(unknown(": it has an empty segment"));
        }
        slot = if segment.bytes().all(|b| b.is_ascii_digit()) {
            let index = segment
                .parse::<usize>()
                .ok()
                .filter(|&index| index <= MAX_INDEX)
                .ok_or_else(|| {
                    ApiError::new(
                        "InvalidParameterValue.LimitExceeded",
                        format!(
                            "The index in `{}` is over {MAX_INDEX}: a list holds at most {} items.",
                            quoted(name),
                            crate::world::rules::MAX_BATCH
                        ),
                    )
                })?;
            if matches!(slot, Node::Unset) {
                *slot = Node::List(BTreeMap::new());
            }
            match slot {
                Node::List(items) => items.entry(index).or_insert(Node::Unset),
                _ => return Err(conflict()),
            }
        } else {
            if matches!(slot, Node::Unset) {
                *slot = Node::Fields(IndexMap::new());
            }
            match slot {
                Node::Fields(fields) => fields.entry(segment.to_owned()).or_insert(Node::Unset),
                _ => return Err(conflict()),
            }
        };
    }
    if !matches!(slot, Node::Unset) {
        return Err(conflict());
    }
    *slot = Node::Text(value.to_owned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded CVM answers (real-wire.md, cloud-custodian cassettes), whose `Content-Length` equals these bytes.
    const C7N_02: &str = r#"{"Response": {"RequestId": "6c824065-299e-4dbd-a7f1-6acede892566"}}"#;
    const C7N_03: &str = r#"{"Response": {"TotalCount": 0, "InstanceSet": [], "RequestId": "96046be7-d344-4294-8827-261e8ae861cc"}}"#;
    const C7N_10: &str = r#"{"Response":{"Error":{"Code":"InvalidParameter","Message":"参数 `InstanceIds` 取值类型错误。"},"RequestId":"35bdee09-dfd1-4c81-8116-00c048989867"}}"#;

    #[test]
    fn success_bodies_are_laid_out_as_the_cvm_backend_writes_them() {
        let body = success("6c824065-299e-4dbd-a7f1-6acede892566", &Map::new());
        assert_eq!(String::from_utf8_lossy(&body), C7N_02);
        assert_eq!(body.len(), 67, "the recorded Content-Length");
        let mut fields = Map::new();
        fields.insert("TotalCount".into(), Value::from(0));
        fields.insert("InstanceSet".into(), Value::Array(Vec::new()));
        let body = success("96046be7-d344-4294-8827-261e8ae861cc", &fields);
        assert_eq!(String::from_utf8_lossy(&body), C7N_03);
        assert_eq!(body.len(), 103, "the recorded Content-Length");
    }

    #[test]
    fn a_request_id_among_the_fields_is_replaced_where_it_stands() {
        let mut fields = Map::new();
        fields.insert("A".into(), Value::from(1));
        fields.insert("RequestId".into(), Value::from("stub"));
        fields.insert("B".into(), Value::from(2));
        let body = success("id", &fields);
        assert_eq!(
            String::from_utf8_lossy(&body),
            r#"{"Response": {"A": 1, "RequestId": "id", "B": 2}}"#
        );
    }

    #[test]
    fn a_wrong_type_in_zh_cn_is_the_recorded_compact_error() {
        let params = ActionParams::from_json(br#"{"InstanceIds": "hello"}"#).unwrap();
        let error = params.strings("InstanceIds").unwrap_err();
        let body = super::error(
            "35bdee09-dfd1-4c81-8116-00c048989867",
            &error,
            Language::ZhCn,
        );
        assert_eq!(String::from_utf8_lossy(&body), C7N_10);
        assert_eq!(body.len(), 156, "the recorded Content-Length");
        let english = super::error("x", &error, Language::EnUs);
        assert!(!String::from_utf8_lossy(&english).contains("取值类型错误"));
    }

    #[test]
    fn zh_cn_falls_back_to_the_documented_description_then_to_english() {
        let documented = ApiError::new("UnsupportedOperation.InstanceStateTerminated", "en");
        assert_eq!(documented.message_in(Language::ZhCn), "不支持已销毁的实例");
        // The gateway answers MissingParameter in English whatever the language (ISS-11).
        let english = ApiError::new(
            "MissingParameter",
            "The request is missing a required parameter `Timestamp`.",
        );
        assert_eq!(english.message_in(Language::ZhCn), english.message);
    }

    #[test]
    fn the_language_is_read_from_the_header_or_the_language_parameter() {
        let tc3 = Request::parse(
            b"POST / HTTP/1.1\r\nHost: h\r\nAuthorization: TC3-HMAC-SHA256 x\r\nX-TC-Language: zh-CN\r\n\r\n",
        )
        .unwrap();
        assert_eq!(Language::of(&tc3), Language::ZhCn);
        let form = Request::parse(
            b"GET /?Action=A&Language=zh-CN&Signature=s HTTP/1.1\r\nHost: h\r\n\r\n",
        )
        .unwrap();
        assert_eq!(Language::of(&form), Language::ZhCn);
        let none = Request::parse(b"GET /?Action=A HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!(Language::of(&none), Language::EnUs);
    }

    #[test]
    fn ids_are_quoted_as_python_prints_a_list() {
        assert_eq!(
            python_list(&["ins-jnoiqr60"]).to_string(),
            "['ins-jnoiqr60']"
        );
        assert_eq!(python_list(&["a", "b"]).to_string(), "['a', 'b']");
        assert_eq!(python_list(&["it's"]).to_string(), r#"["it's"]"#);
        assert_eq!(python_list(&["'\""]).to_string(), r#"['\'"']"#);
        assert_eq!(python_list(&["a\\b\n"]).to_string(), r"['a\\b\n']");
    }

    #[test]
    fn flattened_ids_numbered_from_zero_or_one_read_as_the_same_list() {
        let from_zero =
            ActionParams::from_pairs([("InstanceIds.0", "a"), ("InstanceIds.1", "b")].into_iter())
                .unwrap();
        let from_one =
            ActionParams::from_pairs([("InstanceIds.1", "a"), ("InstanceIds.2", "b")].into_iter())
                .unwrap();
        assert_eq!(
            from_zero.strings("InstanceIds").unwrap(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            from_one.strings("InstanceIds").unwrap(),
            Some(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn a_body_read_in_place_answers_as_its_map_does() {
        let many_keys = (0..20)
            .map(|n| format!(r#""K{n}": {n}"#))
            .collect::<Vec<_>>()
            .join(", ");
        let bodies: Vec<Vec<u8>> = [
            "",
            " \n",
            r#"{"InstanceIds": ["ins-a", "ins-\u0062"], "ReleaseAddress": true}"#,
            r#"{"InstanceIds": "ins-a"}"#,
            r#"{"InstanceIds": ["ins-a", 1]}"#,
            r#"{"ReleaseAddress": "True", "InstanceIds": []}"#,
            r#"{"Other": {"x": [1.5, null, {"y": -2}]}, "InstanceIds": ["a"]}"#,
            r#"{"A": {"x": 1, "x": 2}}"#,
            r#"{"InstanceIds": ["a"], "InstanceIds": ["b"]}"#,
            &format!(r#"{{{many_keys}, "K3": 0}}"#),
            &format!(r#"{{{many_keys}, "K20": 0}}"#),
            "[]",
            "{",
            r#"{"A": 1} x"#,
        ]
        .iter()
        .map(|body| body.as_bytes().to_vec())
        .chain([b"{\"A\": \"\xff\"}".to_vec()])
        .collect();
        for body in &bodies {
            let shown = String::from_utf8_lossy(body);
            let (map, in_place) = match (ActionParams::from_json(body), JsonParams::parse(body)) {
                (Ok(map), Ok(in_place)) => (map, in_place),
                (Err(map), Err(in_place)) => {
                    assert_eq!(map, in_place, "{shown}");
                    continue;
                }
                (map, in_place) => panic!("{shown}: {map:?} but {in_place:?}"),
            };
            let known = ["InstanceIds", "ReleaseAddress"];
            assert_eq!(map.only(&known), in_place.only(&known), "{shown}");
            for name in ["InstanceIds", "ReleaseAddress", "Other", "Absent"] {
                assert_eq!(
                    ActionParams::strs(&map, name),
                    Parameters::strs(&in_place, name),
                    "{shown}"
                );
                assert_eq!(
                    ActionParams::boolean(&map, name),
                    Parameters::boolean(&in_place, name),
                    "{shown}"
                );
            }
        }
    }

    #[test]
    fn a_json_key_given_twice_is_refused() {
        let error =
            ActionParams::from_json(br#"{"InstanceIds": ["ins-a"], "InstanceIds": ["ins-b"]}"#)
                .unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
        assert!(
            error
                .message
                .contains("`InstanceIds` is given more than once"),
            "{}",
            error.message
        );
        assert!(ActionParams::from_json(br#"{"A": [{"x": 1}, {"x": 2}]}"#).is_ok());
    }

    #[test]
    fn a_name_deeper_than_tag_specification_n_tags_n_key_is_an_unknown_parameter() {
        let deepest =
            ActionParams::from_pairs([("TagSpecification.0.Tags.1.Key", "x")].into_iter()).unwrap();
        assert_eq!(deepest.values["TagSpecification"][0]["Tags"][0]["Key"], "x");
        // The issue's crash: 30,000 levels overflowed the stack (insert, walk and drop were recursive).
        let deep = format!("InstanceIds{}", ".0".repeat(30_000));
        let error = ActionParams::from_pairs([(deep.as_str(), "ins-a")].into_iter()).unwrap_err();
        assert_eq!(error.code, "UnknownParameter");
        assert!(error.message.len() < 200, "{}", error.message);
        let six = ActionParams::from_pairs([("TagSpecification.0.Tags.1.Key.x", "x")].into_iter());
        assert_eq!(six.unwrap_err().code, "UnknownParameter");
    }

    #[test]
    fn an_index_over_100_is_refused_and_a_large_index_costs_no_holes() {
        let last = ActionParams::from_pairs([("InstanceIds.100", "a")].into_iter()).unwrap();
        assert_eq!(last.strings("InstanceIds").unwrap(), Some(vec!["a".into()]));
        for name in [
            "InstanceIds.101",
            "Filters.999.Values.0",
            "InstanceIds.99999999999999999999999",
        ] {
            let error = ActionParams::from_pairs([(name, "a")].into_iter()).unwrap_err();
            assert_eq!(error.code, "InvalidParameterValue.LimitExceeded", "{name}");
        }
    }

    #[test]
    fn an_empty_segment_or_a_numeric_first_segment_is_an_unknown_parameter() {
        for name in ["InstanceIds..0", "InstanceIds.", ".0", "0", "0.InstanceIds"] {
            let error = ActionParams::from_pairs([(name, "a")].into_iter()).unwrap_err();
            assert_eq!(error.code, "UnknownParameter", "{name}");
        }
    }

    #[test]
    fn a_list_and_a_field_at_one_place_clash() {
        let error =
            ActionParams::from_pairs([("Filters.0", "a"), ("Filters.Name", "b")].into_iter())
                .unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
        let error = ActionParams::from_pairs([("A", "a"), ("A.0", "b")].into_iter()).unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        let error =
            ActionParams::from_pairs([("InstanceIds.0", "a"), ("InstanceIds.0", "b")].into_iter())
                .unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
    }

    #[test]
    fn python_booleans_are_read_only_in_flattened_form() {
        let flat = ActionParams::from_pairs([("ReleaseAddress", "True")].into_iter()).unwrap();
        assert_eq!(flat.boolean("ReleaseAddress").unwrap(), Some(true));
        let json = ActionParams::from_json(br#"{"ReleaseAddress": "True"}"#).unwrap();
        assert_eq!(
            json.boolean("ReleaseAddress").unwrap_err().code,
            "InvalidParameter"
        );
    }
}
