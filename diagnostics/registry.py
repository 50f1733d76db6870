"""The model registry: registering trained models, promoting them, and choosing one per diagnostic.

Exactly one version is in production at a time (a partial unique index backs this up); a promotion
archives the previous one in the same transaction. A canary, when there is one, serves a fixed
fraction of diagnostics chosen by id, so the same diagnostic always meets the same model. A
shadow, when there is one, analyses its share of them as well, and its answers are kept apart.
"""

import hashlib
import logging
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from diagnostics import recommender_hooks
from diagnostics.models import ModelStatus, ModelVersion
from portal.core.audit import AuditContext, record_event
from portal.core.errors import Conflict

logger = logging.getLogger(__name__)


class RegistryError(Exception):
    pass


class PromotionRefused(Conflict):
    """The promotion gate refuses this candidate, and no administrator gave a reason to override."""

    code = "promotion_refused"

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons


def register_model_version(
    *, artifact_path: Path, status: str = ModelStatus.CANDIDATE
) -> ModelVersion:
    """Store a model artifact and register it with the metadata it carries."""
    from diagnostics.ml.model import load_artifact, sha256_of  # TensorFlow: only when registering

    sha256 = sha256_of(artifact_path)
    loaded = load_artifact(artifact_path, expected_sha256=sha256)  # refuses a corrupt artifact
    meta = loaded.metadata
    if ModelVersion.objects.filter(name=meta.name, version=meta.version).exists():
        raise RegistryError(f"{meta.name} {meta.version} is already registered.")
    key = f"models/{meta.name}/{meta.version}-{sha256[:12]}.zip"
    with open(artifact_path, "rb") as handle:
        stored_key = default_storage.save(key, File(handle, name=key))
    with transaction.atomic():
        version = ModelVersion.objects.create(
            name=meta.name,
            version=meta.version,
            artifact=stored_key,
            sha256=sha256,
            labels=list(meta.labels),
            sample_rate=meta.sample_rate,
            clip_seconds=meta.clip_seconds,
            metrics=meta.metrics,
            trained_on=meta.trained_on,
            features=meta.features.to_dict(),
        )
        if status == ModelStatus.PRODUCTION:
            promote(version=version)
    return version


@transaction.atomic
def promote(*, version: ModelVersion) -> ModelVersion:
    """Make ``version`` the production model; the previous one is archived.

    Unchecked: people promote through ``promote_through_gate`` (the admin, ``train_model
    --from-reviews --promote``); this is the state change it makes, also used to install a first
    model (``register_model_version(status=PRODUCTION)``).
    """
    ModelVersion.objects.select_for_update().filter(status=ModelStatus.PRODUCTION).exclude(
        pk=version.pk
    ).update(status=ModelStatus.ARCHIVED)
    version.status = ModelStatus.PRODUCTION
    version.canary_fraction = 0.0
    version.promoted_at = timezone.now()
    version.save(update_fields=["status", "canary_fraction", "promoted_at"])
    logger.info("model promoted", extra={"model_version": str(version)})
    transaction.on_commit(recommender_hooks.model_promoted)
    return version


def gate_decision(version: ModelVersion) -> tuple[bool, list[str]]:
    """(passes, reasons): what the promotion gate says of ``version`` against today's production.

    It passes when there is no other production model; otherwise ``version.comparison`` must be
    against the current production version (a comparison with an earlier one is stale) and passed.
    """
    production = production_version()
    if production is None or production.pk == version.pk:
        return True, []
    compared = (version.comparison.get("production") or {}).get("id")
    if compared != production.pk:
        return False, [f"not compared with the current production model {production}"]
    decision = version.comparison.get("decision") or {}
    return bool(decision.get("passed")), list(decision.get("reasons") or [])


def promote_through_gate(
    *, version: ModelVersion, actor, override_reason: str = "", audit: AuditContext | None = None
) -> ModelVersion:
    """Promote ``version`` if the gate allows it; an administrator's written reason overrides a
    refusal. Audited either way: ``model.promoted`` with the gate's verdict, and the reason."""
    reason = (override_reason or "").strip()
    with transaction.atomic():
        passed, reasons = gate_decision(version)
        if not passed and not reason:
            raise PromotionRefused(
                "The promotion gate refuses this model: " + "; ".join(reasons), reasons
            )
        promote(version=version)
        record_event(
            action="model.promoted", actor=actor, obj=version, context=audit,
            detail={"gate_passed": passed, "gate_reasons": reasons,
                    "override_reason": reason if not passed else ""},
        )  # fmt: skip
    return version


@transaction.atomic
def start_canary(*, version: ModelVersion, fraction: float) -> ModelVersion:
    """Serve ``fraction`` of new diagnostics with ``version``; it is compared with production
    from now on (``diagnostics.canary``) and rolled back by itself past the thresholds."""
    return _start_trial(version=version, fraction=fraction, status=ModelStatus.CANARY)


@transaction.atomic
def start_shadow(*, version: ModelVersion, fraction: float = 1.0) -> ModelVersion:
    """Run ``version`` on ``fraction`` of new diagnostics beside the model that serves them; its
    answers are stored apart (``ShadowResult``) and never shown, only compared."""
    return _start_trial(version=version, fraction=fraction, status=ModelStatus.SHADOW)


def _start_trial(*, version: ModelVersion, fraction: float, status: str) -> ModelVersion:
    if not 0 < fraction <= 1:
        raise RegistryError("A canary fraction is between 0 and 1.")
    ModelVersion.objects.filter(status=status).exclude(pk=version.pk).update(
        status=ModelStatus.CANDIDATE, canary_fraction=0
    )
    version.status = status
    version.canary_fraction = fraction
    version.canary_started_at = timezone.now()
    version.save(update_fields=["status", "canary_fraction", "canary_started_at"])
    return version


def production_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).first()


def canary_bucket(diagnostic_id: int) -> float:
    """A stable number in [0, 1) for a diagnostic id (not Python's salted ``hash``)."""
    digest = hashlib.sha256(f"canary:{diagnostic_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def canary_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelStatus.CANARY).first()


def serving_versions() -> tuple[ModelVersion | None, ModelVersion | None]:
    """(production, canary), None where there is none, in one query."""
    serving = serving_and_shadow()
    return serving[0], serving[1]


def serving_and_shadow() -> tuple[ModelVersion | None, ModelVersion | None, ModelVersion | None]:
    """(production, canary, shadow), None where there is none, in one query: asked before every
    batch."""
    found: dict[str, ModelVersion] = {}
    for version in ModelVersion.objects.filter(
        status__in=(ModelStatus.PRODUCTION, ModelStatus.CANARY, ModelStatus.SHADOW)
    ):  # newest first, as production_version() and canary_version() choose
        found.setdefault(version.status, version)
    return (
        found.get(ModelStatus.PRODUCTION),
        found.get(ModelStatus.CANARY),
        found.get(ModelStatus.SHADOW),
    )


def shadows(diagnostic_id: int, shadow: ModelVersion | None) -> bool:
    """Whether the shadow model also analyses this diagnostic (its share, chosen by id)."""
    return shadow is not None and canary_bucket(diagnostic_id) < shadow.canary_fraction


_LOOK_UP = object()  # "not given": None is an answer (there is no such version)


def version_for(diagnostic_id: int, *, production=_LOOK_UP, canary=_LOOK_UP) -> ModelVersion | None:
    """The model that should analyse this diagnostic: the canary for its share, else production.

    A batch passes the ``production`` and ``canary`` it read once (None when there is none);
    otherwise they are read from the registry.
    """
    if production is _LOOK_UP:
        production = production_version()
    if canary is _LOOK_UP:
        canary = canary_version()
    if canary is not None and canary_bucket(diagnostic_id) < canary.canary_fraction:
        return canary
    return production
