"""A team's mllint rules, installed as a package (the worked example of docs/custom-rules.md)."""
