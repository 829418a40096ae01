//! CVM instances and the state termination depends on (disks, addresses, restrictions, charge types).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{is_false, is_true};

/// A CVM instance and everything termination depends on.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Instance {
    /// `ins-` and 8 of `[a-z0-9]`.
    pub id: String,
    /// The region; default: the world's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Box<str>>,
    /// `InstanceState`, plus `TERMINATED` for destroyed instances (kept as tombstones, hidden from
    /// DescribeInstances).
    #[serde(default)]
    pub state: InstanceState,
    /// `InstanceChargeType`.
    #[serde(default)]
    pub charge: ChargeType,
    /// Termination protection (`DisableApiTermination`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub protected: bool,
    /// The operating system's name; a Red Hat one has its own refusals.
    // The default is borrowed, not copied into each of a large world's instances.
    #[serde(default = "default_os")]
    pub os: Cow<'static, str>,
    /// The owner (uin); default: the first account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Box<str>>,
    /// The instance serves another product (`EMR`, `TKE`…) and is not terminated through CVM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_role: Option<Box<str>>,
    /// A special instance type (e.g. a bare-metal or CDH family) that this API does not terminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_type: Option<Box<str>>,
    /// A restriction of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction: Option<Restriction>,
    /// The instance cannot be returned (`FailedOperation.Unreturnable`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub unreturnable: bool,
    /// The instance is of a kind this API does not support (`InvalidInstance.NotSupported`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub unsupported: bool,
    /// An operation running on the instance (e.g. `RebootInstances`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_in_progress: Option<Box<str>>,
    /// Prepaid: whether the instance meets the return policy for prepaid instances.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub return_policy: bool,
    /// Attached data disks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_disks: Vec<DataDisk>,
    /// The elastic IP on the primary network interface.
    // Boxed, as rare: a world of a million instances holds a pointer each, not an address's worth of strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip: Option<Box<Eip>>,
    /// `InstanceName`; default `Unnamed` (what the real API shows for an instance created without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Box<str>>,
    /// `Placement.Zone`; default: the region's zone 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<Box<str>>,
    /// `InstanceType`; default `S5.MEDIUM4` (2 cores, 4 GB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<Box<str>>,
    /// `ImageId`; default `img-eb30mz89` (TencentOS Server 3.1, as recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<Box<str>>,
    /// `CreatedTime`, Unix seconds; default: when the world started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// `ExpiredTime` of a prepaid instance, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// `Tags`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<super::lifecycle::Tag>,
    /// A passing state's end (`PENDING` → `RUNNING`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<super::lifecycle::Transition>,
    /// For a destroyed instance: until when `DescribeInstances` still lists it, as `TERMINATING`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone_at: Option<i64>,
    /// `ActionTimer`: when the instance is terminated (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminate_at: Option<i64>,
    /// `LatestOperation`, `LatestOperationState`, `LatestOperationRequestId`.
    // Boxed, as `eip` is: most instances of a large world never see an operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_operation: Option<Box<super::lifecycle::Operation>>,
    /// Stopped with `StoppedMode` `STOP_CHARGING` (`StopChargingMode`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub stop_charging: bool,
    /// `InternetAccessible` of `RunInstances`: public bandwidth and whether a public address comes with it.
    // Boxed, as `eip` is: most instances of a large world have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet: Option<Box<Internet>>,
}

fn default_os() -> Cow<'static, str> {
    Cow::Borrowed("TencentOS Server 3.1 (TK4)")
}

fn default_true() -> bool {
    true
}

impl Instance {
    /// A running pay-as-you-go instance with every default.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            region: None,
            state: InstanceState::default(),
            charge: ChargeType::default(),
            protected: false,
            os: default_os(),
            owner: None,
            application_role: None,
            special_type: None,
            restriction: None,
            unreturnable: false,
            unsupported: false,
            operation_in_progress: None,
            return_policy: true,
            data_disks: Vec::new(),
            eip: None,
            name: None,
            zone: None,
            instance_type: None,
            image_id: None,
            created: None,
            expires: None,
            tags: Vec::new(),
            transition: None,
            gone_at: None,
            terminate_at: None,
            latest_operation: None,
            stop_charging: false,
            internet: None,
        }
    }

    /// The public address that comes with `InternetAccessible`, while the instance holds it: from when it first
    /// runs (not while `PENDING`) until it is stopped with `STOP_CHARGING`, and again from `StartInstances`
    /// (recorded: `STARTING` already shows it, real-wire.md C7N-09; `STOPPING` and `STOPPED` after a
    /// `STOP_CHARGING` stop show none, C7N-06, C7N-07). The address is drawn from the instance id in the
    /// documentation ranges 198.51.100.0/24 and 203.0.113.0/24 (RFC 5737), so it is the same on every run and
    /// never a real host's.
    pub fn public_address(&self) -> Option<String> {
        let internet = self.internet.as_deref()?;
        let stopped_charging = self.stop_charging
            && matches!(self.state, InstanceState::Stopping | InstanceState::Stopped);
        let held = internet.public_ip
            && internet.max_bandwidth_out > 0
            && !stopped_charging
            && !matches!(
                self.state,
                InstanceState::Pending | InstanceState::LaunchFailed
            );
        held.then(|| {
            let hash = self.id.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
                (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
            });
            let network = if hash & 0x100 == 0 {
                "198.51.100"
            } else {
                "203.0.113"
            };
            format!("{network}.{}", 1 + (hash & 0xff) % 254)
        })
    }

    /// Whether the operating system is Red Hat Enterprise Linux.
    pub fn is_red_hat(&self) -> bool {
        // Compared without case and without a lowercase copy: every termination asks.
        ["red hat", "redhat", "rhel"].iter().any(|name| {
            self.os
                .as_bytes()
                .windows(name.len())
                .any(|window| window.eq_ignore_ascii_case(name.as_bytes()))
        })
    }
}

/// `InstanceState` values (the CLI's api.json), plus `TERMINATED` for destroyed instances.
#[allow(missing_docs)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceState {
    Pending,
    LaunchFailed,
    #[default]
    Running,
    Stopped,
    Starting,
    Stopping,
    Rebooting,
    /// Shut down and waiting to be destroyed: the recycle bin.
    Shutdown,
    Terminating,
    /// Destroyed: kept as a tombstone so a repeated call can say so.
    Terminated,
    EnterRescueMode,
    RescueMode,
    ExitRescueMode,
    EnterServiceLiveMigrate,
    ServiceLiveMigrate,
    ExitServiceLiveMigrate,
}

impl InstanceState {
    /// The name on the wire (`RUNNING`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// `InstanceChargeType` values.
#[allow(missing_docs)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeType {
    /// Monthly or yearly subscription.
    Prepaid,
    /// Pay as you go.
    #[default]
    PostpaidByHour,
    /// On a dedicated host.
    Cdhpaid,
    /// Spot.
    Spotpaid,
    /// On a CDC.
    Cdcpaid,
}

/// Restrictions that refuse termination whatever the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Restriction {
    /// Blocked by the provider (`UnsupportedOperation.InstanceStateBanning`).
    Banned,
    /// Frozen (`UnsupportedOperation.InstanceStateFreezing`).
    Frozen,
    /// Being isolated (`UnsupportedOperation.InstanceStateIsolating`).
    Isolating,
}

/// A data disk attached to an instance.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DataDisk {
    /// `disk-…`.
    pub id: String,
    /// Its charge type: only prepaid disks follow `ReleasePrepaidDataDisks`.
    #[serde(default)]
    pub charge: ChargeType,
    /// `ATTACHED`, `RECYCLED` (with its prepaid instance, on request) or `RELEASED`.
    #[serde(default)]
    pub state: DiskState,
}

/// Where a data disk is.
#[allow(missing_docs)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DiskState {
    #[default]
    Attached,
    Recycled,
    Released,
}

/// An instance's public network, as `RunInstances`' `InternetAccessible` asked for it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Internet {
    /// `InternetChargeType`: `BANDWIDTH_PREPAID`, `TRAFFIC_POSTPAID_BY_HOUR`, `BANDWIDTH_POSTPAID_BY_HOUR` or
    /// `BANDWIDTH_PACKAGE`.
    pub charge_type: String,
    /// `InternetMaxBandwidthOut`, in Mbps.
    #[serde(default)]
    pub max_bandwidth_out: u32,
    /// `PublicIpAssigned`: a public address comes with the bandwidth.
    #[serde(default)]
    pub public_ip: bool,
}

/// An elastic IP.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Eip {
    /// `eip-…`.
    pub id: String,
    /// The address type; `ReleaseAddress` releases only `HighQualityEIP`, `AntiDDoSEIP`, `EIPv6` and
    /// `HighQualityEIPv6`.
    #[serde(default = "default_eip_type", rename = "type")]
    pub kind: String,
    /// The public IP address (listed in `DescribeInstances`' `PublicIpAddresses` until released).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Released by a `ReleaseAddress` termination.
    #[serde(default, skip_serializing_if = "is_false")]
    pub released: bool,
}

fn default_eip_type() -> String {
    "HighQualityEIP".to_owned()
}
