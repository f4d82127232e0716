"""The kinds ML teams deploy through operators: where each keeps its pods and lifecycle fields.

Every entry follows the operator's own API types (the Go structs its CRDs are generated from),
named beside it; the rules never see a kind's paths, so declaring a kind here is what makes
every rule reach it. Decisions about rules whose meaning changes under an operator (a replica
spec's `restartPolicy` that overrides the pod's, probes an operator adds itself) are recorded
in docs/operators.md and on the rules' pages.
"""

from __future__ import annotations

from typing import Any

from mllint.rules.model import Role
from mllint.rules.traits import Member, Purpose
from mllint.rules.workload import Lifecycle, PodTemplate, WorkloadKind

_SERVER = Purpose.MODEL_SERVER

_KUBEFLOW = "kubeflow.org"

# Kubeflow Training Operator v1, pkg/apis/kubeflow.org/v1/*_types.go: `spec.<x>ReplicaSpecs` maps
# a replica type to a ReplicaSpec whose `template` is a PodTemplateSpec. The ReplicaSpec's own
# `restartPolicy` overrides the template's (common_types.go), so no pod restartPolicy is asked.
# `elasticPolicy.maxRestarts` only reaches torchrun (PET_MAX_RESTARTS, training-operator
# pkg/controller.v1/pytorch/envvar.go): once torchrun gives up, an OnFailure pod restarts with a
# fresh count, so it is no retry budget. SageMaker HyperPod's `job-max-retry-count` annotation is
# one: HyperPod stops resubmitting the job after that many failures.
_RUN_POLICY = Lifecycle(
    retries=None,
    satisfied_by=(
        ("backoff_limit", "/metadata/annotations/sagemaker.amazonaws.com~1job-max-retry-count"),
    ),
    backoff_limit="/spec/runPolicy/backoffLimit",
    active_deadline="/spec/runPolicy/activeDeadlineSeconds",
    ttl="/spec/runPolicy/ttlSecondsAfterFinished",
)


def _training_job(kind: str, replica_specs: str, *extra: PodTemplate) -> WorkloadKind:
    versions = ("v1", "v2beta1") if kind == "MPIJob" else ("v1",)
    return WorkloadKind(
        _KUBEFLOW,
        kind,
        versions,
        kind.lower() + "s",
        Role.BATCH,
        (PodTemplate(f"/spec/{replica_specs}/*/template", purpose=Purpose.BATCH), *extra),
        _RUN_POLICY,
    )


_REPLICA_SPECS = (
    "pytorchReplicaSpecs",
    "tfReplicaSpecs",
    "mpiReplicaSpecs",
    "xgbReplicaSpecs",
    "paddleReplicaSpecs",
    "jaxReplicaSpecs",
)


def _trainer_container(spec: str) -> PodTemplate:
    """A TrainJob's `trainer` under the TrainJob spec at `spec` (its own, or a Katib trial's):
    one partial container, the runtime supplying the rest (see the Trainer v2 note below)."""
    return PodTemplate(
        spec,
        inline=True,
        init_containers=(),
        main_containers=(),
        containers=("/trainer",),
        when=("/trainer",),
        partial=True,
        purpose=Purpose.BATCH,
    )


KUBEFLOW_KINDS: tuple[WorkloadKind, ...] = (
    _training_job("PyTorchJob", "pytorchReplicaSpecs"),
    _training_job("TFJob", "tfReplicaSpecs"),
    # mpi-operator v1alpha1 kept a single pod template at `spec.template`.
    _training_job(
        "MPIJob", "mpiReplicaSpecs", PodTemplate("/spec/template", purpose=Purpose.BATCH)
    ),
    _training_job("XGBoostJob", "xgbReplicaSpecs"),
    _training_job("PaddleJob", "paddleReplicaSpecs"),
    _training_job("JAXJob", "jaxReplicaSpecs"),
    # Katib (apis/controller/experiments/v1beta1): `trialTemplate.trialSpec` is a whole Job,
    # training-operator job or Workflow; its pods are reached where those kinds keep them, and
    # each trial is that kind, with that kind's retry budget (`embeds`): Katib marks a trial
    # failed by its job's own Failed condition (`trialTemplate.failureCondition`), after the
    # job's retries.
    WorkloadKind(
        _KUBEFLOW,
        "Experiment",
        ("v1beta1",),
        "experiments",
        Role.BATCH,
        (
            PodTemplate(
                "/spec/trialTemplate/trialSpec/spec/template",
                restart_policy="Never",
                purpose=Purpose.BATCH,
            ),
            *(
                PodTemplate(
                    f"/spec/trialTemplate/trialSpec/spec/{specs}/*/template",
                    purpose=Purpose.BATCH,
                )
                for specs in _REPLICA_SPECS
            ),
            _trainer_container("/spec/trialTemplate/trialSpec/spec"),
        ),
        embeds="/spec/trialTemplate/trialSpec",
    ),
)

# JobSet (api/jobset/v1alpha2/jobset_types.go): `replicatedJobs[].template` is a JobTemplateSpec.
# Its webhook defaults an empty pod restartPolicy to OnFailure, so none is asked of the template.
# A JobSet has no deadline or backoff limit of its own: each child Job has both.
_CHILD_JOBS = "/spec/replicatedJobs/*/template/spec"


def _child_jobs(base: str, purpose: Purpose | None = None) -> tuple[PodTemplate, ...]:
    return (PodTemplate(base + _CHILD_JOBS + "/template", purpose=purpose),)


def _child_job_lifecycle(base: str, ttl: str | None = None) -> Lifecycle:
    return Lifecycle(
        backoff_limit=base + _CHILD_JOBS + "/backoffLimit",
        active_deadline=base + _CHILD_JOBS + "/activeDeadlineSeconds",
        ttl=ttl,
    )


_TRAINER = "trainer.kubeflow.org"
_RUNTIME = "/spec/template"

# Kubeflow Trainer v2 (pkg/apis/trainer/v1alpha1/trainjob_types.go): a TrainJob holds no pod
# spec of its own. Its `trainer` (image, command, args, env, numNodes, resourcesPerNode,
# numProcPerNode) overrides the runtime's `node` container, and each `runtimePatches[]` entry
# patches the runtime's JobSet pod templates (volumes, containers' env, volumeMounts and
# securityContext, scheduling). `runtimePatches` replaced `podTemplateOverrides` (the API of the
# v2.1 releases), whose entries are each a pod template (`metadata`, and a `spec` of the same
# kind of fields) applied to the replicated jobs named in `targetJobs`; it was once
# `podSpecOverrides`, with no `spec` level, which is not read. All are partial: rules about
# written values judge them, rules about missing fields do not, since the runtime supplies
# what they leave out.
_RUNTIME_PATCH = (
    "/spec/runtimePatches/*/trainingRuntimeSpec/template/spec/replicatedJobs/*/template/spec"
    "/template"
)
_POD_TEMPLATE_OVERRIDE = "/spec/podTemplateOverrides/*"

TRAINER_KINDS: tuple[WorkloadKind, ...] = (
    WorkloadKind(
        _TRAINER,
        "TrainJob",
        ("v1alpha1",),
        "trainjobs",
        Role.BATCH,
        (
            _trainer_container("/spec"),
            PodTemplate(_RUNTIME_PATCH, partial=True, purpose=Purpose.BATCH),
            PodTemplate(_POD_TEMPLATE_OVERRIDE, partial=True, purpose=Purpose.BATCH),
        ),
        Lifecycle(active_deadline="/spec/activeDeadlineSeconds"),
    ),
    WorkloadKind(
        _TRAINER,
        "TrainingRuntime",
        ("v1alpha1",),
        "trainingruntimes",
        Role.BATCH,
        _child_jobs(_RUNTIME, Purpose.BATCH),
        _child_job_lifecycle(_RUNTIME),
    ),
    WorkloadKind(
        _TRAINER,
        "ClusterTrainingRuntime",
        ("v1alpha1",),
        "clustertrainingruntimes",
        Role.BATCH,
        _child_jobs(_RUNTIME, Purpose.BATCH),
        _child_job_lifecycle(_RUNTIME),
    ),
)

# KServe (pkg/apis/serving/v1beta1): predictor, transformer and explainer each inline a PodSpec
# beside a framework spec (`sklearn`, `model`, ...) that embeds a corev1.Container.
_PREDICTOR_FRAMEWORKS = (
    "/model",
    "/sklearn",
    "/xgboost",
    "/tensorflow",
    "/pytorch",
    "/triton",
    "/onnx",
    "/huggingface",
    "/pmml",
    "/lightgbm",
    "/paddle",
)
_EXPLAINERS = ("/art", "/alibi", "/aix")
# In ModelMesh mode (the annotation below) KServe reconciles no predictor: ModelMesh serves it
# from its shared runtime pods; a transformer or explainer is still KServe's
# (kserve pkg/controller/v1beta1/inferenceservice/controller.go).
_MODE = "/metadata/annotations/serving.kserve.io~1deploymentMode"
_MODELMESH = ((_MODE, "ModelMesh"),)
# In the default Serverless mode each component is a Knative Service: Knative gives the serving
# container a default TCP readiness probe on its port, and queue-proxy holds requests until it
# passes (Knative docs, "Configuring probing"). The raw modes (RawDeployment, Standard) make a
# plain Deployment, to whose kserve-container KServe adds a TCP readiness probe on its first port
# when it has none (setDefaultPodSpec, pkg/controller/v1beta1/inferenceservice/reconcilers/
# deployment/deployment_reconciler.go): a readiness check in every mode.
# KServe's defaulting webhook fills missing CPU and memory requests and limits of every
# component's container from its configuration (setResourceRequirementDefaults,
# pkg/apis/serving/v1beta1/inference_service_defaults.go).
_KSERVE_PROVIDES = frozenset({"readinessProbe", "resources"})
_ISVC_TEMPLATES = (
    PodTemplate(
        "/spec/predictor",
        inline=True,
        containers=_PREDICTOR_FRAMEWORKS,
        purpose=_SERVER,
        unless=_MODELMESH,
        provides=_KSERVE_PROVIDES,
        operator="KServe",
    ),
    PodTemplate(
        "/spec/predictor/workerSpec",
        inline=True,
        purpose=_SERVER,
        member=Member.WORKER,
        unless=_MODELMESH,
    ),
    # A transformer pre- and post-processes requests for the predictor and loads no model.
    PodTemplate(
        "/spec/transformer",
        inline=True,
        purpose=Purpose.ML,
        provides=_KSERVE_PROVIDES,
        operator="KServe",
    ),
    PodTemplate(
        "/spec/explainer",
        inline=True,
        containers=_EXPLAINERS,
        purpose=_SERVER,
        provides=_KSERVE_PROVIDES,
        operator="KServe",
    ),
    # v1alpha2 (KFServing): `default` and `canary` endpoints; a custom component's container
    # sits at `custom.container`.
    PodTemplate(
        "/spec/*/predictor",
        inline=True,
        main_containers=(),
        containers=(*_PREDICTOR_FRAMEWORKS, "/tensorrt", "/custom/container"),
        purpose=_SERVER,
        # KFServing v1alpha2 components are Knative Services with the same defaults.
        provides=_KSERVE_PROVIDES,
        operator="KServe",
    ),
    PodTemplate(
        "/spec/*/transformer",
        inline=True,
        main_containers=(),
        containers=("/custom/container",),
        purpose=Purpose.ML,
        # KFServing v1alpha2 components are Knative Services with the same defaults.
        provides=_KSERVE_PROVIDES,
        operator="KServe",
    ),
    PodTemplate(
        "/spec/*/explainer",
        inline=True,
        main_containers=(),
        containers=(*_EXPLAINERS, "/custom/container"),
        purpose=_SERVER,
        # KFServing v1alpha2 components are Knative Services with the same defaults.
        provides=_KSERVE_PROVIDES,
        operator="KServe",
    ),
)
_SERVING_RUNTIME_TEMPLATES = (
    PodTemplate("/spec", inline=True, purpose=_SERVER),
    PodTemplate("/spec/workerSpec", inline=True, purpose=_SERVER, member=Member.WORKER),
)
# An LLMInferenceService's templates are merged over KServe's well-known configs
# (config/llmisvcconfig/config-llm-template.yaml, ...-prefill-worker-data-parallel.yaml,
# ...-decode-worker-data-parallel.yaml), which give the `main` vLLM container startup, liveness
# and readiness probes on /health.
_LLM_PROBES = frozenset({"startupProbe", "livenessProbe", "readinessProbe"})
_LLM_CONFIG = "KServe's LLMInferenceServiceConfig"
_LLM_TEMPLATES = (
    PodTemplate(
        "/spec/template", inline=True, purpose=_SERVER, provides=_LLM_PROBES, operator=_LLM_CONFIG
    ),
    PodTemplate(
        "/spec/worker",
        inline=True,
        purpose=_SERVER,
        member=Member.WORKER,
        provides=_LLM_PROBES,
        operator=_LLM_CONFIG,
    ),
    PodTemplate(
        "/spec/prefill/template",
        inline=True,
        purpose=_SERVER,
        provides=_LLM_PROBES,
        operator=_LLM_CONFIG,
    ),
    PodTemplate(
        "/spec/prefill/worker",
        inline=True,
        purpose=_SERVER,
        member=Member.WORKER,
        provides=_LLM_PROBES,
        operator=_LLM_CONFIG,
    ),
    # The scheduler (endpoint picker) routes requests to the model pods and loads no model.
    PodTemplate("/spec/router/scheduler/template", inline=True, purpose=Purpose.ML),
)
_KSERVE = "serving.kserve.io"

SERVING_KINDS: tuple[WorkloadKind, ...] = (
    WorkloadKind(
        _KSERVE,
        "InferenceService",
        ("v1beta1",),
        "inferenceservices",
        Role.SERVING,
        _ISVC_TEMPLATES,
    ),
    WorkloadKind(
        "serving.kubeflow.org",
        "InferenceService",
        ("v1beta1",),
        "inferenceservices",
        Role.SERVING,
        _ISVC_TEMPLATES,
    ),
    WorkloadKind(
        _KSERVE,
        "ServingRuntime",
        ("v1alpha1",),
        "servingruntimes",
        Role.SERVING,
        _SERVING_RUNTIME_TEMPLATES,
    ),
    WorkloadKind(
        _KSERVE,
        "ClusterServingRuntime",
        ("v1alpha1",),
        "clusterservingruntimes",
        Role.SERVING,
        _SERVING_RUNTIME_TEMPLATES,
    ),
    WorkloadKind(
        _KSERVE,
        "LLMInferenceService",
        ("v1alpha1", "v1alpha2"),
        "llminferenceservices",
        Role.SERVING,
        _LLM_TEMPLATES,
    ),
    # Seldon Core v1 (operator/apis/machinelearning.seldon.io/v1): each predictor's
    # `componentSpecs[]` is a pod template; the operator adds TCP liveness and readiness probes
    # to graph containers that have none (controllers/seldondeployment_engine.go). The Python
    # wrapper binds that port before the model's load() runs in its workers (python/seldon_core
    # app.py), so the injected liveness probe cannot kill a loading model: no startup probe is
    # needed either.
    WorkloadKind(
        "machinelearning.seldon.io",
        "SeldonDeployment",
        ("v1", "v1alpha2", "v1alpha3"),
        "seldondeployments",
        Role.SERVING,
        (
            PodTemplate(
                "/spec/predictors/*/componentSpecs/*",
                provides=frozenset({"livenessProbe", "readinessProbe", "startupProbe"}),
                operator="the Seldon Core operator",
                purpose=_SERVER,
            ),
            PodTemplate(
                "/spec/predictors/*/explainer",
                inline=True,
                main_containers=("/containerSpec",),
                when=("/containerSpec",),
                purpose=_SERVER,
            ),
        ),
    ),
)

# KubeRay (ray-operator/apis/ray/v1): a RayCluster spec is a head group and worker groups, each
# with a PodTemplateSpec. KubeRay adds liveness and readiness probes to Ray containers that have
# none (kuberay#1674; timings in ray-operator/controllers/ray/utils/constant.go): an exec check
# of the raylet's and GCS's health, so 30 s + 120 x 5 s before liveness can fail. It also mounts a
# memory-backed /dev/shm in the Ray container when it mounts none (controllers/ray/common/pod.go,
# `addEmptyDir` with `SharedMemoryVolumeMountPath`). RayJob's TTL
# only acts with `shutdownAfterJobFinishes: true` (rayjob_types.go), and so does its deadline:
# past `activeDeadlineSeconds` KubeRay marks the RayJob failed and deletes its cluster only under
# that switch (rayjob_controller.go); its `backoffLimit` defaults to 0, so no retry budget is
# asked.
_RAY_HEALTH = {
    "exec": {
        "command": [
            "bash",
            "-c",
            "wget -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz | grep success",
        ]
    }
}
_RAY_PROBES: dict[str, dict[str, Any]] = {
    "livenessProbe": {
        **_RAY_HEALTH,
        "initialDelaySeconds": 30,
        "periodSeconds": 5,
        "timeoutSeconds": 1,
        "failureThreshold": 120,
    },
    "readinessProbe": {
        **_RAY_HEALTH,
        "initialDelaySeconds": 10,
        "periodSeconds": 5,
        "timeoutSeconds": 1,
        "failureThreshold": 10,
    },
}


def _ray_cluster(base: str, role: Role, purpose: Purpose) -> tuple[PodTemplate, ...]:
    return (
        PodTemplate(
            base + "/headGroupSpec/template",
            role=role,
            purpose=purpose,
            member=Member.HEAD,
            injects=_RAY_PROBES,
            mounts_shm=True,
            operator="KubeRay",
        ),
        PodTemplate(
            base + "/workerGroupSpecs/*/template",
            role=role,
            purpose=purpose,
            member=Member.WORKER,
            injects=_RAY_PROBES,
            mounts_shm=True,
            operator="KubeRay",
        ),
    )


def _ray_job(base: str) -> tuple[tuple[PodTemplate, ...], Lifecycle]:
    """The pods and lifecycle of a RayJob spec at `base`."""
    return (
        (
            *_ray_cluster(base + "/rayClusterSpec", Role.BATCH, Purpose.BATCH),
            # The submitter runs as a Kubernetes Job.
            PodTemplate(
                base + "/submitterPodTemplate",
                restart_policy="Never",
                purpose=Purpose.BATCH,
                member=Member.SUBMITTER,
            ),
        ),
        Lifecycle(
            active_deadline=base + "/activeDeadlineSeconds",
            ttl=base + "/ttlSecondsAfterFinished",
            satisfied_by=(("ttl", base + "/deletionStrategy"),),
            enabled_by=(("ttl", base + "/shutdownAfterJobFinishes", True),),
            releases=(base + "/shutdownAfterJobFinishes", True),
        ),
    )


RAY_KINDS: tuple[WorkloadKind, ...] = (
    WorkloadKind("ray.io", "RayJob", ("v1",), "rayjobs", Role.BATCH, *_ray_job("/spec")),
    # RayCronJob (ray-operator/apis/ray/v1/raycronjob_types.go): `schedule` and a whole RayJob
    # spec in `jobTemplate`, with no concurrency policy or history limit of its own.
    WorkloadKind(
        "ray.io",
        "RayCronJob",
        ("v1",),
        "raycronjobs",
        Role.BATCH,
        *_ray_job("/spec/jobTemplate"),
    ),
    WorkloadKind(
        "ray.io",
        "RayCluster",
        ("v1",),
        "rayclusters",
        Role.SERVING,
        _ray_cluster("/spec", Role.SERVING, Purpose.ML),
    ),
    WorkloadKind(
        "ray.io",
        "RayService",
        ("v1",),
        "rayservices",
        Role.SERVING,
        _ray_cluster("/spec/rayClusterConfig", Role.SERVING, _SERVER),
    ),
)

# Argo Workflows (pkg/apis/workflow/v1alpha1/workflow_types.go): each template that runs a
# `container`, `script` or `containerSet` is a pod, with `initContainers` and `sidecars`; the
# workflow's `volumes` and its pod-level settings (`nodeSelector`, `tolerations`, ...) reach
# every pod, and so does `templateDefaults`. Argo sets the pods' restartPolicy itself.
_ARGO_CONTAINERS = ("/container", "/script", "/containerSet/containers/*")
_ARGO = "argoproj.io"
_CRON = "/spec/workflowSpec"


def _argo_pods(spec: str) -> tuple[PodTemplate, ...]:
    return (
        PodTemplate(
            spec + "/templates/*",
            inline=True,
            main_containers=_ARGO_CONTAINERS,
            containers=("/sidecars/*",),
            volumes=(spec + "/volumes/*",),
            when=("/container", "/script", "/containerSet"),
            inherit=(spec + "/templateDefaults", spec),
        ),
    )


# A Workflow compiled by the Kubeflow Pipelines v1 SDK carries its version as an annotation and a
# label (kfp compiler.py, `_SDK_VERSION_LABEL`); it is meant to be run through KFP, whose API
# server deletes the Workflow once its persistence agent has reported the run's final state,
# again after TTL_SECONDS_AFTER_WORKFLOW_FINISH (kubeflow/pipelines backend: agent/persistence/
# worker/workflow_saver.go, apiserver/resource/resource_manager.go ReportWorkflowResource).
_KFP_COMPILED = (
    ("ttl", "/metadata/annotations/pipelines.kubeflow.org~1kfp_sdk_version"),
    ("ttl", "/metadata/labels/pipelines.kubeflow.org~1kfp_sdk_version"),
)
_RETRY_LIMIT = "/spec/templates/*/retryStrategy/limit"
# A WorkflowTemplate is run by Workflows that set their own deadline and cleanup: only its
# templates' retry limits are its own.
_TEMPLATE_LIFECYCLE = Lifecycle(backoff_limit=_RETRY_LIMIT, retries=None)

ARGO_KINDS: tuple[WorkloadKind, ...] = (
    WorkloadKind(
        _ARGO,
        "Workflow",
        ("v1alpha1",),
        "workflows",
        Role.BATCH,
        _argo_pods("/spec"),
        Lifecycle(
            backoff_limit=_RETRY_LIMIT,
            retries=None,
            active_deadline="/spec/activeDeadlineSeconds",
            ttl="/spec/ttlStrategy/secondsAfterCompletion",
            satisfied_by=(("ttl", "/spec/ttlStrategy"), ("ttl", "/spec/podGC"), *_KFP_COMPILED),
        ),
    ),
    WorkloadKind(
        _ARGO,
        "CronWorkflow",
        ("v1alpha1",),
        "cronworkflows",
        Role.BATCH,
        _argo_pods(_CRON),
        # Old workflows are deleted by the CronWorkflow's history limits, as a CronJob's Jobs are.
        Lifecycle(
            backoff_limit=_CRON + "/templates/*/retryStrategy/limit",
            retries=None,
            active_deadline=_CRON + "/activeDeadlineSeconds",
            concurrency="/spec/concurrencyPolicy",
        ),
    ),
    WorkloadKind(
        _ARGO,
        "WorkflowTemplate",
        ("v1alpha1",),
        "workflowtemplates",
        Role.BATCH,
        _argo_pods("/spec"),
        _TEMPLATE_LIFECYCLE,
    ),
    WorkloadKind(
        _ARGO,
        "ClusterWorkflowTemplate",
        ("v1alpha1",),
        "clusterworkflowtemplates",
        Role.BATCH,
        _argo_pods("/spec"),
        _TEMPLATE_LIFECYCLE,
    ),
)

# Volcano (volcano.sh/apis pkg/apis/batch/v1alpha1/job.go): `tasks[].template` is a
# PodTemplateSpec; `maxRetry` (default 3) is the job's retry budget; there is no deadline. A
# flow.volcano.sh JobTemplate holds the same JobSpec; a Volcano CronJob holds one under
# `jobTemplate.spec`.
_VOLCANO_TASKS = (PodTemplate("/spec/tasks/*/template"),)

SCHEDULER_KINDS: tuple[WorkloadKind, ...] = (
    WorkloadKind(
        "jobset.x-k8s.io",
        "JobSet",
        ("v1alpha2",),
        "jobsets",
        Role.BATCH,
        _child_jobs(""),
        _child_job_lifecycle("", ttl="/spec/ttlSecondsAfterFinished"),
    ),
    # LeaderWorkerSet (api/leaderworkerset/v1): one leader and `size - 1` workers per replica.
    WorkloadKind(
        "leaderworkerset.x-k8s.io",
        "LeaderWorkerSet",
        ("v1",),
        "leaderworkersets",
        Role.SERVING,
        (
            PodTemplate("/spec/leaderWorkerTemplate/leaderTemplate", member=Member.LEADER),
            PodTemplate("/spec/leaderWorkerTemplate/workerTemplate", member=Member.WORKER),
        ),
        replicas="/spec/replicas",
    ),
    WorkloadKind(
        "batch.volcano.sh",
        "Job",
        ("v1alpha1",),
        "jobs",
        Role.BATCH,
        _VOLCANO_TASKS,
        Lifecycle(backoff_limit="/spec/maxRetry", retries=3, ttl="/spec/ttlSecondsAfterFinished"),
    ),
    WorkloadKind(
        "batch.volcano.sh",
        "CronJob",
        ("v1alpha1",),
        "cronjobs",
        Role.BATCH,
        (PodTemplate("/spec/jobTemplate/spec/tasks/*/template"),),
        Lifecycle(
            backoff_limit="/spec/jobTemplate/spec/maxRetry",
            retries=3,
            concurrency="/spec/concurrencyPolicy",
        ),
    ),
    WorkloadKind(
        "flow.volcano.sh",
        "JobTemplate",
        ("v1alpha1",),
        "jobtemplates",
        Role.BATCH,
        _VOLCANO_TASKS,
        Lifecycle(backoff_limit="/spec/maxRetry", retries=3),
    ),
)

OPERATOR_KINDS: tuple[WorkloadKind, ...] = (
    *KUBEFLOW_KINDS,
    *TRAINER_KINDS,
    *SERVING_KINDS,
    *RAY_KINDS,
    *ARGO_KINDS,
    *SCHEDULER_KINDS,
)
