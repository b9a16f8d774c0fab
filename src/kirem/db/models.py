"""Every table of the application, gathered so ``metadata`` is complete (Alembic, tests)."""

from kirem.conversations import models as conversation_models
from kirem.dashboard import models as dashboard_models
from kirem.db.base import Base
from kirem.delivery import models as delivery_models
from kirem.enterprise import models as enterprise_models
from kirem.heartbeat import WorkerHeartbeat
from kirem.inbound import models as inbound_models
from kirem.messaging import models as messaging_models
from kirem.onboarding import models as onboarding_models
from kirem.routing import models as routing_models
from kirem.sandbox import models as sandbox_models
from kirem.tenancy import models as tenancy_models
from kirem.usage import models as usage_models

metadata = Base.metadata

__all__ = [
    "WorkerHeartbeat",
    "conversation_models",
    "dashboard_models",
    "delivery_models",
    "enterprise_models",
    "inbound_models",
    "messaging_models",
    "metadata",
    "onboarding_models",
    "routing_models",
    "sandbox_models",
    "tenancy_models",
    "usage_models",
]
