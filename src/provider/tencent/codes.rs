//! API 3.0's answers to the conditions the API 3.0 endpoint and the legacy 2.0 gateway share: the documented size
//! limits, a condition met before the handler, missing and unreadable parameters, the region check, and the code
//! and message of every refusal of the world's rules. The legacy gateway answers in these codes except where its own
//! documents name another ([`crate::provider::tencent_legacy::mock`]), so they live here rather than in either
//! endpoint's handler.

use super::wire::{ApiError, OTHER_CVM_REGIONS, SUPPORTED_REGIONS, python_list};
use crate::message::Request;
use crate::provider::Problem;
use crate::signing::Unusable;
use crate::world::rules::{BatchRefusal, Refusal};
use crate::world::{InstanceState, Restriction};

/// Query string limit for GET.
pub(crate) const GET_LIMIT: usize = 32 * 1024;

/// Body limit for `Signature`-parameter POSTs.
pub(crate) const FORM_LIMIT: usize = 1024 * 1024;

/// Body limit for TC3 POSTs (also the most the server reads).
pub(crate) const TC3_LIMIT: usize = 10 * 1024 * 1024;

/// The status and error for a condition met before the handler, in API 3.0's codes (the legacy gateway shares
/// them but for the code of an unreadable `Authorization`, which it names `authorization_code`).
pub(crate) fn problem_error(problem: Problem, authorization_code: &str) -> (u16, ApiError) {
    match problem {
        Problem::Fault { code, message } => (
            200,
            ApiError::new(
                code.as_deref().unwrap_or("InternalError"),
                message.unwrap_or_else(|| "Internal error.".to_owned()),
            ),
        ),
        Problem::HttpFault { status, message } => (
            status,
            ApiError::new(
                "InternalError",
                message.unwrap_or_else(|| "Internal error.".to_owned()),
            ),
        ),
        Problem::TooLarge { limit } => (
            200,
            ApiError::new(
                "RequestSizeLimitExceeded",
                format!("The request size exceeds the limit of {limit} bytes."),
            ),
        ),
        Problem::HeaderEncoding(name) if name.eq_ignore_ascii_case("authorization") => (
            200,
            ApiError::new(
                authorization_code,
                "Authorization in the request header is not valid UTF-8.",
            ),
        ),
        Problem::HeaderEncoding(name) => (
            200,
            ApiError::new(
                "InvalidParameter",
                format!("The value of header {name} is not valid UTF-8."),
            ),
        ),
        Problem::Unreadable(why) => (200, ApiError::new("InvalidParameter", why)),
    }
}

/// The documented size limits: GET 32 KB, a TC3 POST (`tc3`) 10 MB, a `Signature`-form POST 1 MB.
pub(crate) fn check_size_of(request: &Request, tc3: bool) -> Result<(), ApiError> {
    let (limit, size) = match request.method.as_str() {
        "GET" => (GET_LIMIT, request.target.len()),
        _ if tc3 => (TC3_LIMIT, request.body.len()),
        _ => (FORM_LIMIT, request.body.len()),
    };
    if size > limit {
        return Err(ApiError::new(
            "RequestSizeLimitExceeded",
            format!("The request size {size} exceeds the limit of {limit} bytes."),
        ));
    }
    Ok(())
}

/// Region support: the 18 regions of `TerminateInstances`; other CVM regions refused for termination only.
pub(crate) fn check_region(region: Option<&str>, terminate: bool) -> Result<&str, ApiError> {
    let region = region
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("Region"))?;
    if SUPPORTED_REGIONS.contains(&region) {
        Ok(region)
    } else if OTHER_CVM_REGIONS.contains(&region) {
        if terminate {
            Err(ApiError::new(
                "UnsupportedOperation.Region",
                format!("The region `{region}` is unsupported."),
            ))
        } else {
            Ok(region)
        }
    } else {
        Err(ApiError::new(
            "UnsupportedRegion",
            format!("The API does not support the region `{region}`."),
        ))
    }
}

/// `MissingParameter`, naming the parameter.
pub(crate) fn missing(name: &str) -> ApiError {
    ApiError::new(
        "MissingParameter",
        format!("The request is missing a required parameter `{name}`."),
    )
}

/// An unusable request's error: missing and unreadable parameters as API 3.0 names them, anything about the
/// signature itself as the provider's `authentication` says (the legacy gateway shares the rest).
pub(crate) fn unusable_error(
    error: Unusable,
    authentication: impl FnOnce(Unusable) -> ApiError,
) -> ApiError {
    match error {
        // A TC3 request without its timestamp header is answered with the parameter's name (real-wire.md ISS-11,
        // tencentcloud-sdk-nodejs#99: ``The request is missing a required parameter `Timestamp`.``).
        Unusable::MissingHeader(name) if name.eq_ignore_ascii_case("X-TC-Timestamp") => {
            missing("Timestamp")
        }
        Unusable::MissingParameter(name) | Unusable::MissingHeader(name) => missing(name),
        Unusable::Timestamp { name, value } => ApiError::new(
            "InvalidParameter",
            format!("{name} {value:?} is not a Unix time in seconds."),
        ),
        Unusable::Parameters(why) => ApiError::new("InvalidParameter", why),
        other => authentication(other),
    }
}

/// The documented code and message for each refusal (the legacy gateway maps through it too).
pub(crate) fn refusal(refusal: Refusal) -> ApiError {
    use Refusal as R;
    let (code, message) = match refusal {
        R::Batch(batch) => return batch_refusal(batch),
        R::MalformedId(id) => (
            "InvalidInstanceId.Malformed",
            format!("Invalid instance ID. The specified instance ID `{id}` has an invalid format."),
        ),
        R::IdCharacters(id) => (
            "InvalidParameterValue.InstanceIdMalformed",
            format!(
                "Invalid instance ID `{id}`. Please enter a valid ID, such as ins-xxxxxxxx (x represents a lower-case letter or a number)."
            ),
        ),
        R::NotOwned(id) => (
            "UnsupportedOperation.InvalidInstancesOwner",
            format!("The user does not have permissions to operate the instance `{id}`."),
        ),
        R::MixedCharge => (
            "UnsupportedOperation.InstanceMixedPricingModel",
            "A mixed payment mode is not supported.".to_owned(),
        ),
        R::Terminated(id) => (
            "UnsupportedOperation.InstanceStateTerminated",
            format!("Terminated instances are not supported: `{id}`."),
        ),
        R::State(id, state) => (
            state_code(state),
            format!(
                "The instance `{id}` in the {} status is not supported.",
                state.name()
            ),
        ),
        R::Restricted(id, restriction) => match restriction {
            Restriction::Banned => (
                "UnsupportedOperation.InstanceStateBanning",
                format!("The instance `{id}` is blocked. Please submit a ticket."),
            ),
            Restriction::Frozen => (
                "UnsupportedOperation.InstanceStateFreezing",
                format!("The operation is not supported for the frozen instance `{id}`."),
            ),
            Restriction::Isolating => (
                "UnsupportedOperation.InstanceStateIsolating",
                format!("The instance `{id}` is being isolated."),
            ),
        },
        R::SameOperationRunning(id) => (
            "MutexOperation.TaskRunning",
            format!("An identical job is running on `{id}`."),
        ),
        R::OperationInProgress(id, _operation) => (
            "OperationDenied.InstanceOperationInProgress",
            format!(
                "The instance `{}` already has operation in progress. Please try again later.",
                python_list(&[&id])
            ),
        ),
        R::Protected(id) => (
            "UnsupportedOperation.InstancesProtected",
            format!(
                "The instance `{id}` is under termination protection and cannot be terminated. Disable the termination protection and try again."
            ),
        ),
        R::ApplicationRole(id, role) if role.eq_ignore_ascii_case("EMR") => (
            "FailedOperation.InvalidInstanceApplicationRoleEmr",
            format!("The EMR instance `{id}` does not support this operation."),
        ),
        R::ApplicationRole(id, role) => (
            "FailedOperation.InvalidInstanceApplicationRole",
            format!("The {role} instance `{id}` does not support the operation."),
        ),
        R::SpecialType(id) => (
            "UnsupportedOperation.SpecialInstanceType",
            format!("The special instance type of `{id}` does not support the operation."),
        ),
        R::Unsupported(id) => (
            "InvalidInstance.NotSupported",
            format!("The instance `{id}` is not supported."),
        ),
        R::Unreturnable(id) => (
            "FailedOperation.Unreturnable",
            format!("The instance `{id}` is unreturnable."),
        ),
        R::RedHatReturn(id) => (
            "UnsupportedOperation.RedHatInstanceTerminateUnsupported",
            format!(
                "The instance `{id}` has an enterprise operating system installed and cannot be returned."
            ),
        ),
        R::RedHat(id) => (
            "UnsupportedOperation.RedHatInstanceUnsupported",
            format!(
                "The operating system of the instance `{id}` is RedHat, so this operation is not supported."
            ),
        ),
        R::ChargeType(id, _) => (
            "UnsupportedOperation.InstanceChargeType",
            format!("The billing mode of the instance `{id}` does not support the operation."),
        ),
        R::PrepaidPolicy(id) => (
            "InvalidInstanceNotSupportedPrepaidInstance",
            format!("The instance `{id}` does not meet the Return Policy for prepaid instances."),
        ),
        R::AddressType(id, kind) => (
            "InvalidParameterValue.NotSupported",
            format!("ReleaseAddress does not release the {kind} address of `{id}`."),
        ),
        R::UnpaidOrders => (
            "InvalidAccount.UnpaidOrder",
            "The account has unpaid orders.".to_owned(),
        ),
        R::AppIdFormat => (
            "InvalidParameterValue.InvalidAppIdFormat",
            "Invalid AppID.".to_owned(),
        ),
        R::MfaNotFound => (
            "UnauthorizedOperation.MFANotFound",
            "Unauthorized operation. Make sure Multi-Factor Authentication (MFA) exists."
                .to_owned(),
        ),
        R::MfaExpired => (
            "UnauthorizedOperation.MFAExpired",
            "Unauthorized operation. Make sure Multi-Factor Authentication (MFA) is valid."
                .to_owned(),
        ),
        R::TokenRevoked => (
            "UnauthorizedOperation.InvalidToken",
            "Check if the token is valid.".to_owned(),
        ),
        R::ReturnQuota => (
            "LimitExceeded.UserReturnQuota",
            "Failed to return instances because of the quota limit.".to_owned(),
        ),
        R::OperationQuota => (
            "UnsupportedOperation.UserLimitOperationExceedQuota",
            "The quota of user limit operations is insufficient.".to_owned(),
        ),
        R::UnknownCaller(_) => (
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.".to_owned(),
        ),
    };
    ApiError::new(code, message)
}

/// The documented code and message for each refusal of the ids a call names.
fn batch_refusal(refusal: BatchRefusal) -> ApiError {
    use BatchRefusal as B;
    let (code, message) = match refusal {
        B::Empty => (
            "InvalidParameterValue",
            "InstanceIds must name at least one instance.".to_owned(),
        ),
        B::TooLarge(count) => (
            "InvalidParameterValue.LimitExceeded",
            format!(
                "The number of parameter values exceeds the limit: {count} instances, at most 100."
            ),
        ),
        B::DuplicateId(id) => (
            "InvalidParameterValue",
            format!("The instance ID `{id}` is given more than once."),
        ),
        B::NotFound(id) => {
            let named = [id.as_str()];
            let ids = python_list(&named);
            return ApiError::new(
                "InvalidInstanceId.NotFound",
                format!("The specified instance ID `{ids}` is not found."),
            )
            .zh(format!("请确认实例ID `{ids}`是否存在"));
        }
    };
    ApiError::new(code, message)
}

pub(crate) fn state_code(state: InstanceState) -> &'static str {
    match state {
        InstanceState::Pending => "UnsupportedOperation.InstanceStatePending",
        InstanceState::LaunchFailed => "UnsupportedOperation.InstanceStateLaunchFailed",
        InstanceState::Starting => "UnsupportedOperation.InstanceStateStarting",
        InstanceState::Stopping => "UnsupportedOperation.InstanceStateStopping",
        InstanceState::Rebooting => "UnsupportedOperation.InstanceStateRebooting",
        InstanceState::Terminating => "UnsupportedOperation.InstanceStateTerminating",
        InstanceState::Terminated => "UnsupportedOperation.InstanceStateTerminated",
        InstanceState::EnterRescueMode => "UnsupportedOperation.InstanceStateEnterRescueMode",
        InstanceState::ExitRescueMode => "UnsupportedOperation.InstanceStateExitRescueMode",
        InstanceState::EnterServiceLiveMigrate => {
            "UnsupportedOperation.InstanceStateEnterServiceLiveMigrate"
        }
        InstanceState::ExitServiceLiveMigrate => {
            "UnsupportedOperation.InstanceStateExitServiceLiveMigrate"
        }
        // Documented for the lifecycle actions (the SDK's errorcodes.py).
        InstanceState::Running => "UnsupportedOperation.InstanceStateRunning",
        InstanceState::Stopped => "UnsupportedOperation.InstanceStateStopped",
        InstanceState::Shutdown => "UnsupportedOperation.InstanceStateShutdown",
        // No state-specific code is documented for these: the generic one.
        InstanceState::RescueMode | InstanceState::ServiceLiveMigrate => "UnsupportedOperation",
    }
}
