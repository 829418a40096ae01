"""The cleanup job against terminus, as the team that owns it tests it: the `terminus_server` fixture (from the
terminus-mock package) stands in for CVM."""

import pytest
from tencentcloud.common import credential
from tencentcloud.cvm.v20170312 import cvm_client, models

from inventory import Refused, decommission, instances_in_state


@pytest.fixture
def cvm(terminus_server):
    keys = credential.Credential(terminus_server.secret_id, terminus_server.secret_key)
    return cvm_client.CvmClient(keys, terminus_server.region, terminus_server.client_profile())


def test_decommissioned_instances_are_no_longer_running(cvm):
    assert "ins-r8hr2upy" in instances_in_state(cvm, "RUNNING")
    decommission(cvm, ["ins-r8hr2upy"])
    assert "ins-r8hr2upy" not in instances_in_state(cvm, "RUNNING")


def test_each_test_starts_from_the_world_the_server_started_with(cvm):
    # The test above terminated this instance; the fixture put the world back before this one.
    assert "ins-r8hr2upy" in instances_in_state(cvm, "RUNNING")


def test_running_twice_is_harmless(cvm, terminus_server):
    decommission(cvm, ["ins-09dx96dg"])
    decommission(cvm, ["ins-09dx96dg"])
    codes = [entry["code"] for entry in terminus_server.journal(action="TerminateInstances")]
    # Terminated instances stay listed as TERMINATING for a while, as on the real API.
    assert codes == [None, "UnsupportedOperation.InstanceStateTerminating"]


def test_a_protected_instance_is_refused_and_keeps_running(cvm, terminus_server):
    terminus_server.put_world({
        "instances": [{"id": "ins-keepme01", "protected": True}],
    })
    with pytest.raises(Refused) as refused:
        decommission(cvm, ["ins-keepme01"])
    assert refused.value.code == "UnsupportedOperation.InstancesProtected"
    assert instances_in_state(cvm, "RUNNING") == ["ins-keepme01"]


def test_an_unknown_instance_counts_as_already_gone(cvm, terminus_server):
    decommission(cvm, ["ins-00000000"])
    [entry] = terminus_server.journal()
    assert (entry["action"], entry["code"]) == ("TerminateInstances", "InvalidInstanceId.NotFound")


def test_a_prepaid_instance_goes_to_the_recycle_bin_first(cvm, terminus_server):
    terminus_server.put_world({"instances": [{"id": "ins-prepaid9", "charge": "PREPAID"}]})
    decommission(cvm, ["ins-prepaid9"])
    assert terminus_server.client.instance("ins-prepaid9")["state"] == "SHUTDOWN"


def test_the_scenario_of_a_protected_instance_passes(cvm, terminus_server):
    # The same situation as terminus's own case, judged by the server: every answer and the final state.
    terminus_server.load_scenario("tencent/terminate-instances/protected-instance-is-refused")
    with pytest.raises(Refused):
        decommission(cvm, ["ins-prot0001"])
    assert terminus_server.verdict()["passed"] is True


def test_every_request_was_signed_as_the_sdk_signs(cvm, terminus_server):
    instances_in_state(cvm, "STOPPED")
    [entry] = terminus_server.journal()
    assert entry["verdict"] == "ok"
    authorization = {name.lower(): value for name, value in entry["request"]["headers"]}["authorization"]
    assert authorization.startswith("TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/")
