"""Cadence as code: a régua to and from YAML (docs/cadences.md §The YAML format).

Import validates the whole document first and reports every problem with its path
(`steps[2].message.pt-br.body, line 3: ...`); nothing is written unless all is well.
Export then import is exact: the same document comes back.
"""

from datetime import time
from typing import Any

import yaml
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.agenda.models import TaskKind

from . import conditions, rendering, triggers
from .models import (
    Cadence,
    CadenceStatus,
    Channel,
    ForDedicated,
    Objective,
    Reentry,
    Step,
)
from .offsets import Offset

CADENCE_KEYS = [
    "key",
    "name",
    "description",
    "objective",
    "status",
    "priority",
    "marketing",
    "holdout_percent",
    "reentry",
    "conversion_days",
    "trigger",
    "audience",
    "exit",
    "goal",
    "steps",
]
STEP_KEYS = [
    "key",
    "name",
    "offset",
    "window",
    "channel",
    "for_dedicated",
    "condition",
    "message",
    "task",
    "webhook",
]
TASK_KINDS = set(TaskKind.values)  # what the task channel can create


class CadenceError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# Export --------------------------------------------------------------------------------


def cadence_to_dict(cadence: Cadence) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": cadence.key,
        "name": cadence.name,
        "description": cadence.description,
        "objective": cadence.objective,
        "status": cadence.status,
        "priority": cadence.priority,
        "marketing": cadence.marketing,
        "holdout_percent": cadence.holdout_percent,
        "reentry": cadence.reentry,
        "conversion_days": cadence.conversion_days,
        "trigger": cadence.trigger,
        "audience": cadence.audience,
        "exit": cadence.exit_goal,
        "goal": cadence.goal,
        "steps": [step_to_dict(s) for s in cadence.steps.filter(archived_at__isnull=True)],
    }
    return {k: v for k, v in data.items() if v not in ({}, [], "") or k in {"steps"}}


def step_to_dict(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": step.key,
        "name": step.name,
        "offset": step.offset,
        "channel": step.channel,
    }
    if step.window:
        data["window"] = {
            "start": step.window[0].strftime("%H:%M"),
            "end": step.window[1].strftime("%H:%M"),
        }
    if step.for_dedicated != ForDedicated.TASK:  # the default is left out
        data["for_dedicated"] = step.for_dedicated
    for name in ("condition", "message", "task", "webhook"):
        value = getattr(step, name)
        if value:
            data[name] = value
    return {k: data[k] for k in STEP_KEYS if k in data and data[k] != ""}


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def cadence_export(cadence: Cadence) -> str:
    return yaml.dump(
        cadence_to_dict(cadence),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )


# Import --------------------------------------------------------------------------------


def cadence_load(text: str) -> dict[str, Any]:
    """Parse and validate a document; raises CadenceError with every problem found."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", error)
        if mark:
            message = _("line %(line)d: not valid YAML (%(problem)s)") % {
                "line": mark.line + 1,
                "problem": problem,
            }
        else:
            message = _("not valid YAML (%(problem)s)") % {"problem": problem}
        raise CadenceError([message]) from None
    except (ValueError, RecursionError) as error:
        # What the parser lets through from Python: an integer of more than 4,300 digits,
        # lists nested thousands deep (found by fuzzing the importer's neighbours).
        problem = type(error).__name__ if isinstance(error, RecursionError) else error
        raise CadenceError([_("not valid YAML (%(problem)s)") % {"problem": problem}]) from None
    problems = validate(data)
    if problems:
        raise CadenceError(problems)
    return data


def validate(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return [_("the document must be a mapping (key: value lines)")]
    problems = [_("unknown field %(field)r") % {"field": k} for k in data if k not in CADENCE_KEYS]
    key = data.get("key")
    if not isinstance(key, str) or not key or not key.replace("_", "").replace("-", "").isalnum():
        problems.append(_("key: required; letters, digits, _ and - only"))
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        problems.append(_("name: required"))
    choices = {
        "objective": Objective.values,
        "status": CadenceStatus.values,
        "reentry": Reentry.values,
    }
    defaults = {"status": "draft", "reentry": "never"}
    for name, allowed in choices.items():
        value = data.get(name, defaults.get(name))
        if value not in allowed:
            problems.append(_not_one_of(name, value, allowed))
    for name, low, high in (
        ("priority", 0, 100),
        ("holdout_percent", 0, 50),
        ("conversion_days", 1, 365),
    ):
        value = data.get(name)
        if value is not None and (not isinstance(value, int) or not low <= value <= high):
            problems.append(
                _("%(field)s: a whole number from %(low)d to %(high)d")
                % {"field": name, "low": low, "high": high}
            )
    if "marketing" in data and not isinstance(data["marketing"], bool):
        problems.append(_("marketing: true or false"))
    problems += [f"trigger: {p}" for p in triggers.check_trigger(data.get("trigger"))]
    problems += [f"audience: {p}" for p in conditions.check(data.get("audience", []))]
    for name in ("exit", "goal"):
        spec = data.get(name) or {}
        if not isinstance(spec, dict) or (spec and not isinstance(spec.get("event"), str)):
            problems.append(_("%(field)s: needs an event name") % {"field": name})
        elif set(spec) - {"event", "where"}:
            problems.append(_("%(field)s: only event and where") % {"field": name})
    steps = data.get("steps", [])
    if not isinstance(steps, list):
        return [*problems, _("steps: must be a list")]
    seen: set[str] = set()
    for index, step in enumerate(steps):
        path = f"steps[{index}]"
        if not isinstance(step, dict):
            problems.append(f"{path}: {_('must be a mapping')}")
            continue
        problems += [f"{path}.{p}" if not p.startswith(path) else p for p in check_step(step)]
        if isinstance(step, dict):
            if step.get("key") in seen:
                problems.append(
                    _("%(path)s.key: %(key)r is used twice")
                    % {"path": path, "key": step.get("key")}
                )
            seen.add(step.get("key"))
    return problems


def check_step(step: Any) -> list[str]:
    """The problems in one step definition, each starting with the field's name."""
    if not isinstance(step, dict):
        return [_("must be a mapping")]
    problems = [_("%(field)s: unknown field") % {"field": k} for k in step if k not in STEP_KEYS]
    key = step.get("key")
    if not isinstance(key, str) or not key or not key.replace("_", "").replace("-", "").isalnum():
        problems.append(_("key: required; letters, digits, _ and - only"))
    try:
        Offset.parse(step.get("offset", 0))
    except ValueError as error:
        problems.append(f"offset: {error}")
    channel = step.get("channel")
    if channel not in Channel.values:
        problems.append(_not_one_of("channel", channel, Channel.values))
    if step.get("for_dedicated", ForDedicated.TASK) not in ForDedicated.values:
        problems.append(
            _not_one_of("for_dedicated", step.get("for_dedicated"), ForDedicated.values)
        )
    window = step.get("window")
    if window is not None:
        try:
            _window(window)
        except (ValueError, TypeError, KeyError):
            problems.append(_('window: write {start: "09:00", end: "18:00"}'))
    problems += [f"condition: {p}" for p in conditions.check(step.get("condition", []))]
    if (channel in Channel.values and channel != "webhook") or step.get("message"):
        problems += [
            f"message.{p}"
            for p in map(str, rendering.check_message(str(channel), step.get("message")))
        ]
    if channel == "task":
        task = step.get("task") or {}
        if not isinstance(task, dict) or task.get("kind", "call") not in TASK_KINDS:
            problems.append(
                _("task.kind: one of %(kinds)s") % {"kinds": ", ".join(sorted(TASK_KINDS))}
            )
        elif not isinstance(task.get("due_days", 1), int) or not 0 <= task.get("due_days", 1) <= 60:
            problems.append(_("task.due_days: a whole number of days from 0 to 60"))
    if channel == "webhook":
        url = (step.get("webhook") or {}).get("url", "")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            problems.append(_("webhook.url: an http(s) address"))
    return problems


def _not_one_of(field: str, value: Any, allowed: list[str]) -> str:
    return _("%(field)s: %(value)r is not one of %(choices)s") % {
        "field": field,
        "value": value,
        "choices": ", ".join(allowed),
    }


def _window(window: Any) -> tuple[time, time]:
    return time.fromisoformat(str(window["start"])), time.fromisoformat(str(window["end"]))


@transaction.atomic
def cadence_import(text: str) -> tuple[Cadence, bool]:
    """Create or update the régua the document describes (by key); (cadence, created).

    Steps are matched by key: changed ones are edited in place (what that means for
    contacts already in the régua: docs/cadences.md §Editing), new ones are added and
    missing ones archived, so their history stays in the reports.
    """
    data = cadence_load(text)
    cadence, created = Cadence.objects.get_or_create(
        key=data["key"], defaults={"name": data["name"], "objective": data["objective"]}
    )
    cadence.name = data["name"]
    cadence.description = data.get("description", "")
    cadence.objective = data["objective"]
    cadence.priority = data.get("priority", 50)
    cadence.marketing = data.get("marketing", True)
    cadence.holdout_percent = data.get("holdout_percent", 0)
    cadence.reentry = data.get("reentry", Reentry.NEVER)
    cadence.conversion_days = data.get("conversion_days", 30)
    cadence.trigger = data["trigger"]
    cadence.audience = data.get("audience", [])
    cadence.exit_goal = data.get("exit") or {}
    cadence.goal = data.get("goal") or {}
    cadence.save()
    cadence_set_status(cadence, data.get("status", CadenceStatus.DRAFT))
    keep = []
    for position, spec in enumerate(data.get("steps", [])):
        step = cadence.steps.filter(key=spec["key"]).first() or Step(
            cadence=cadence, key=spec["key"]
        )
        step_apply(step, spec, position=position)
        keep.append(step.pk)
    cadence.steps.exclude(pk__in=keep).filter(archived_at__isnull=True).update(
        archived_at=timezone.now()
    )
    steps_reorder(cadence)
    return cadence, created


def steps_reorder(cadence: Cadence) -> None:
    """Positions follow the offsets: the ruler, the report and the preview read in time."""
    steps = list(cadence.steps.filter(archived_at__isnull=True))
    steps.sort(key=lambda s: (s.parsed_offset.approx_minutes, s.position, s.pk))
    for position, step in enumerate(steps):
        if step.position != position:
            Step.objects.filter(pk=step.pk).update(position=position)


def step_apply(step: Step, spec: dict[str, Any], *, position: int | None = None) -> None:
    """Write a validated step definition, keeping the promise to contacts already in it."""
    new_offset = str(Offset.parse(spec.get("offset", 0)))
    moved = step.pk is not None and new_offset != str(step.parsed_offset)
    step.name = spec.get("name", "")
    step.offset = new_offset
    window = spec.get("window")
    step.window_start, step.window_end = _window(window) if window else (None, None)
    step.channel = spec["channel"]
    step.for_dedicated = spec.get("for_dedicated", ForDedicated.TASK)
    step.condition = spec.get("condition", [])
    step.message = spec.get("message", {})
    step.task = spec.get("task", {})
    step.webhook = spec.get("webhook", {})
    step.archived_at = None
    if position is not None:
        step.position = position
    if moved:
        # Nobody already in the régua may skip the step because it moved earlier: look
        # again at every passage from the start, and send what is now overdue from now.
        step.scheduled_through = step.cadence.activated_at
        step.rescheduled_at = timezone.now()
    elif step.pk is None:
        step.scheduled_through = timezone.now()
    step.save()


def cadence_set_status(cadence: Cadence, status: str) -> None:
    """Activate, pause, resume or archive. Activation starts the watermarks at now."""
    now = timezone.now()
    if status == CadenceStatus.ACTIVE and cadence.activated_at is None:
        cadence.activated_at = now
        cadence.enrolled_through = now
        cadence.steps.update(scheduled_through=now)
    elif status == CadenceStatus.ACTIVE and cadence.status != CadenceStatus.ACTIVE:
        # Resuming (from paused or archived): what fired meanwhile enrolls nobody.
        cadence.enrolled_through = now
    cadence.status = status
    cadence.save(update_fields=["status", "activated_at", "enrolled_through", "updated_at"])
    if status == CadenceStatus.ARCHIVED:
        from .models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus

        Delivery.objects.filter(cadence=cadence, status=DeliveryStatus.SCHEDULED).update(
            status=DeliveryStatus.CANCELLED, reason="régua archived"
        )
        Enrollment.objects.filter(cadence=cadence, status=EnrollmentStatus.ACTIVE).update(
            status=EnrollmentStatus.EXITED, exited_at=now, exit_reason="archived"
        )
