"""mllint's admission webhook: AdmissionReview in, the rule engine's findings out as an allow,
a denial, warnings, audit annotations or a JSON Patch, served over TLS by `mllint serve`.

`server` runs it, `app` wires the FastAPI routes (`validate`, `mutate`, `health`), `handler` is
the HTTP side of one admission and `review` its decision; `admission` reads and writes the
envelope, `decisions` words the answer, `tls` serves and rotates the certificate.
"""
