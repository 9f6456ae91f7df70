"""The editor's forms. They build the same dictionaries the YAML format holds and check
them with the same functions, so the editor and `regua cadence import` agree."""

from typing import Any

import yaml
from django import forms
from django.utils.translation import gettext_lazy as _

from regua.agenda.models import TaskKind

from .models import Cadence, Channel, ForDedicated, Objective, Reentry, TriggerKind
from .rendering import LANGUAGES
from .yaml_io import check_step, validate


def _yaml_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono", "spellcheck": "false"}),
    )


def _parse_yaml(value: str, default: Any) -> Any:
    if not value.strip():
        return default
    try:
        return yaml.safe_load(value)
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        # ValueError: an integer of more than 4,300 digits; RecursionError: deep nesting.
        raise forms.ValidationError(_("Not valid YAML: %(error)s") % {"error": error}) from None


class CadenceForm(forms.Form):
    key = forms.SlugField(label=_("Key"), max_length=60)
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    objective = forms.ChoiceField(label=_("Objective"), choices=Objective.choices)
    priority = forms.IntegerField(
        label=_("Priority (0–100)"), min_value=0, max_value=100, initial=50
    )
    marketing = forms.BooleanField(
        label=_("Marketing (counts against the frequency cap)"), required=False, initial=True
    )
    holdout_percent = forms.IntegerField(label=_("Holdout %"), min_value=0, max_value=50, initial=0)
    reentry = forms.ChoiceField(label=_("Re-entry"), choices=Reentry.choices)
    conversion_days = forms.IntegerField(
        label=_("Conversion window (days)"), min_value=1, max_value=365, initial=30
    )
    trigger_kind = forms.ChoiceField(label=_("Entry trigger"), choices=TriggerKind.choices)
    trigger_event = forms.CharField(label=_("Event name"), required=False, max_length=64)
    trigger_where = _yaml_field(_("Event properties (YAML)"), _("e.g. {plan: pro}"))
    trigger_attribute = forms.ChoiceField(
        label=_("Date attribute"),
        required=False,
        choices=[("birth_date", _("Birth date")), ("created_at", _("Signup date"))],
    )
    trigger_hour = forms.IntegerField(
        label=_("Local hour"), required=False, min_value=0, max_value=23
    )
    trigger_days = forms.IntegerField(label=_("Days without activity"), required=False, min_value=1)
    trigger_events = forms.CharField(
        label=_("Events that count as activity"), required=False, help_text=_("Comma-separated.")
    )
    trigger_rule = forms.CharField(
        label=_("Calendar date"),
        required=False,
        help_text=_("mothers_day, fathers_day, customer_day, black_friday, christmas or MM-DD."),
    )
    audience_segment = forms.ChoiceField(
        label=_("Audience segment"),
        required=False,
        help_text=_("Only members of this segment enter; the conditions below narrow it further."),
    )
    audience = _yaml_field(
        _("Audience (YAML list of conditions)"), _("e.g. - {field: stage, op: eq, value: customer}")
    )
    exit = _yaml_field(_("Exit event (YAML)"), _("e.g. {event: purchase}"))
    goal = _yaml_field(
        _("Goal event (YAML)"), _("What counts as converted; the exit event when empty.")
    )

    def __init__(self, *args: Any, cadence: Cadence | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cadence = cadence
        if cadence is not None:
            self.fields["key"].disabled = True
        from regua.segments.models import Segment

        names = Segment.objects.values_list("name", flat=True)
        self.fields["audience_segment"].choices = [  # type: ignore[attr-defined]
            ("", _("Everyone")),
            *((name, name) for name in names),
        ]

    @staticmethod
    def initial_for(cadence: Cadence) -> dict[str, Any]:
        trigger = cadence.trigger

        def dump(value: Any) -> str:
            if not value:
                return ""
            return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True).strip()

        return {
            "key": cadence.key,
            "name": cadence.name,
            "description": cadence.description,
            "objective": cadence.objective,
            "priority": cadence.priority,
            "marketing": cadence.marketing,
            "holdout_percent": cadence.holdout_percent,
            "reentry": cadence.reentry,
            "conversion_days": cadence.conversion_days,
            "trigger_kind": trigger.get("kind", "manual"),
            "trigger_event": trigger.get("event", ""),
            "trigger_where": dump(trigger.get("where")),
            "trigger_attribute": trigger.get("attribute", "birth_date"),
            "trigger_hour": trigger.get("hour"),
            "trigger_days": trigger.get("days"),
            "trigger_events": ", ".join(trigger.get("events", [])),
            "trigger_rule": trigger.get("rule", ""),
            "audience_segment": _audience_segment(cadence.audience),
            "audience": yaml.safe_dump(
                _without_segment(cadence.audience), allow_unicode=True, sort_keys=False
            ).strip()
            if _without_segment(cadence.audience)
            else "",
            "exit": dump(cadence.exit_goal),
            "goal": dump(cadence.goal),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("trigger_kind", "manual")
        trigger: dict[str, Any] = {"kind": kind}
        try:
            if kind == "event":
                trigger["event"] = data.get("trigger_event", "")
                where = _parse_yaml(data.get("trigger_where", ""), {})
                if where:
                    trigger["where"] = where
            elif kind in {"date", "calendar"}:
                if kind == "date":
                    trigger["attribute"] = data.get("trigger_attribute") or "birth_date"
                else:
                    trigger["rule"] = data.get("trigger_rule", "")
                trigger["hour"] = (
                    data.get("trigger_hour") if data.get("trigger_hour") is not None else 9
                )
            elif kind == "inactivity":
                trigger["days"] = data.get("trigger_days")
                trigger["events"] = [
                    e.strip() for e in data.get("trigger_events", "").split(",") if e.strip()
                ]
            audience = _parse_yaml(data.get("audience", ""), [])
            if data.get("audience_segment") and isinstance(audience, list):
                segment = {"field": "segment", "op": "in", "value": [data["audience_segment"]]}
                audience = [segment, *_without_segment(audience)]
            exit_on = _parse_yaml(data.get("exit", ""), {})
            goal = _parse_yaml(data.get("goal", ""), {})
        except forms.ValidationError as error:
            raise forms.ValidationError(error.messages) from None
        document = {
            "key": self.cadence.key if self.cadence else data.get("key", ""),
            "name": data.get("name", ""),
            "objective": data.get("objective"),
            "priority": data.get("priority"),
            "holdout_percent": data.get("holdout_percent"),
            "reentry": data.get("reentry"),
            "conversion_days": data.get("conversion_days"),
            "trigger": trigger,
            "audience": audience,
            "exit": exit_on,
            "goal": goal,
            "steps": [],
        }
        problems = validate(document)
        if self.cadence is None and Cadence.objects.filter(key=document["key"]).exists():
            problems.append(str(_("key: a régua with this key exists")))
        if problems:
            raise forms.ValidationError(problems)
        data["document"] = document
        return data


def _audience_segment(audience: Any) -> str:
    """The segment the audience starts with (as the settings form writes it), if any."""
    if isinstance(audience, list) and audience:
        first = audience[0]
        if (
            isinstance(first, dict)
            and first.get("field") == "segment"
            and first.get("op") == "in"
            and isinstance(first.get("value"), list)
            and len(first["value"]) == 1
        ):
            return str(first["value"][0])
    return ""


def _without_segment(audience: Any) -> Any:
    return audience[1:] if _audience_segment(audience) else audience


class StepForm(forms.Form):
    key = forms.SlugField(label=_("Key"), max_length=60)
    name = forms.CharField(label=_("Name"), max_length=120, required=False)
    offset = forms.CharField(
        label=_("When (after entry)"), max_length=12, help_text=_("0, 30min, 2h, 15d or 3mo.")
    )
    window_start = forms.TimeField(label=_("Send from"), required=False)
    window_end = forms.TimeField(label=_("Send until"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    for_dedicated = forms.ChoiceField(
        label=_("For contacts in a dedicated segment"),
        choices=ForDedicated.choices,
        initial=ForDedicated.TASK,
        required=False,
        help_text=_(
            "E-mail, SMS and WhatsApp steps become a task for the contact's account manager, "
            "who sends the message personally, unless you choose to send the message."
        ),
    )
    condition = _yaml_field(_("Condition (YAML list)"), _("Checked when the step falls due."))
    task_kind = forms.ChoiceField(label=_("Task kind"), required=False, choices=TaskKind.choices)
    task_due_days = forms.IntegerField(
        label=_("Task due in (days)"), required=False, min_value=0, max_value=60
    )
    webhook_url = forms.URLField(label=_("Webhook address"), required=False, assume_scheme="https")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for language in LANGUAGES:
            self.fields[f"{language}_subject"] = forms.CharField(
                label=_("Subject / title (%(language)s)") % {"language": language},
                required=False,
                max_length=300,
            )
            self.fields[f"{language}_subject_b"] = forms.CharField(
                label=_("Subject B for the A/B test (%(language)s)") % {"language": language},
                required=False,
                max_length=300,
            )
            self.fields[f"{language}_body"] = forms.CharField(
                label=_("Text (%(language)s)") % {"language": language},
                required=False,
                widget=forms.Textarea(attrs={"rows": 10, "class": "mono"}),
            )

    @staticmethod
    def initial_for(step: Any) -> dict[str, Any]:
        initial = {
            "key": step.key,
            "name": step.name,
            "offset": step.offset,
            "window_start": step.window_start,
            "window_end": step.window_end,
            "channel": step.channel,
            "for_dedicated": step.for_dedicated,
            "condition": yaml.safe_dump(step.condition, allow_unicode=True, sort_keys=False).strip()
            if step.condition
            else "",
            "task_kind": (step.task or {}).get("kind", "call"),
            "task_due_days": (step.task or {}).get("due_days", 1),
            "webhook_url": (step.webhook or {}).get("url", ""),
        }
        for language, texts in (step.message or {}).items():
            for name, value in texts.items():
                initial[f"{language}_{name}"] = value
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        channel = data.get("channel")
        spec: dict[str, Any] = {
            "key": data.get("key", ""),
            "name": data.get("name", ""),
            "offset": data.get("offset", ""),
            "channel": channel,
        }
        if data.get("for_dedicated") == ForDedicated.MESSAGE:
            spec["for_dedicated"] = ForDedicated.MESSAGE
        if data.get("window_start") or data.get("window_end"):
            if not (data.get("window_start") and data.get("window_end")):
                raise forms.ValidationError(_("Give both ends of the send window, or neither."))
            spec["window"] = {
                "start": data["window_start"].strftime("%H:%M"),
                "end": data["window_end"].strftime("%H:%M"),
            }
        spec["condition"] = _parse_yaml(data.get("condition", ""), [])
        if channel != "webhook":
            message: dict[str, dict[str, str]] = {}
            for language in LANGUAGES:
                texts = {
                    name: data.get(f"{language}_{name}", "")
                    for name in ("subject", "subject_b", "body")
                    if data.get(f"{language}_{name}", "").strip()
                }
                if channel in {"sms", "whatsapp"}:
                    texts.pop("subject", None)
                    texts.pop("subject_b", None)
                if texts:
                    message[language] = texts
            spec["message"] = message
        if channel == "task":
            spec["task"] = {
                "kind": data.get("task_kind") or "call",
                "due_days": data.get("task_due_days") or 0,
            }
        if channel == "webhook":
            spec["webhook"] = {"url": data.get("webhook_url", "")}
        problems = check_step(spec)
        if problems:
            raise forms.ValidationError(problems)
        data["spec"] = spec
        return data


# A régua with every step in two languages is a few KB; the default ones are under 20 KB.
YAML_MAX_BYTES = 1024 * 1024


class YamlImportForm(forms.Form):
    document = forms.CharField(
        label=_("Régua as YAML"),
        strip=False,  # a literal block at the end keeps its final newline
        widget=forms.Textarea(attrs={"rows": 12, "class": "mono", "spellcheck": "false"}),
        required=False,
    )
    file = forms.FileField(label=_("or a .yaml file"), required=False)

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if upload is None:
            return upload
        if upload.size > YAML_MAX_BYTES:
            raise forms.ValidationError(
                _("A régua's YAML may have up to %(size)d KB.") % {"size": YAML_MAX_BYTES // 1024}
            )
        content = upload.read()
        upload.seek(0)
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("The file is not text in UTF-8.")) from None
        if b"\x00" in content:
            raise forms.ValidationError(_("The file is not text in UTF-8."))
        return upload

    def text(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload:
            return upload.read().decode("utf-8", errors="replace")
        return self.cleaned_data.get("document", "")
