"""SNS: topics, subscriptions and deliveries: how people and programs hear of events (an alarm
changed state).

Other packages use only what is named here: :func:`register` (the composition root), the
:class:`Sns` it returns (the :class:`Deliveries` worker to run, the signing certificate to serve),
and :class:`Notifier`, publishing for other capabilities (CloudWatch alarm actions), which raises
:class:`NotifyRuleError`.
"""

from ecsbox.notify.api import Sns, notify_operations, register
from ecsbox.notify.deliveries import Deliveries
from ecsbox.notify.model import NotifyRuleError
from ecsbox.notify.publishing import Notifier

__all__ = ["Deliveries", "Notifier", "NotifyRuleError", "Sns", "notify_operations", "register"]
