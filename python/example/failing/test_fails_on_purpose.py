"""A test that fails on purpose, run on its own by python/ci, which checks that its report carries the requests it
sent: the plugin adds them when a test that used `terminus_server` fails."""

from tencentcloud.common import credential
from tencentcloud.cvm.v20170312 import cvm_client

from inventory import decommission


def test_decommission_with_a_mistyped_key(terminus_server):
    keys = credential.Credential(terminus_server.secret_id, terminus_server.secret_key + "x")
    cvm = cvm_client.CvmClient(keys, terminus_server.region, terminus_server.client_profile())
    decommission(cvm, ["ins-r8hr2upy"])  # refused: AuthFailure.SignatureFailure
