"""
## What it does
Reports an `ignore-check.mllint.io/<rule>` or `mllint.io/ignore-all` annotation that gives no
reason, that names no rule, or whose `(expires YYYY-MM-DD)` date has passed or is not a date; and
an exception of the configuration (`exceptions`) that has expired while it would still hide a
finding of the object.

## Why is this bad?
A suppression without a reason cannot be reviewed: nobody can later tell whether the finding
still does not apply. A suppression that names no rule (a typo) silently suppresses nothing.
An exemption that was meant to end and has not been renewed no longer says why the rule does
not apply. None of them suppresses anything; each is reported so it can be corrected.

## Example
```yaml
metadata:
  annotations:
    ignore-check.mllint.io/image-tag-latest: ""            # no reason
    ignore-check.mllint.io/gpu-not-in-limit: "one GPU"     # no such rule
    ignore-check.mllint.io/job-ttl-missing: "CI deletes it (expires 2025-01-31)"  # lapsed
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
    summary="Suppression without a reason, naming no rule, or expired",
)
