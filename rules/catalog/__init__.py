"""The rule registry: an explicit tuple of rule modules, in code order. Codes are never reused."""

from types import ModuleType

from mllint.rules.catalog import (
    clean_pod_policy_none,
    cronjob_concurrency_not_forbid,
    dra_claim_shared,
    dra_claim_undeclared,
    duplicate_key,
    emptydir_for_data,
    gpu_not_in_limits,
    gpu_resource_name_invalid,
    gpu_scale_to_zero,
    gpu_toleration_missing,
    hpa_metrics_missing,
    hpa_min_replicas_low,
    hpa_target_missing,
    image_tag_latest,
    job_active_deadline_missing,
    job_backoff_limit_missing,
    job_restart_policy_not_never,
    job_ttl_missing,
    kueue_queue_name_misplaced,
    liveness_probe_missing,
    lws_group_restart_missing,
    mpi_slots_gpu_mismatch,
    nproc_gpu_mismatch,
    pdb_missing,
    pvc_claim_missing,
    ray_head_gpu,
    readiness_probe_missing,
    replicas_with_hpa,
    resources_missing,
    shm_size_missing,
    shm_size_unbounded,
    startup_probe_missing,
    suppression_invalid,
    yaml_invalid,
)
from mllint.rules.model import Rule

MODULES: tuple[ModuleType, ...] = (
    yaml_invalid,
    duplicate_key,
    suppression_invalid,
    gpu_not_in_limits,
    gpu_resource_name_invalid,
    dra_claim_undeclared,
    dra_claim_shared,
    job_restart_policy_not_never,
    job_backoff_limit_missing,
    job_active_deadline_missing,
    job_ttl_missing,
    cronjob_concurrency_not_forbid,
    startup_probe_missing,
    readiness_probe_missing,
    liveness_probe_missing,
    emptydir_for_data,
    hpa_metrics_missing,
    hpa_min_replicas_low,
    resources_missing,
    image_tag_latest,
    shm_size_missing,
    gpu_toleration_missing,
    mpi_slots_gpu_mismatch,
    ray_head_gpu,
    gpu_scale_to_zero,
    clean_pod_policy_none,
    nproc_gpu_mismatch,
    shm_size_unbounded,
    lws_group_restart_missing,
    kueue_queue_name_misplaced,
    hpa_target_missing,
    replicas_with_hpa,
    pvc_claim_missing,
    pdb_missing,
)

RULES: tuple[Rule, ...] = tuple(m.RULE for m in MODULES)

YAML_INVALID: Rule = yaml_invalid.RULE
DUPLICATE_KEY: Rule = duplicate_key.RULE
SUPPRESSION_INVALID: Rule = suppression_invalid.RULE
