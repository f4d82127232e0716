"""
## What it does
Reports an `ignore-check.mllint.io/<rule>` or `mllint.io/ignore-all` annotation that gives no
reason, or that names no rule.

## Why is this bad?
A suppression without a reason cannot be reviewed: nobody can later tell whether the finding
still does not apply. A suppression that names no rule (a typo) silently suppresses nothing.
Neither suppresses anything; both are reported so they can be corrected.

## Example
```yaml
metadata:
  annotations:
    ignore-check.mllint.io/image-tag-latest: ""            # no reason
    ignore-check.mllint.io/gpu-not-in-limit: "one GPU"     # no such rule
```

## Fix safety
No fix.

## References
- [kube-linter: ignoring violations with annotations](https://docs.kubelinter.io/#/configuring-kubelinter?id=ignoring-violations-for-specific-cases)
- [Polaris: exemptions](https://polaris.docs.fairwinds.com/customization/exemptions/)
"""

from mllint.rules.model import Severity, meta_rule

RULE = meta_rule(
    __name__,
    code="ML003",
    name="suppression-invalid",
    severity=Severity.WARNING,
    summary="Suppression annotation without a reason or naming no rule",
)
