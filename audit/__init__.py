"""mllint's cluster audit: `mllint audit` lists the workloads a cluster already runs, judges them
with the webhook's engine and configuration, and reports them in the linter's formats or as
PolicyReports.

`cluster` speaks to the API server (discovery, paged lists, server-side apply), `judge` runs the
engine over what it lists, `reports` builds and writes PolicyReports, `cli` is the command. A
front end beside the linter and the webhook: it reuses the linter's report formats and the
webhook's settings and enforcement, and neither of them imports it.
"""
