"""Copies the declared fields of the response models terminus serves out of the pinned tencentcloud-sdk-python.

    python3 tests/data/sdk-models/extract.py PATH/TO/site-packages/tencentcloud > tests/data/sdk-models/tencentcloud-sdk-python-3.1.195.txt

For each model reachable from the responses named below: a `class Name (product/version)` line, then the model's
`:type Field: T` docstring lines, verbatim and in the model's order. The test `sdk_models::` reads the copy, so
nothing outside the repository is read at test time.
"""
import re
import sys

ROOTS = {
    "cvm/v20170312": [
        "RunInstancesResponse",
        "StartInstancesResponse",
        "StopInstancesResponse",
        "RebootInstancesResponse",
        "ModifyInstancesAttributeResponse",
        "DescribeInstancesStatusResponse",
        "DescribeInstancesResponse",
        "TerminateInstancesResponse",
    ],
    "tag/v20180813": [
        "TagResourcesResponse",
        "UnTagResourcesResponse",
        "GetResourcesResponse",
        "GetTagsResponse",
        "ModifyResourceTagsResponse",
    ],
}

root = sys.argv[1]
for product, names in ROOTS.items():
    source = open(f"{root}/{product}/models.py", encoding="utf-8").read()
    seen, queue = set(), list(names)
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        found = re.search(r"\nclass %s\(AbstractModel\):.*?def __init__\(self\):\s*r\"\"\"(.*?)\"\"\"" % name, source, re.S)
        if not found:
            sys.exit(f"{product}: no model {name}")
        print(f"class {name} ({product})")
        for line in found.group(1).splitlines():
            line = line.strip()
            if line.startswith(":type "):
                print(line)
                kind = line.split(": ", 1)[1]
                kind = re.sub(r"^:class:`tencentcloud\.[a-z]+\.v\d+\.models\.(\w+)`$", r"\1", kind)
                kind = kind.removeprefix("list of ")
                if kind[:1].isupper():
                    queue.append(kind)
        print()
