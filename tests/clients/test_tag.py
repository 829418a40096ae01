"""The Tag API through tencentcloud-sdk-python's TagClient, as a tool that marks instances for a later action uses
it (Cloud Custodian's mark-for-op: TagResources, then GetResources by tag, then act; the recorded cassettes
`test_tc_tags/*` in shared/reference/real-wire.md): mark an instance, find it by its mark through the Tag API and
through DescribeInstances, change and remove the mark.

The Tag API's host is `tag.tencentcloudapi.com`: in proxy addressing the SDK sends that host; in direct addressing
the mock knows the product from the TC3 credential scope (`tag`), so the `Signature` form is tested in proxy
addressing only (it names no service).
"""

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.cvm.v20170312 import models as cvm_models
from tencentcloud.tag.v20180813 import models, tag_client

from conftest import REGION, REQUEST_ID
from test_python_sdk import make_client, make_credential

OWNER = "100000000001"
MARKED = "ins-r8hr2upy"
RESOURCE = f"qcs::cvm:{REGION}:uin/{OWNER}:instance/{MARKED}"
MARK = "Resource does not meet policy: stop@2026-12-09T00:00:00+00:00"
# (addressing, signMethod, reqMethod)
CLIENTS = [
    ("direct", "TC3-HMAC-SHA256", "POST"),
    ("proxy", "TC3-HMAC-SHA256", "POST"),
    ("proxy", "HmacSHA256", "POST"),
    ("proxy", "HmacSHA1", "GET"),
]
CLIENT_IDS = [f"{mode}-{sign}-{method}" for mode, sign, method in CLIENTS]


def make_tag_client(port, mode, sign, method):
    if mode == "direct":
        http = HttpProfile(protocol="http", endpoint=f"127.0.0.1:{port}", reqMethod=method, reqTimeout=20)
    else:
        # The SDK's default endpoint, tag.tencentcloudapi.com, through the mock as proxy.
        http = HttpProfile(protocol="http", reqMethod=method, reqTimeout=20, proxy=f"http://127.0.0.1:{port}")
    return tag_client.TagClient(make_credential("main"), REGION, ClientProfile(signMethod=sign, httpProfile=http))


def request(model, params):
    req = getattr(models, f"{model}Request")()
    req._deserialize(params)
    return req


def marked_by_describe(port):
    """The ids DescribeInstances finds by the mark (the `tag:` filter)."""
    client = make_client(port, "direct")
    req = cvm_models.DescribeInstancesRequest()
    req._deserialize({"Filters": [{"Name": "tag:maid_status", "Values": [MARK]}]})
    return [instance.InstanceId for instance in client.DescribeInstances(req).InstanceSet]


@pytest.mark.parametrize("mode,sign,method", CLIENTS, ids=CLIENT_IDS)
def test_mark_find_and_unmark_an_instance(mock, mode, sign, method):
    tags = make_tag_client(mock.port, mode, sign, method)

    marked = tags.TagResources(request("TagResources", {
        "ResourceList": [RESOURCE], "Tags": [{"TagKey": "maid_status", "TagValue": MARK}]}))
    assert REQUEST_ID.match(marked.RequestId), marked.RequestId
    assert marked.FailedResources == []

    # The mark is the instance's own: DescribeInstances finds it by it.
    assert marked_by_describe(mock.port) == [MARKED]

    found = tags.GetResources(request("GetResources", {
        "TagFilters": [{"TagKey": "maid_status", "TagValue": [MARK]}]}))
    assert [(m.Resource, [(t.TagKey, t.TagValue) for t in m.Tags]) for m in found.ResourceTagMappingList] == [
        (RESOURCE, [("maid_status", MARK)])]
    assert found.PaginationToken == ""

    tags.ModifyResourceTags(request("ModifyResourceTags", {
        "Resource": RESOURCE, "ReplaceTags": [{"TagKey": "maid_status", "TagValue": "done"}]}))
    listed = tags.GetTags(request("GetTags", {"TagKeys": ["maid_status"]}))
    assert [(t.TagKey, t.TagValue) for t in listed.Tags] == [("maid_status", "done")]
    assert marked_by_describe(mock.port) == []

    tags.UnTagResources(request("UnTagResources", {"ResourceList": [RESOURCE], "TagKeys": ["maid_status"]}))
    assert tags.GetTags(request("GetTags", {"TagKeys": ["maid_status"]})).Tags == []


def test_a_tag_made_at_launch_is_found_through_the_tag_api(mock):
    # The reverse direction: RunInstances' TagSpecification, then GetResources by that tag.
    cvm = make_client(mock.port, "direct")
    run = cvm_models.RunInstancesRequest()
    run._deserialize({
        "Placement": {"Zone": f"{REGION}-3"}, "ImageId": "img-eb30mz89",
        "TagSpecification": [{"ResourceType": "instance", "Tags": [{"Key": "suite", "Value": "tag-api"}]}]})
    created = cvm.RunInstances(run).InstanceIdSet
    tags = make_tag_client(mock.port, "direct", "TC3-HMAC-SHA256", "POST")
    found = tags.GetResources(request("GetResources", {"TagFilters": [{"TagKey": "suite", "TagValue": ["tag-api"]}]}))
    assert [m.Resource for m in found.ResourceTagMappingList] == [
        f"qcs::cvm:{REGION}:uin/{OWNER}:instance/{created[0]}"]


def test_another_accounts_instance_is_a_failed_resource_and_a_reserved_key_is_refused(mock):
    tags = make_tag_client(mock.port, "proxy", "TC3-HMAC-SHA256", "POST")
    other = f"qcs::cvm:{REGION}:uin/{OWNER}:instance/ins-other001"
    answer = tags.TagResources(request("TagResources", {
        "ResourceList": [other], "Tags": [{"TagKey": "k", "TagValue": "v"}]}))
    assert [(f.Resource, f.Code) for f in answer.FailedResources] == [
        (other, "InvalidParameterValue.ResourceIdInvalid")]
    with pytest.raises(TencentCloudSDKException) as refused:
        tags.TagResources(request("TagResources", {
            "ResourceList": [RESOURCE], "Tags": [{"TagKey": "qcloud:x", "TagValue": "v"}]}))
    assert refused.value.code == "InvalidParameterValue.ReservedTagKey"
