"""The instance lifecycle through the official clients: tencentcloud-sdk-python and tccli create an instance, list
it with filters, stop it, protect and unprotect it, terminate it and see it go, against `terminus serve`; and an
application-style run that polls as Terraform's provider does (create, poll until RUNNING, terminate, poll until
gone), against the default timings and against "immediate".

Time passes on the mock's clock, not the machine's: where an application would sleep between polls, these tests
advance the world's clock by the poll interval (POST /__terminus/clock), so a run is fast and deterministic. The
clients sign with the machine's time; the advances stay well inside the 5-minute signature window.
"""

import json

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.cvm.v20170312 import models

from conftest import REGION, REQUEST_ID
from test_python_sdk import make_client
from test_tccli import cvm, home  # noqa: F401 (home is a fixture)

RUN = {
    "Placement": {"Zone": f"{REGION}-3"},
    "ImageId": "img-eb30mz89",
    "InstanceType": "S5.MEDIUM4",
    "InstanceChargeType": "POSTPAID_BY_HOUR",
    "InstanceName": "lifecycle-{R:1}",
    "TagSpecification": [{"ResourceType": "instance", "Tags": [{"Key": "suite", "Value": "clients"}]}],
}
# Terraform's provider polls DescribeInstances every few seconds until the state it waits for, within a deadline.
POLL_SECONDS = 3
DEADLINE_SECONDS = 300


def request(model, params):
    req = getattr(models, f"{model}Request")()
    req.from_json_string(json.dumps(params))
    return req


def describe(client, ids):
    return client.DescribeInstances(request("DescribeInstances", {"InstanceIds": ids}))


def poll(mock, client, ids, done):
    """Calls DescribeInstances until `done(response)`, advancing the world's clock by the poll interval between calls;
    the virtual seconds it took."""
    waited = 0
    while True:
        response = describe(client, ids)
        if done(response):
            return waited
        assert waited < DEADLINE_SECONDS, f"not done after {waited} s: {response.to_json_string()}"
        mock.clock(advance=POLL_SECONDS)
        waited += POLL_SECONDS


def states(response):
    return [instance.InstanceState for instance in response.InstanceSet]


def test_python_sdk_runs_the_whole_lifecycle(mock):
    client = make_client(mock.port, "direct")
    created = client.RunInstances(request("RunInstances", {**RUN, "InstanceCount": 2, "DisableApiTermination": True}))
    ids = created.InstanceIdSet
    assert len(ids) == 2 and REQUEST_ID.match(created.RequestId)

    listed = client.DescribeInstances(request("DescribeInstances", {
        "Filters": [{"Name": "tag:suite", "Values": ["clients"]}, {"Name": "instance-state", "Values": ["PENDING"]}],
    }))
    assert listed.TotalCount == 2
    first = listed.InstanceSet[0]
    assert (first.InstanceName, first.Placement.Zone, first.CPU, first.Memory) == ("lifecycle-1", f"{REGION}-3", 2, 4)
    assert (first.LatestOperation, first.LatestOperationState) == ("RunInstances", "OPERATING")
    assert first.LatestOperationRequestId == created.RequestId
    assert [tag.Key for tag in first.Tags] == ["suite"]

    assert poll(mock, client, ids, lambda r: states(r) == ["RUNNING", "RUNNING"]) == 15

    stopped = client.StopInstances(request("StopInstances", {"InstanceIds": ids, "StoppedMode": "STOP_CHARGING"}))
    status = client.DescribeInstancesStatus(request("DescribeInstancesStatus", {"InstanceIds": ids}))
    assert [s.InstanceState for s in status.InstanceStatusSet] == ["STOPPING", "STOPPING"]
    poll(mock, client, ids, lambda r: states(r) == ["STOPPED", "STOPPED"])
    assert describe(client, ids).InstanceSet[0].LatestOperationRequestId == stopped.RequestId

    # Protected at creation: refused until ModifyInstancesAttribute lifts it.
    with pytest.raises(TencentCloudSDKException) as refused:
        client.TerminateInstances(request("TerminateInstances", {"InstanceIds": ids}))
    assert refused.value.get_code() == "UnsupportedOperation.InstancesProtected"
    client.ModifyInstancesAttribute(request("ModifyInstancesAttribute", {
        "InstanceIds": ids, "DisableApiTermination": False,
    }))

    terminated = client.TerminateInstances(request("TerminateInstances", {"InstanceIds": ids}))
    listed = describe(client, ids)
    assert states(listed) == ["TERMINATING", "TERMINATING"]
    assert listed.InstanceSet[1].LatestOperationRequestId == terminated.RequestId
    assert poll(mock, client, ids, lambda r: r.TotalCount == 0) == 6


def test_python_sdk_client_token_and_dry_run(mock):
    client = make_client(mock.port, "direct")
    dry = client.RunInstances(request("RunInstances", {**RUN, "DryRun": True}))
    assert dry.InstanceIdSet is None and REQUEST_ID.match(dry.RequestId)
    first = client.RunInstances(request("RunInstances", {**RUN, "ClientToken": "clients-token-1"}))
    again = client.RunInstances(request("RunInstances", {**RUN, "ClientToken": "clients-token-1"}))
    assert first.InstanceIdSet == again.InstanceIdSet
    listed = client.DescribeInstances(request("DescribeInstances", {
        "Filters": [{"Name": "tag-key", "Values": ["suite"]}],
    }))
    assert listed.TotalCount == 1


def test_python_sdk_reads_the_documented_errors_of_the_new_actions(mock):
    client = make_client(mock.port, "direct")
    with pytest.raises(TencentCloudSDKException) as error:
        client.RunInstances(request("RunInstances", {**RUN, "Placement": {"Zone": "ap-shanghai-2"}}))
    assert error.value.get_code() == "InvalidZone.MismatchRegion"
    with pytest.raises(TencentCloudSDKException) as error:
        client.DescribeInstances(request("DescribeInstances", {"Filters": [{"Name": "colour", "Values": ["x"]}]}))
    assert error.value.get_code() == "InvalidFilter"
    with pytest.raises(TencentCloudSDKException) as error:
        client.call_json("DescribeImages", {})
    assert error.value.get_code() == "InvalidAction"
    assert "terminus does not serve it" in error.value.get_message()


@pytest.mark.parametrize("timings", ["default", "immediate"])
def test_an_application_creates_polls_terminates_and_polls_until_gone(mock, timings):
    """As Terraform's provider does: RunInstances, poll DescribeInstances until RUNNING, TerminateInstances, poll
    until the instance is no longer listed."""
    if timings == "immediate":
        mock.timings("immediate")
    client = make_client(mock.port, "direct")
    ids = client.RunInstances(request("RunInstances", RUN)).InstanceIdSet
    running_after = poll(mock, client, ids, lambda r: states(r) == ["RUNNING"])
    client.TerminateInstances(request("TerminateInstances", {"InstanceIds": ids}))
    gone_after = poll(mock, client, ids, lambda r: r.TotalCount == 0)
    # The defaults: 15 s to run, listed as terminating for 5 s (polled every 3 s); immediate: no wait at all.
    assert (running_after, gone_after) == ((15, 6) if timings == "default" else (0, 0))


@pytest.mark.parametrize("mode", ["direct", "proxy"])
def test_tccli_runs_the_lifecycle(mock, home, mode):
    # Parameters from --cli-input-json, where strings are JSON strings (a --Name flag takes a string as it is).
    mock.timings("immediate")
    run = cvm(home, mock.port, mode, "RunInstances", RUN, input_json=True)
    assert run.returncode == 0, run.stderr
    ids = json.loads(run.stdout)["InstanceIdSet"]
    listed = cvm(home, mock.port, mode, "DescribeInstances",
                 {"Filters": [{"Name": "instance-name", "Values": ["lifecycle-1"]}]}, input_json=True)
    assert listed.returncode == 0, listed.stderr
    assert [i["InstanceState"] for i in json.loads(listed.stdout)["InstanceSet"]] == ["RUNNING"]
    stop = cvm(home, mock.port, mode, "StopInstances", {"InstanceIds": ids}, input_json=True)
    assert stop.returncode == 0, stop.stderr
    again = cvm(home, mock.port, mode, "StopInstances", {"InstanceIds": ids}, input_json=True)
    assert again.returncode == 255 and "code:UnsupportedOperation.InstanceStateStopped" in again.stderr
    gone = cvm(home, mock.port, mode, "TerminateInstances", {"InstanceIds": ids}, input_json=True)
    assert gone.returncode == 0, gone.stderr
    listed = cvm(home, mock.port, mode, "DescribeInstances", {"InstanceIds": ids}, input_json=True)
    assert json.loads(listed.stdout)["TotalCount"] == 0
