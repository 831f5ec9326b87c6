"""Imports every table so that SQLModel.metadata is complete (Alembic, tests)."""


def import_all_models() -> None:
    from registry.assets import models as _assets  # noqa: F401
    from registry.auditlog import models as _log  # noqa: F401
    from registry.auth import models as _auth  # noqa: F401
    from registry.checkjobs import models as _checkjobs  # noqa: F401
    from registry.checks import models as _checks  # noqa: F401
    from registry.claims import models as _claims  # noqa: F401
    from registry.fingerprints import models as _fingerprints  # noqa: F401
    from registry.holders import models as _holders  # noqa: F401
    from registry.licences import models as _licences  # noqa: F401
    from registry.lineage import models as _lineage  # noqa: F401
    from registry.manifests import models as _manifests  # noqa: F401
    from registry.optouts import models as _optouts  # noqa: F401
    from registry.portal import models as _portal  # noqa: F401
    from registry.signals import models as _signals  # noqa: F401
    from registry.signingkeys import models as _signingkeys  # noqa: F401
    from registry.sources import models as _sources  # noqa: F401
    from registry.trainingsummary import models as _trainingsummary  # noqa: F401
