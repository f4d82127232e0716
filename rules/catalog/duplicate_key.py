"""
## What it does
Reports a mapping that holds the same key twice.

## Why is this bad?
PyYAML and many tools silently keep the last value, while `kubectl` (strict decoding since
Kubernetes 1.25, and the API server's field validation) rejects the object. Either way one of
the two values is not what the author expects to run.

## Example
```yaml
resources:
  limits:
    nvidia.com/gpu: 1
  limits:            # replaces the first `limits`: the GPU limit is lost
    memory: 16Gi
```

## Fix safety
No fix: which value was meant cannot be known.

## References
- [KEP-2885: server-side unknown and duplicate field validation](https://github.com/kubernetes/enhancements/tree/master/keps/sig-api-machinery/2885-server-side-unknown-field-validation)
- [YAML 1.2, 3.2.1.1: keys of a mapping are unique](https://yaml.org/spec/1.2.2/#3211-nodes)
"""

from mllint.rules.model import Severity, meta_rule

RULE = meta_rule(
    __name__,
    code="ML002",
    name="duplicate-key",
    severity=Severity.ERROR,
    summary="Mapping holds the same key twice",
)
