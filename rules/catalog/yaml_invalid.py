"""
## What it does
Reports a file that cannot be read as YAML or JSON: a syntax error, invalid UTF-8, binary
content, nesting deeper than 256 levels, or aliases that expand beyond a million nodes.

## Why is this bad?
`kubectl apply` rejects the file, so nothing in it reaches the cluster, and every other rule is
blind to it. mllint reports the problem with its line and column instead of skipping the file.

## Example
```yaml
metadata:
  name: train
 labels: {}   # indented one space short: a syntax error
```

## Fix safety
No fix: the author's intent cannot be known.

## References
- [YAML 1.1 specification](https://yaml.org/spec/1.1/)
- [kubectl apply](https://kubernetes.io/docs/reference/kubectl/generated/kubectl_apply/)
"""

from mllint.rules.model import Severity, meta_rule

RULE = meta_rule(
    __name__,
    code="ML001",
    name="yaml-invalid",
    severity=Severity.ERROR,
    summary="File is not valid YAML or JSON",
)
