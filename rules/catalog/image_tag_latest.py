"""
## What it does
Flags a container image (init containers and sidecars included) that is tagged `:latest` or
has no tag, which means `:latest`. An image pinned by digest (`@sha256:...`) is fine with or
without a tag. A registry port is not a tag: `localhost:5000/trainer` is untagged.

## What it judges and leaves alone
It judges the images of ML workloads (`traits.Purpose`); those of databases, web front ends,
operators and helper pods are left alone unless the configuration sets `scope: all`. Floating
tags other than `latest` name whatever was pushed last too, and are flagged the same way:
`main`, `master`, `trunk`, `head`, `nightly`, `stable`, `dev`, `develop`, `edge`, `canary`,
`rolling`, `current`, `unstable`, `beta`, `alpha`, `snapshot`, and any of them with a variant
suffix (`latest-gpu`, `nightly-cu124`). Placeholders are not images yet and are left alone:
`${VAR}`, `$VAR`, `$(VAR)`, `{{ ... }}`, `<image>`, upper-case stand-ins such as
`IMG_PLACEHOLDER`, `REPLACE_ME` or `PROJECT_ID`, and values with spaces. In a kustomize patch,
the image the patch writes is judged.

## Why is this bad?
`latest` names whatever was pushed last, so the manifest does not say what runs. A training
run cannot be reproduced from it, pods of one Deployment started on different days may run
different model-server versions, and rolling back the manifest does not roll back the image.
Kubernetes also pulls such images on every start (`imagePullPolicy` defaults to `Always`),
and CUDA images are gigabytes.

## Example
```yaml
containers:
  - name: trainer
    image: pytorch/pytorch            # means pytorch/pytorch:latest
```
Use instead:
```yaml
    image: pytorch/pytorch:2.4.1-cuda12.4-cudnn9-runtime
```

## Fix safety
No fix: which version to pin is the author's choice.

## References
- [Configuration best practices: avoid the `:latest` tag in production](https://kubernetes.io/docs/concepts/configuration/overview/#container-images)
- [Images: a reference without a tag means `latest`; digests pin an exact image](https://kubernetes.io/docs/concepts/containers/images/#image-names)
- [Images: `imagePullPolicy` defaults to `Always` for `:latest` or untagged images](https://kubernetes.io/docs/concepts/containers/images/#imagepullpolicy-defaulting)
- [OCI distribution: references are `[registry[:port]/]repository[:tag][@digest]`](https://github.com/distribution/reference/blob/main/reference.go)
"""

import functools
from collections.abc import Iterator
from typing import Any

from mllint.rules import pointer as jp
from mllint.rules.model import Severity, Violation, rule
from mllint.rules.resources import parse_image
from mllint.rules.traits import ML_PURPOSES, floating_tag, is_placeholder
from mllint.rules.workload import Scope


def check(scope: Scope, options: Any) -> Iterator[Violation]:
    for c in scope.containers:
        image = c.spec.get("image")
        if not isinstance(image, str):
            continue
        what = _floating(image)
        if what is None:
            continue
        yield Violation(
            jp.join(c.pointer, "image"),
            f"container {c.name!r} image {image.strip()!r} {what}, so what runs changes with "
            "each push: pin a version tag or a digest",
        )


@functools.lru_cache(maxsize=4096)
def _floating(image: str) -> str | None:
    """How an image reference floats, in words; None when it is pinned or not a reference. A
    cluster runs few images, each judged once here."""
    image = image.strip()
    if not image or is_placeholder(image) or len(image.split()) > 1:
        return None  # not an image reference yet: rendered or filled in before it is applied
    ref = parse_image(image)
    if ref.digest is not None or not floating_tag(ref.tag):
        return None
    if ref.tag is None:
        return "has no tag, which means :latest"
    if ref.tag == "latest":
        return "is tagged :latest"
    return f"has the floating tag :{ref.tag}"


RULE = rule(
    check,
    code="ML602",
    name="image-tag-latest",
    severity=Severity.WARNING,
    summary="Container image tagged :latest, another floating tag, or untagged",
    purposes=ML_PURPOSES,
    generic=True,
    fragments=True,
)
