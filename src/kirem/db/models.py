"""Every table of the application, gathered so ``metadata`` is complete (Alembic, tests)."""

from kirem.db.base import Base
from kirem.messaging import models as messaging_models
from kirem.sandbox import models as sandbox_models
from kirem.tenancy import models as tenancy_models

metadata = Base.metadata

__all__ = ["messaging_models", "metadata", "sandbox_models", "tenancy_models"]
