"""Human steps: a task for the contact's owner, one per delivery."""

from datetime import date, timedelta

from regua.agenda.models import Task, TaskKind

from .base import Outgoing, Result


class TaskBackend:
    def open(self) -> None:
        pass

    def send(self, message: Outgoing) -> Result:
        payload = message.payload
        kind = payload.get("kind", TaskKind.CALL)
        due = date.fromisoformat(payload["today"]) + timedelta(days=int(payload.get("due_days", 1)))
        Task.objects.get_or_create(
            delivery_id=message.delivery_id,
            defaults={
                "kind": kind if kind in TaskKind.values else TaskKind.OTHER,
                "title": message.subject[:200],
                "notes": message.text,
                "contact_id": payload["contact_id"],
                "owner_id": payload.get("owner_id"),
                "due_on": due,
                "source": "regua",
            },
        )
        return Result.sent()

    def close(self) -> None:
        pass
