"""The application under test: a cleanup job's use of the CVM API, written as a team would write it against
tencentcloud-sdk-python. Nothing here knows about terminus."""

from typing import List

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.cvm.v20170312 import cvm_client, models


class Refused(Exception):
    """The API refused to decommission an instance; `code` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def instances_in_state(client: cvm_client.CvmClient, state: str) -> List[str]:
    """The ids of the account's instances in `state` (`RUNNING`, `STOPPED`, …)."""
    request = models.DescribeInstancesRequest()
    request.from_json_string('{"Filters": [{"Name": "instance-state", "Values": ["%s"]}], "Limit": 100}' % state)
    return [instance.InstanceId for instance in client.DescribeInstances(request).InstanceSet]


# Refusals that mean the instance is already gone or going: the job may run twice.
ALREADY_GONE = {
    "InvalidInstanceId.NotFound",
    "UnsupportedOperation.InstanceStateTerminating",
    "UnsupportedOperation.InstanceStateTerminated",
}


def decommission(client: cvm_client.CvmClient, instance_ids: List[str]) -> str:
    """Terminates the instances and returns the request id. An instance already gone is not an error (see
    `ALREADY_GONE`); any other refusal raises `Refused`."""
    request = models.TerminateInstancesRequest()
    request.InstanceIds = instance_ids
    try:
        return client.TerminateInstances(request).RequestId
    except TencentCloudSDKException as error:
        if error.get_code() in ALREADY_GONE:
            return error.get_request_id()
        raise Refused(error.get_code(), error.get_message()) from error
