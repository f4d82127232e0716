"""The workload model: where each kind keeps its pods, containers, volumes and lifecycle fields.

This is the one place that knows the shape of workload kinds. Rules ask a `Subject` for its pods
and containers and never spell out a kind's paths themselves, so a new kind (an operator's CRD, or
one a user declares in config) is a `WorkloadKind` entry here and every rule reaches it.

Paths are JSON Pointer patterns (`*` matches any key or index), as in the config file.
"""

from __future__ import annotations

import functools
from _weakref import ref  # `weakref.ref` itself, without importing the `weakref` module
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mllint.rules import patch
from mllint.rules import pointer as jp
from mllint.rules.model import Frozen, Op, Record, Role, cached, set_field
from mllint.rules.resources import fields
from mllint.rules.traits import (
    Member,
    Purpose,
    Traits,
    accelerators_in,
    accelerators_of,
    claims_of,
    command_line,
    derive,
    device_of,
    image_name,
    mpi_purpose,
    server_named,
)


class PodTemplate(Frozen):
    """Where pod specs live in an object of some kind.

    `path` names a pod template (an object with `metadata` and `spec`), or, with `inline`, the
    pod spec itself (KServe's predictor, a bare Pod's `spec`). `containers` lists extra patterns,
    relative to the pod spec, of single container-like objects outside `containers[]` (KServe's
    `model`, Argo's `script`). `volumes` lists extra patterns, relative to the object, of volume
    lists shared by every pod (Argo's workflow-level `volumes`). `role` overrides the kind's.
    """

    _fields = (
        "path",
        "inline",
        "containers",
        "init_containers",
        "main_containers",
        "volumes",
        "role",
        "restart_policy",
        "when",
        "inherit",
        "provides",
        "injects",
        "operator",
        "purpose",
        "member",
        "unless",
        "mounts_shm",
        "partial",
    )

    path: str
    inline: bool
    containers: tuple[str, ...]
    init_containers: tuple[str, ...]
    main_containers: tuple[str, ...]
    volumes: tuple[str, ...]
    role: Role | None
    restart_policy: str | None
    """The pod `restartPolicy` this template must have, when the kind's semantics fix one."""
    when: tuple[str, ...]
    """Patterns, relative to the pod spec, one of which must match for it to be a pod at all (an
    Argo template makes a pod only when it has a `container`, `script` or `containerSet`)."""
    inherit: tuple[str, ...]
    """Pointers, relative to the object, of pod-spec-like objects whose pod-level settings
    (`POD_LEVEL`) the pods take when they do not set them (an Argo workflow's `tolerations`)."""
    provides: frozenset[str]
    """Container fields the platform sets itself, or makes unneeded, on every container it
    creates from this template (Seldon's probes, Knative's readiness check), so a rule asking
    for them finds them set (`Container.has`)."""
    injects: Mapping[str, Mapping[str, Any]]
    """Probes the operator adds, with their timing, to containers that set none (KubeRay's
    liveness and readiness probes): `Container.probe` returns them."""
    operator: str
    """Who provides or injects them, as messages name it (`KubeRay`)."""
    purpose: Purpose | None
    """What the pods are, when the kind decides it (a KServe predictor is a model server);
    otherwise `traits.derive` decides from the pod."""
    member: Member | None
    """The pods' place in a multi-pod workload, when the template decides it (a Ray head)."""
    unless: tuple[tuple[str, Any], ...]
    """(pointer, value), relative to the object: when the object has that value there, this
    template makes no pods (a ModelMesh-mode InferenceService's predictor is served by
    ModelMesh's shared pods)."""
    mounts_shm: bool
    """The operator mounts a memory-backed emptyDir at /dev/shm in the pod's first container
    when it has none (KubeRay, for the Ray container)."""
    partial: bool
    """The template only overrides part of a pod that another object defines (a TrainJob's
    `trainer`, `runtimePatches` and `podTemplateOverrides` over its runtime's pod templates):
    like a kustomize patch, it is judged only by rules about the values it writes
    (`Rule.fragments`)."""

    def __init__(
        self,
        path: str,
        inline: bool = False,
        containers: tuple[str, ...] = (),
        init_containers: tuple[str, ...] = ("/initContainers/*",),
        main_containers: tuple[str, ...] = ("/containers/*",),
        *,
        volumes: tuple[str, ...] = (),
        role: Role | None = None,
        restart_policy: str | None = None,
        when: tuple[str, ...] = (),
        inherit: tuple[str, ...] = (),
        provides: frozenset[str] = frozenset(),
        injects: Mapping[str, Mapping[str, Any]] | None = None,
        operator: str = "",
        purpose: Purpose | None = None,
        member: Member | None = None,
        unless: tuple[tuple[str, Any], ...] = (),
        mounts_shm: bool = False,
        partial: bool = False,
    ) -> None:
        set_field(self, "path", path)
        set_field(self, "inline", inline)
        set_field(self, "containers", containers)
        set_field(self, "init_containers", init_containers)
        set_field(self, "main_containers", main_containers)
        set_field(self, "volumes", volumes)
        set_field(self, "role", role)
        set_field(self, "restart_policy", restart_policy)
        set_field(self, "when", when)
        set_field(self, "inherit", inherit)
        set_field(self, "provides", provides)
        set_field(self, "injects", {} if injects is None else injects)
        set_field(self, "operator", operator)
        set_field(self, "purpose", purpose)
        set_field(self, "member", member)
        set_field(self, "unless", unless)
        set_field(self, "mounts_shm", mounts_shm)
        set_field(self, "partial", partial)

    def makes_pods(self, obj: Any) -> bool:
        for at, value in self.unless:
            try:
                if jp.resolve(obj, at) == value:
                    return False
            except (KeyError, IndexError, ValueError, TypeError):
                continue
        return True


BATCH_RESTART = ("Never", "OnFailure")
"""Restart policies that make a bare Pod a batch run rather than a long-running one."""

POD_LEVEL = (
    "affinity",
    "automountServiceAccountToken",
    "dnsConfig",
    "dnsPolicy",
    "hostAliases",
    "hostNetwork",
    "imagePullSecrets",
    "nodeSelector",
    "schedulerName",
    "securityContext",
    "serviceAccountName",
    "tolerations",
)
"""Pod settings an operator kind may give once for all its pods (see `PodTemplate.inherit`)."""


class Lifecycle(Frozen):
    """Pointers to a run-to-completion workload's lifecycle fields (absent: not applicable)."""

    _fields = (
        "backoff_limit",
        "active_deadline",
        "ttl",
        "concurrency",
        "concurrency_values",
        "retries",
        "satisfied_by",
        "enabled_by",
        "releases",
    )

    backoff_limit: str | None
    active_deadline: str | None
    ttl: str | None
    concurrency: str | None
    concurrency_values: tuple[str, ...]
    retries: int | None
    """How many times a failed run is retried when the backoff limit is unset: 6 for a Job,
    3 for a Volcano Job; None when without bound (an Argo `retryStrategy` with no `limit`, a
    Kubeflow job whose replicas restart in place)."""
    satisfied_by: tuple[tuple[str, str], ...]
    """(setting, pattern): another field whose presence does the setting's job (an Argo
    workflow's `ttlStrategy` in any form, or its `podGC`, for a TTL)."""
    enabled_by: tuple[tuple[str, str, Any], ...]
    """(setting, pointer, value): a switch without which the setting has no effect (a RayJob's
    TTL needs `shutdownAfterJobFinishes: true`); the switch is what is asked for and set."""
    releases: tuple[str, Any] | None
    """(pointer, value): the switch without which the operator leaves the pods running when the
    run ends or its deadline passes (a RayJob's `shutdownAfterJobFinishes: true`), so that a
    deadline alone frees nothing."""

    def __init__(
        self,
        backoff_limit: str | None = None,
        active_deadline: str | None = None,
        ttl: str | None = None,
        concurrency: str | None = None,
        concurrency_values: tuple[str, ...] = ("Allow", "Forbid", "Replace"),
        *,
        retries: int | None = 6,
        satisfied_by: tuple[tuple[str, str], ...] = (),
        enabled_by: tuple[tuple[str, str, Any], ...] = (),
        releases: tuple[str, Any] | None = None,
    ) -> None:
        set_field(self, "backoff_limit", backoff_limit)
        set_field(self, "active_deadline", active_deadline)
        set_field(self, "ttl", ttl)
        set_field(self, "concurrency", concurrency)
        set_field(self, "concurrency_values", concurrency_values)
        set_field(self, "retries", retries)
        set_field(self, "satisfied_by", satisfied_by)
        set_field(self, "enabled_by", enabled_by)
        set_field(self, "releases", releases)

    def unmet(self, obj: Any, setting: str, default: Any) -> Iterator[Unmet]:
        """Where `setting` (`backoff_limit`, `active_deadline`, `ttl`) is not in effect in
        `obj`, with the operations that put it in effect (`default` where a value is needed).

        A pattern with a `*` asks for the setting in every existing parent it matches (each
        Argo `retryStrategy` needs a `limit`); rules use this rather than the bare pointers so
        that alternatives and switches count.
        """
        pattern: str | None = getattr(self, setting)
        if pattern is None:
            return
        for other, alternative in self.satisfied_by:
            if other == setting and next(jp.expand(obj, alternative), None) is not None:
                return
        switches = [(at, value) for name, at, value in self.enabled_by if name == setting]
        for at, value in switches:
            switch = next(fields(obj, at), None)
            if switch is None or (switch.present and switch.value == value):
                continue
            ops = [patch.set_value(at, value)]
            ops += [patch.set_value(f.at, default) for f in fields(obj, pattern) if not f.present]
            yield Unmet(switch.owner, jp.split(at)[-1], value, tuple(ops))
            return
        if switches:
            return  # the switch is on: the operator's default for the value applies
        for f in fields(obj, pattern):
            if not f.present:
                name = jp.split(f.at)[-1]
                yield Unmet(f.owner, name, default, (patch.set_value(f.at, default),))


class Unmet(Frozen):
    """A lifecycle setting not in effect: where to report it, the field and value to set, and
    the operations that set it."""

    __slots__ = _fields = ("owner", "name", "value", "ops")

    owner: str
    name: str
    value: Any
    ops: tuple[Op, ...]

    def __init__(self, owner: str, name: str, value: Any, ops: tuple[Op, ...]) -> None:
        set_field(self, "owner", owner)
        set_field(self, "name", name)
        set_field(self, "value", value)
        set_field(self, "ops", ops)


class WorkloadKind(Frozen):
    _fields = (
        "group",
        "kind",
        "versions",
        "plural",
        "role",
        "templates",
        "lifecycle",
        "replicas",
        "embeds",
    )
    group: str
    kind: str
    versions: tuple[str, ...]
    plural: str
    role: Role
    templates: tuple[PodTemplate, ...]
    lifecycle: Lifecycle
    replicas: str | None
    """Pointer to the replica count of a scalable workload."""
    embeds: str | None
    """Pointer to a whole workload object of another kind that it creates for each run (a Katib
    Experiment's `trialTemplate.trialSpec`): that kind's lifecycle fields govern each run."""

    def __init__(  # noqa: PLR0917  # the fields in order, positionally
        self,
        group: str,
        kind: str,
        versions: tuple[str, ...],
        plural: str,
        role: Role,
        templates: tuple[PodTemplate, ...],
        lifecycle: Lifecycle | None = None,
        replicas: str | None = None,
        embeds: str | None = None,
    ) -> None:
        set_field(self, "group", group)
        set_field(self, "kind", kind)
        set_field(self, "versions", versions)
        set_field(self, "plural", plural)
        set_field(self, "role", role)
        set_field(self, "templates", templates)
        set_field(self, "lifecycle", Lifecycle() if lifecycle is None else lifecycle)
        set_field(self, "replicas", replicas)
        set_field(self, "embeds", embeds)

    @property
    def key(self) -> str:
        return f"{self.group}/{self.kind}" if self.group else self.kind

    @cached
    def batch(self) -> bool:
        """Whether a template of it decides that its pods are batch runs (`PodTemplate.purpose`),
        asked of every object of the kind (`Subject.pods`)."""
        return any(t.purpose is Purpose.BATCH for t in self.templates)


_POD_TEMPLATE = (PodTemplate("/spec/template"),)
_JOB_TEMPLATE = (PodTemplate("/spec/template", restart_policy="Never"),)

BUILTIN_KINDS: tuple[WorkloadKind, ...] = (
    WorkloadKind("", "Pod", ("v1",), "pods", Role.SERVING, (PodTemplate("", inline=False),)),
    WorkloadKind(
        "apps",
        "Deployment",
        ("v1",),
        "deployments",
        Role.SERVING,
        _POD_TEMPLATE,
        replicas="/spec/replicas",
    ),
    WorkloadKind(
        "apps",
        "StatefulSet",
        ("v1",),
        "statefulsets",
        Role.SERVING,
        _POD_TEMPLATE,
        replicas="/spec/replicas",
    ),
    WorkloadKind(
        "apps",
        "ReplicaSet",
        ("v1",),
        "replicasets",
        Role.SERVING,
        _POD_TEMPLATE,
        replicas="/spec/replicas",
    ),
    WorkloadKind("apps", "DaemonSet", ("v1",), "daemonsets", Role.DAEMON, _POD_TEMPLATE),
    WorkloadKind(
        "",
        "ReplicationController",
        ("v1",),
        "replicationcontrollers",
        Role.SERVING,
        _POD_TEMPLATE,
        replicas="/spec/replicas",
    ),
    WorkloadKind(
        "batch",
        "Job",
        ("v1",),
        "jobs",
        Role.BATCH,
        _JOB_TEMPLATE,
        Lifecycle(
            backoff_limit="/spec/backoffLimit",
            active_deadline="/spec/activeDeadlineSeconds",
            ttl="/spec/ttlSecondsAfterFinished",
        ),
    ),
    WorkloadKind(
        "batch",
        "CronJob",
        ("v1",),
        "cronjobs",
        Role.BATCH,
        (PodTemplate("/spec/jobTemplate/spec/template", restart_policy="Never"),),
        # Jobs a CronJob owns are cleaned up by its history limits, so no TTL is asked of them.
        Lifecycle(
            backoff_limit="/spec/jobTemplate/spec/backoffLimit",
            active_deadline="/spec/jobTemplate/spec/activeDeadlineSeconds",
            concurrency="/spec/concurrencyPolicy",
        ),
    ),
)


class ResourceKind(Frozen):
    """A kind some rule checks that is not a workload (an autoscaler, say)."""

    _fields = ("group", "kind", "versions", "plural")

    group: str
    kind: str
    versions: tuple[str, ...]
    plural: str

    def __init__(self, group: str, kind: str, versions: tuple[str, ...], plural: str) -> None:
        set_field(self, "group", group)
        set_field(self, "kind", kind)
        set_field(self, "versions", versions)
        set_field(self, "plural", plural)


OTHER_KINDS: tuple[ResourceKind, ...] = (
    ResourceKind(
        "autoscaling", "HorizontalPodAutoscaler", ("v1", "v2"), "horizontalpodautoscalers"
    ),
)


def group_of(api_version: str) -> str:
    """`apps/v1` -> `apps`; `v1` (the core group) -> `""`."""
    return api_version.rpartition("/")[0]


class KindIndex:
    """Workload kinds by group and kind, built once per engine."""

    def __init__(self, kinds: Iterable[WorkloadKind]) -> None:
        self._by_key: dict[tuple[str, str], WorkloadKind] = {}
        for kind in kinds:
            self._by_key[(kind.group, kind.kind)] = kind

    def __iter__(self) -> Iterator[WorkloadKind]:
        return iter(self._by_key.values())

    def lookup(self, api_version: str, kind: str) -> WorkloadKind | None:
        return self._by_key.get((group_of(api_version), kind))


def _gone(record: str, parent: str) -> ReferenceError:
    return ReferenceError(
        f"the {parent} of this {record} is no longer held: keep the Subject (or the Scope) "
        f"while reading its pods and containers"
    )


class Container(Frozen):
    """One container of a pod. It reaches its pod (`pod`) through a weak reference: the pod
    holds its containers, and a strong reference back would make every evaluated object's
    records a reference cycle, which only the cyclic garbage collector frees. The pod is
    there for as long as its `Subject` is held (by the engine while it judges, by a rule's
    `Scope`)."""

    _fields = ("pointer", "spec", "pod", "init")
    pointer: str
    spec: Mapping[str, Any]
    init: bool
    _template: PodTemplate
    """Its pod's template, which `has` and `probe` read (held here: they need no pod)."""

    def __init__(self, pointer: str, spec: Mapping[str, Any], pod: Pod, init: bool = False) -> None:
        # One per container of every object evaluated: its fields are set in one call.
        vars(self).update(
            pointer=pointer, spec=spec, _pod=ref(pod), init=init, _template=pod.template
        )

    @property
    def pod(self) -> Pod:
        pod: Pod | None = self.__dict__["_pod"]()
        if pod is None:
            raise _gone("container", "pod")
        return pod

    @cached
    def accelerators(self) -> dict[str, int]:
        """Accelerators it asks for, by resource name (`traits.accelerators_of`)."""
        return accelerators_of(self.spec)

    @cached
    def claims(self) -> tuple[str, ...]:
        """Names of the DRA claims it uses (`resources.claims`)."""
        return claims_of(self.spec)

    @cached
    def server(self) -> str | None:
        """The model server it runs, when its image or command is a known one."""
        return server_named(self.image, self.command)

    @cached
    def command(self) -> str:
        """Its command and arguments as one line (`traits.command_line`)."""
        return command_line(self.spec)

    @cached
    def image(self) -> str:
        """Its image's name, lower-cased, without tag or digest (`traits.image_name`)."""
        return image_name(self.spec.get("image"))

    @property
    def accelerator_count(self) -> int:
        return sum(self.accelerators.values())

    @property
    def provided(self) -> frozenset[str]:
        """Container fields its platform provides (`PodTemplate.provides`)."""
        return self._template.provides

    @property
    def name(self) -> str:
        name = self.spec.get("name")
        return str(name) if name is not None else jp.split(self.pointer)[-1]

    def has(self, key: str) -> bool:
        """Whether the container will have `key` set: by its spec or by its platform."""
        template = self._template
        return key in self.spec or key in template.provides or key in template.injects

    def probe(self, name: str) -> tuple[Mapping[str, Any] | None, str]:
        """A probe as it will run: the container's own (with `""`), or the one its operator
        injects (with the operator's name); (None, "") when it has none."""
        own = self.spec.get(name)
        if isinstance(own, dict):
            return own, ""
        template = self._template
        injected = template.injects.get(name)
        if injected is not None and name not in self.spec:
            return injected, template.operator
        return None, ""


class Pod(Record):
    """One pod spec of a workload, with where its metadata and spec live. It reaches its
    subject (`subject`) through a weak reference, as a container reaches its pod; what its
    traits need of the object (`obj`, `kind`, `api_version`, `mpi`) it holds itself, so they
    are read the same with or without the subject."""

    _fields = (
        "pointer",
        "spec",
        "metadata",
        "role",
        "template",
        "subject",
        "containers",
        "volumes",
    )

    pointer: str
    """Pointer to the pod spec (the object holding `containers`)."""
    spec: Mapping[str, Any]
    metadata: Mapping[str, Any]
    role: Role
    template: PodTemplate
    containers: list[Container]
    volumes: list[tuple[str, Mapping[str, Any]]]
    obj: Mapping[str, Any]
    """The object it is a pod of, with its `kind` and `api_version` (its subject's)."""
    kind: str
    api_version: str
    mpi: tuple[Purpose, str] | None
    """Its subject's `mpi_purpose`, given to the pods of kinds with batch templates."""

    def __init__(  # noqa: PLR0917  # the fields in order, positionally
        self,
        pointer: str,
        spec: Mapping[str, Any],
        metadata: Mapping[str, Any],
        role: Role,
        template: PodTemplate,
        subject: Subject,
        containers: list[Container] | None = None,
        volumes: list[tuple[str, Mapping[str, Any]]] | None = None,
    ) -> None:
        self.pointer = pointer
        self.spec = spec
        self.metadata = metadata
        self.role = role
        self.template = template
        self._subject = ref(subject)
        self.containers = [] if containers is None else containers
        self.volumes = [] if volumes is None else volumes
        self.obj = subject.obj
        self.kind = subject.kind
        self.api_version = subject.api_version
        self.mpi = None

    @property
    def subject(self) -> Subject:
        subject = self._subject()
        if subject is None:
            raise _gone("pod", "subject")
        return subject

    @cached
    def main_containers(self) -> tuple[Container, ...]:
        """Its containers that are not init containers (read once the pod is built)."""
        return tuple([c for c in self.containers if not c.init])

    @cached
    def serving_containers(self) -> tuple[Container, ...]:
        """Its main containers that serve a model (`Traits.serving`) when it is a model server;
        otherwise every main container (`Scope.serving_containers`)."""
        traits = self.traits
        if traits.model_server:
            serving = traits.serving
            return tuple([c for c in self.main_containers if c.pointer in serving])
        return self.main_containers

    @property
    def provided(self) -> frozenset[str]:
        """Container fields its platform provides (`PodTemplate.provides`)."""
        return self.template.provides

    @cached
    def traits(self) -> Traits:
        """What the pod is: purpose, accelerators, model server, place (`traits.derive`)."""
        return derive(self)

    @property
    def purpose(self) -> Purpose:
        return self.traits.purpose


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


@functools.lru_cache(maxsize=256)
def _list_key(pattern: str) -> str | None:
    """The key of a `/key/*` pattern whose key needs no escaping (`/containers/*`), under which
    a pod spec's list items are found without `jp.expand`; None for any other pattern."""
    key, wildcard, rest = pattern[1:].partition("/*")
    if pattern[:1] != "/" or not wildcard or rest or not key:
        return None
    return key if jp.escape(key) == key and key != jp.WILDCARD else None


class Subject(Record):
    """One Kubernetes object under evaluation, with its workload view computed once."""

    _fields = ("obj", "workload", "fragment", "index")

    obj: Mapping[str, Any]
    workload: WorkloadKind | None
    fragment: bool
    """A partial object (a kustomize patch): rules about missing fields do not judge it."""
    index: KindIndex | None
    """The kinds the engine knows, to read an embedded workload (`WorkloadKind.embeds`)."""
    kind: str
    api_version: str
    metadata: Mapping[str, Any]
    name: str
    namespace: str

    def __init__(
        self,
        obj: Mapping[str, Any],
        workload: WorkloadKind | None = None,
        fragment: bool = False,
        index: KindIndex | None = None,
    ) -> None:
        self.obj = obj
        self.workload = workload
        self.fragment = fragment
        self.index = index
        # Read by most rules and by every finding: taken from the object once.
        self.kind = str(obj.get("kind", ""))
        self.api_version = str(obj.get("apiVersion", ""))
        metadata = self.metadata = _mapping(obj.get("metadata"))
        self.name = str(metadata.get("name") or metadata.get("generateName") or "")
        self.namespace = str(metadata.get("namespace") or "")

    def __reduce__(self) -> tuple[Any, ...]:
        # Through `__init__`, which derives the attributes above from the fields.
        return (self.__class__, self._values())

    @property
    def role(self) -> Role | None:
        return self.workload.role if self.workload else None

    @cached
    def pods(self) -> list[Pod]:
        if self.workload is None:
            return []
        pods: list[Pod] = []
        for template in self.workload.templates:
            if template.unless and not template.makes_pods(self.obj):
                continue
            for at, node in jp.expand(self.obj, template.path):
                if not isinstance(node, dict):
                    continue
                spec: Mapping[str, Any]
                meta: Mapping[str, Any]
                if template.inline:
                    spec_at, spec, meta = at, node, self.metadata
                else:
                    spec_at, spec = at + "/spec", _mapping(node.get("spec"))
                    meta = _mapping(node.get("metadata"))
                if template.when and not any(
                    next(jp.expand(spec, w), None) is not None for w in template.when
                ):
                    continue
                if template.inherit:
                    spec = self._inherited(template, spec)
                pods.append(self._pod(template, spec_at, spec, meta))
        if self.workload.batch:
            # What an MPI job's ranks are depends on all its pods: decided once they are built.
            mpi = mpi_purpose(pods)
            for pod in pods:
                pod.mpi = mpi
        return pods

    def _inherited(self, template: PodTemplate, spec: Mapping[str, Any]) -> Mapping[str, Any]:
        """The pod spec with the pod-level settings it inherits and does not set itself."""
        merged = dict(spec)
        for source in template.inherit:
            node = _mapping(next((v for _, v in jp.expand(self.obj, source)), None))
            for key in POD_LEVEL:
                if key not in merged and key in node:
                    merged[key] = node[key]
        return merged

    def _pod(
        self, template: PodTemplate, at: str, spec: Mapping[str, Any], meta: Mapping[str, Any]
    ) -> Pod:
        role = template.role or self._pod_role(spec)
        pod = Pod(at, spec, meta, role, template, self)
        containers = pod.containers
        for patterns, init in (
            (template.init_containers, True),
            (template.main_containers, False),
            (template.containers, False),
        ):
            for pattern in patterns:
                key = _list_key(pattern)
                if key is not None:
                    items = spec.get(key)
                    if isinstance(items, list):
                        # `/containers/*` over a list (nearly every pod): the pointers
                        # `jp.expand` would find, made without it.
                        base = f"{at}/{key}/"
                        for i, c_spec in enumerate(items):
                            if isinstance(c_spec, dict):
                                containers.append(Container(base + str(i), c_spec, pod, init))
                        continue
                    if not isinstance(items, dict):
                        continue  # nothing there (most pods' `initContainers`)
                for c_at, c_spec in jp.expand(spec, pattern):
                    if isinstance(c_spec, dict):
                        containers.append(Container(at + c_at, c_spec, pod, init))
        volumes = spec.get("volumes")
        if isinstance(volumes, list):
            base = f"{at}/volumes/"
            pod.volumes += [
                (base + str(i), v) for i, v in enumerate(volumes) if isinstance(v, dict)
            ]
        elif isinstance(volumes, dict):
            for v_at, volume in jp.expand(spec, "/volumes/*"):
                if isinstance(volume, dict):
                    pod.volumes.append((at + v_at, volume))
        for pattern in template.volumes:
            for v_at, volume in jp.expand(self.obj, pattern):
                if isinstance(volume, dict):
                    pod.volumes.append((v_at, volume))
        return pod

    def _pod_role(self, spec: Mapping[str, Any]) -> Role:
        assert self.workload is not None
        if self.workload.kind == "Pod" and spec.get("restartPolicy") in BATCH_RESTART:
            return Role.BATCH
        return self.workload.role

    @cached
    def mpi_purpose(self) -> tuple[Purpose, str] | None:
        """What its pods are when it is an MPI job whose ranks run no ML (`traits.mpi_purpose`),
        decided once for all its pods."""
        return mpi_purpose(self.pods)

    @cached
    def embedded(self) -> tuple[str, Subject] | None:
        """The workload it creates for each run (`WorkloadKind.embeds`), with where it lives;
        None when its kind has none, or the embedded object is not of a known kind."""
        if self.workload is None or self.workload.embeds is None or self.index is None:
            return None
        node = next((v for _, v in jp.expand(self.obj, self.workload.embeds)), None)
        if not isinstance(node, dict):
            return None
        kind = self.index.lookup(str(node.get("apiVersion", "")), str(node.get("kind", "")))
        if kind is None:
            return None
        return self.workload.embeds, Subject(node, kind, self.fragment, self.index)

    @property
    def containers(self) -> Iterator[Container]:
        for pod in self.pods:
            yield from pod.containers

    @cached
    def accelerators(self) -> dict[str, int]:
        """Accelerators its pods ask for, by resource name; for an object without whole pods of
        its own (a TrainJob's `resourcesPerNode`), those named anywhere in it."""
        found: dict[str, int] = {}
        for pod in self.pods:
            for resource, count in pod.traits.accelerators.items():
                found[resource] = found.get(resource, 0) + count
        if not self.whole_pods():
            found = accelerators_in(self.obj)
        return found

    @property
    def uses_accelerators(self) -> bool:
        return bool(self.accelerators) or any(p.traits.claims for p in self.pods)

    @property
    def device(self) -> str:
        """What to call its accelerators in a message (`Traits.device`)."""
        return device_of(self.accelerators, any(p.traits.claims for p in self.pods))

    @property
    def ml(self) -> bool:
        """Whether any of its pods is an ML workload."""
        return any(p.traits.ml for p in self.pods)

    @property
    def ml_kind(self) -> bool:
        """Whether its kind is ML by nature: every pod template's purpose is decided by the kind
        (a training operator's job, a KServe or Ray kind, a TrainJob's partial templates), or it
        holds no pod template at all."""
        return self.workload is not None and all(
            t.purpose is not None for t in self.workload.templates
        )

    def scope(
        self,
        roles: frozenset[Role],
        purposes: frozenset[Purpose] = frozenset(),
        partial: bool = True,
    ) -> Scope:
        """Its pods of the given roles and purposes (empty: any); with `partial` False, not
        the pods of partial templates (`PodTemplate.partial`)."""
        pods = self.pods_in(roles, purposes, partial)
        return Scope(self, list(pods) if pods is self.pods else pods)

    def pods_in(
        self, roles: frozenset[Role], purposes: frozenset[Purpose], partial: bool
    ) -> list[Pod]:
        """The pods of `scope`; `pods` itself when that is every pod."""
        pods = self.pods
        if len(pods) == 1:
            # Most objects: one pod, kept or not, tested without building lists.
            pod = pods[0]
            if (
                (partial or not pod.template.partial)
                and (not roles or pod.role in roles)
                and (not purposes or pod.traits.purpose in purposes)
            ):
                return pods
            return []
        if partial and not roles and not purposes:
            return pods
        # One pass; a pod's traits are read only when its template and role are kept.
        kept = [
            p
            for p in pods
            if (partial or not p.template.partial)
            and (not roles or p.role in roles)
            and (not purposes or p.traits.purpose in purposes)
        ]
        return pods if len(kept) == len(pods) else kept

    def whole_pods(self, partial: bool = False) -> list[Pod]:
        """Its pods, without those of partial templates unless `partial`."""
        return [p for p in self.pods if partial or not p.template.partial]


class Scope(Frozen):
    """What a rule's check sees: the subject, and its pods of the roles the rule applies to."""

    __slots__ = _fields = ("subject", "pods")

    subject: Subject
    pods: list[Pod]

    def __init__(self, subject: Subject, pods: list[Pod]) -> None:
        set_field(self, "subject", subject)
        set_field(self, "pods", pods)

    @property
    def obj(self) -> Mapping[str, Any]:
        return self.subject.obj

    @property
    def workload(self) -> WorkloadKind | None:
        return self.subject.workload

    @property
    def containers(self) -> Iterator[Container]:
        pods = self.pods
        if len(pods) == 1:
            return iter(pods[0].containers)  # most scopes: a workload of one pod template
        return (c for pod in pods for c in pod.containers)

    @property
    def main_containers(self) -> Iterator[Container]:
        pods = self.pods
        if len(pods) == 1:
            return iter(pods[0].main_containers)
        return (c for pod in pods for c in pod.main_containers)

    @property
    def serving_containers(self) -> Iterator[Container]:
        """The main containers that serve a model (`Traits.serving`) in model-server pods, and
        every main container of other pods (which a rule sees when configured to)."""
        pods = self.pods
        if len(pods) == 1:
            return iter(pods[0].serving_containers)
        return (c for pod in pods for c in pod.serving_containers)
